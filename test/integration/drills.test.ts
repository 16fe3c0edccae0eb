import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { drillCardinality } from '../../drills/cardinality.js';
import { drillCluster } from '../../drills/cluster.js';
import type { DrillResult } from '../../drills/common.js';
import { drillFuzz } from '../../drills/fuzz.js';
import { drillKill9 } from '../../drills/kill9.js';
import { drillOutage } from '../../drills/outage.js';
import { HAVE_INFLUXD, NO_INFLUXD_MESSAGE } from '../helpers/influxd.js';
import { NATS_URL } from '../helpers/nats.js';
import { PG_URL } from '../helpers/postgres.js';
import { CLI } from '../helpers/service.js';

/**
 * Short versions of the reliability drills (`npm run drills`, drills/): the same drill functions with small
 * parameters, against the built service, a real influxd, SMTP and webhook receivers. The full drills run for
 * minutes; these keep `npm test` within a minute or so for each.
 */

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);
if (!HAVE_INFLUXD) console.warn(NO_INFLUXD_MESSAGE);

/** A figure's value by the start of its label. */
const figure = (r: DrillResult, label: string) => r.figures.find(([k]) => k.startsWith(label))?.[1];

describe.skipIf(!HAVE_INFLUXD)('reliability drills (short)', () => {
  it('kill -9 three times under load: nothing acknowledged lost, one incident, one opened page per channel', async () => {
    const r = await drillKill9({ kills: 3, upMs: [1000, 2000], sessions: 600, settleMs: 3000 });
    expect(r.failures).toEqual([]);
    expect(r.passed).toBe(true);
    expect(figure(r, '**lost**')).toBe('0');
    expect(Number(figure(r, 'samples acknowledged')?.replace(/,/g, ''))).toBeGreaterThan(1000);
    expect(figure(r, 'incidents in us-east')).toBe('1 / 0');
    expect(figure(r, 'timeline: opened / reopened')).toBe('1 / 0 / 0');
    expect(figure(r, 'opened page to alice by email')).toBe('1 / 1');
    expect(figure(r, 'opened page to alice on ops-hook')).toMatch(/ \/ 1 \/ 1$/); // one key, delivered once
  }, 120_000);

  it('InfluxDB stopped for 5 s under load: the spool takes the windows and replays them, nothing lost', async () => {
    const r = await drillOutage({ outageMs: 5000, sessions: 600, warmMs: 2000, afterMs: 2000 });
    expect(r.failures).toEqual([]);
    expect(r.passed).toBe(true);
    expect(figure(r, '**lost**')).toBe('0');
    expect(Number(figure(r, 'samples acknowledged while InfluxDB was down')?.replace(/,/g, ''))).toBeGreaterThan(500);
    // ready throughout; "spooling" once the shipper's first write has failed
    expect(figure(r, '/readyz during the outage')).toMatch(/200 spooling: \d+/);
    expect(figure(r, '/readyz during the outage')).not.toMatch(/\b(?!200)\d{3} /);
  }, 120_000);

  it('2 k fuzzed bodies and frames: no 5xx, every rejection a JSON 4xx, the service stays up, accepted samples stored', async () => {
    const r = await drillFuzz({ cases: 2000, lorisConnections: 4, lorisMs: 1000, saturate: false });
    expect(r.failures).toEqual([]);
    expect(figure(r, 'HTTP statuses')).not.toMatch(/\b5\d\d:/);
    expect(figure(r, '**lost**')).toBe('0');
  }, 120_000);

  it('the cardinality product (500 regions × 100 values in every dimension, 1 h sessions) against a 512 MB heap: the service stays up, hostile tenants within budget, the honest one intact', async () => {
    const r = await drillCardinality({ attackers: 1, rounds: 1, sessions: 600, settleMs: 3000 });
    expect(r.failures).toEqual([]);
    expect(figure(r, 'service alive after the attack')).toBe('yes / yes');
    expect(figure(r, '**lost**')).toBe('0');
    expect(Number(figure(r, 'samples acknowledged')?.replace(/,/g, ''))).toBeGreaterThan(500);
  }, 180_000);

  it.runIf(PG_URL && NATS_URL)('a cluster of 3 under load: kill -9 the storm\'s owner, the leader and a node, pause an owner, cut PostgreSQL, stop InfluxDB — nothing lost, one incident, one page, the zombie fenced off', async () => {
    const r = await drillCluster({ sessions: 600, gapMs: 3000, influxOutageMs: 3000 });
    expect(r.failures).toEqual([]);
    expect(figure(r, '**lost**')).toBe('0');
    expect(Number(figure(r, 'samples acknowledged')?.replace(/,/g, ''))).toBeGreaterThan(1000);
    expect(figure(r, 'incidents in us-east')).toBe('1 / 0');
    expect(figure(r, 'opened page to alice by email')).toBe('1 / 1');
    expect(Number(figure(r, 'stale writes refused by the fence'))).toBeGreaterThan(0);
    expect(figure(r, 'partitions at the end')).toBe('8 of 8 / 8');
  }, 180_000);
});

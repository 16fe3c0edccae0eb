import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Fault } from '../../src/simulator/faults.js';
import { type RunEvent, type RunOptions, SendError, runSimulation } from '../../src/simulator/send.js';
import { incidents, writeRules } from '../helpers/alerting.js';
import { INGEST_KEY, appsClosedAfterEach } from '../helpers/app.js';
import { metricValue, metricsText } from '../helpers/metrics.js';
import { waitFor } from '../helpers/ports.js';
import { CLI, runCli } from '../helpers/service.js';

/**
 * The simulator against the real app on loopback (1 s aggregation windows, a stall rule firing at once): it sends
 * over HTTP and over a WebSocket, its faults open incidents in the right region, and every sample it sent is
 * accepted — counted on both sides. Rate limits are honoured (429 Retry-After, WebSocket retry_after_ms).
 */

const start = appsClosedAfterEach();

/** Region stall ratio above 10 % fires P1 at once, over a 3 s window. */
const rulesDir = () =>
  writeRules([{ id: 'stall-ratio', description: 'stall ratio', metric: 'stall_ratio', window: '3s', thresholds: { P1: '> 0.1' }, for: '0s', clear_for: '1m', min_sessions: 5 }]);

const APP_ENV = { QOSWATCH_WINDOW: '1s', QOSWATCH_LOG_LEVEL: 'warn' };

function options(url: string, over: Partial<RunOptions>): RunOptions {
  return {
    url, targets: [{ tenant: 'default', key: INGEST_KEY }], transport: 'http', rate: undefined, batch: 100, durationMs: 4000, speed: 1, intervalMs: 1000,
    seed: 11, sessions: 150, regions: ['eu-west', 'us-east'], diurnal: { peakHour: 21, trough: 1 }, faults: [], ...over,
  };
}

const accepted = async (url: string, transport: 'http' | 'ws') => metricValue(await metricsText(url), `qoswatch_samples_accepted_total{transport="${transport}"}`) ?? 0;

describe('simulate against the service', () => {
  for (const transport of ['http', 'ws'] as const) {
    it(`over ${transport}: a stall storm opens an incident in its region only, and the service accepted exactly what was sent`, async () => {
      const app = await start({ env: { ...APP_ENV, QOSWATCH_RULES_DIR: rulesDir() } });
      // the storm is in us-east over HTTP and in eu-west over the WebSocket: the region is the fault's, not a constant
      const region = transport === 'http' ? 'us-east' : 'eu-west';
      const other = transport === 'http' ? 'eu-west' : 'us-east';
      const faults: Fault[] = [{ kind: 'stall_storm', cdn: 'cdn-a', region, ratio: 0.6, at: 1000, for: 60_000 }];
      const seen: RunEvent[] = [];
      const summary = await runSimulation(options(app.url, { transport, faults, durationMs: 2500, onEvent: (e) => seen.push(e) }));

      expect(summary.sent).toBeGreaterThan(400);
      expect(summary).toMatchObject({ accepted: summary.sent, rejected: 0, failed: 0, retried: 0, firstRejection: undefined });
      expect(summary.generated).toBe(summary.sent);
      expect(await accepted(app.url, transport), 'the service counted the same samples').toBe(summary.sent);
      expect(await accepted(app.url, transport === 'http' ? 'ws' : 'http')).toBe(0);

      const opened = await waitFor(`an incident in ${region}`, async () => (await incidents(app.url)).find((i) => i.region === region));
      expect(opened).toMatchObject({ priority: 'P1', tenant: 'default' });
      // the other region's telemetry is healthy: no incident there
      expect((await incidents(app.url)).filter((i) => i.region === other), `no incident in ${other}`).toEqual([]);
      // it opened after the fault started, and the run reported the fault's start when it happened
      const started = seen.find((e) => e.type === 'fault' && e.event.type === 'start');
      expect(started).toBeDefined();
      expect(started!.wallMs - summary.startedAt).toBeGreaterThanOrEqual(990);
      expect(started!.wallMs - summary.startedAt).toBeLessThan(1500);
      expect(Date.parse(opened.opened_at)).toBeGreaterThan(started!.wallMs);
      expect(summary.faults.map((f) => f.event.type)).toEqual(['start']); // its end is after the run
    });
  }

  for (const transport of ['http', 'ws'] as const) {
    it(`over ${transport}: a rate-limited key gets its batches through by waiting as told (nothing lost, nothing doubled)`, async () => {
      const app = await start({ env: { ...APP_ENV, QOSWATCH_RATE_LIMIT: '8/1s' } });
      // ~110 samples a second in batches of 8: ~14 requests a second against a limit of 8
      const summary = await runSimulation(options(app.url, { transport, batch: 8, durationMs: 1000, sessions: 100 }));
      expect(summary.retried).toBeGreaterThan(0);
      expect(summary).toMatchObject({ accepted: summary.sent, rejected: 0, failed: 0 });
      expect(await accepted(app.url, transport)).toBe(summary.sent);
      const refused = metricValue(await metricsText(app.url), `qoswatch_requests_refused_total{transport="${transport}",reason="rate_limited"}`);
      expect(refused).toBeGreaterThan(0);
    });
  }

  it('pacing: --rate caps the samples per second', async () => {
    const app = await start({ env: APP_ENV });
    // beacons every 500 ms from ~150 sessions and their nodes: ~340 samples/s, held to 200/s (after a 200 burst)
    const summary = await runSimulation(options(app.url, { rate: 200, batch: 50, intervalMs: 500, durationMs: 1500, sessions: 150 }));
    expect(summary.accepted).toBe(summary.sent);
    expect(summary.sent).toBeGreaterThan(600);
    const secs = summary.elapsedMs / 1000;
    expect(summary.sent).toBeLessThanOrEqual(200 + 200 * secs + 50);
    expect(secs).toBeGreaterThan((summary.sent - 200 - 50) / 200);
  });

  for (const transport of ['http', 'ws'] as const) {
    it(`over ${transport}: an unknown key ends the run with an error`, async () => {
      const app = await start({ env: APP_ENV });
      const run = runSimulation(options(app.url, { transport, targets: [{ tenant: 'x', key: 'not-a-key-0123456789' }], durationMs: 3000 }));
      await expect(run).rejects.toBeInstanceOf(SendError);
      await expect(run).rejects.toThrow(transport === 'http' ? /refused the ingest key \(401\)/ : /1008/);
    });
  }
});

describe('qoswatch simulate (the built CLI)', () => {
  it('prints each fault`s start and end with the wall-clock time and a summary; exit 0 when everything was accepted', async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);
    const app = await start({ env: APP_ENV });
    const before = Date.now();
    const r = await runCli(
      ['simulate', '--url', app.url, '--sessions', '100', '--interval', '1s', '--duration', '1500ms', '--regions', 'eu-west,cn-east', '--fault', 'outage:region=cn-east,at=500ms,for=1s'],
      { QOSWATCH_INGEST_KEY: INGEST_KEY },
    );
    expect(r.output).toMatch(/simulate → http:\/\/127\.0\.0\.1:\d+ over http: 1 tenant\(s\), regions eu-west,cn-east/);
    const began = /^(\S+) {2}\+0:01 {2}fault start {2}#1 outage region=cn-east \(no telemetry\) for 1s$/m.exec(r.output);
    const end = /^(\S+) {2}\+0:02 {2}fault end {4}#1 outage region=cn-east/m.exec(r.output);
    expect(began, r.output).not.toBeNull();
    expect(end, r.output).not.toBeNull();
    expect(Date.parse(began![1]!)).toBeGreaterThan(before);
    expect(Date.parse(end![1]!) - Date.parse(began![1]!)).toBeGreaterThanOrEqual(990);
    const summary = /summary: (\d+) samples sent in \d+ requests? over [\d.]+s — accepted (\d+), rejected 0, retried 0, failed 0/.exec(r.output);
    expect(summary, r.output).not.toBeNull();
    expect(summary![2]).toBe(summary![1]);
    expect(await accepted(app.url, 'http')).toBe(Number(summary![1]));
    expect(r.code).toBe(0);
  });

  it('bad options: exit 2 naming the option; a refused key: exit 1', async () => {
    const bad = await runCli(['simulate', '--transport', 'carrier-pigeon'], { QOSWATCH_INGEST_KEY: INGEST_KEY });
    expect(bad).toMatchObject({ code: 2 });
    expect(bad.output).toContain('qoswatch simulate: --transport: must be http or ws, got "carrier-pigeon"');
    const app = await start({ env: APP_ENV });
    const refused = await runCli(['simulate', '--url', app.url, '--duration', '2s', '--key', 'not-a-key-0123456789'], {});
    expect(refused.code).toBe(1);
    expect(refused.output).toContain('the service refused the ingest key (401)');
  });
});

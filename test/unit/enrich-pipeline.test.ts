import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DerivedDims } from '../../src/geoip/records.js';
import { openIngestDb } from '../../src/storage/ingest-db.js';
import { openLocalIngestLog } from '../../src/storage/ingest-log/local.js';
import { Quarantine } from '../../src/storage/ingest-log/quarantine.js';
import { replayLog } from '../../src/storage/ingest-log/replay.js';
import { requeue } from '../../src/storage/journal-cli.js';
import { type PipelineHarness, harnessesClosedAfterEach, parseLine } from '../helpers/pipeline.js';

const T0 = 1_800_000_000_000; // aligned to 10 s
const W = 10_000;

const harness = harnessesClosedAfterEach(T0);

/** A stand-in for the GeoIP lookup: two known client addresses (names without spaces: parseLine reads no escapes). */
const lookup = (table: Record<string, DerivedDims>) => (ip: string) => table[ip];
const GEO = lookup({ '192.0.2.10': { isp: 'ExampleTelecom', country: 'DE' }, '198.51.100.20': { isp: 'BeispielBroadband', country: 'JP' } });

type Pipeline = ReturnType<PipelineHarness['open']>;
const ingest = (p: Pipeline, samples: Record<string, unknown>[], client: string | undefined) => {
  const body = JSON.stringify({ samples });
  return p.ingest('t', Buffer.from(body), JSON.parse(body).samples, 'http', client);
};
const viewer = (ts: number, over: Record<string, unknown> = {}) => ({ ts, region: 'eu', session: `s${ts}`, latency_ms: 50, ...over });

/** The stored dimension points after the window at T0 closes: "dim=value" → samples. */
function dimCounts(h: PipelineHarness, p: Pipeline): Record<string, number> {
  h.now = T0 + W + 15_000;
  p.tick(h.now);
  const out: Record<string, number> = {};
  for (const l of h.spoolLines().map(parseLine)) if (l.measurement === 'qos_dim') out[`${l.tags.dim}=${l.tags.value}`] = l.fields.samples!;
  return out;
}

describe('enrichment in the ingest pipeline', () => {
  it('fills isp and country a viewer sample lacks; its own values win; node reporters and unknown clients get none', async () => {
    const h = harness();
    const p = h.open({}, undefined, GEO);
    await ingest(p, [viewer(T0 + 1), viewer(T0 + 2, { dims: { country: 'FR' } }), { ts: T0 + 3, region: 'eu', node: 'edge-1', concurrency: 5 }], '192.0.2.10');
    await ingest(p, [viewer(T0 + 4)], '203.0.113.1');
    await ingest(p, [viewer(T0 + 5)], undefined);
    expect(dimCounts(h, p)).toEqual({ 'isp=ExampleTelecom': 2, 'country=DE': 1, 'country=FR': 1 });
    const lookups = (await h.metrics.geoipLookups.get()).values.map((v) => [v.labels.result, v.value]);
    expect(Object.fromEntries(lookups)).toEqual({ found: 1, not_found: 1, no_address: 1 });
  });

  it('a replay after a crash applies the dims derived at ingest, whatever the lookup says by then', async () => {
    const h = harness();
    let p = h.open({}, undefined, GEO);
    await ingest(p, [viewer(T0 + 1), viewer(T0 + 2)], '192.0.2.10');
    await ingest(p, [viewer(T0 + 3)], '198.51.100.20');
    await ingest(p, [viewer(T0 + 4)], '203.0.113.1');
    h.closeAll(); // kill -9: the window exists only in the journal
    // After the restart the databases say otherwise (updated, or gone): the journal decides.
    p = h.open({}, undefined, lookup({ '192.0.2.10': { isp: 'Renamed', country: 'US' } }));
    expect(dimCounts(h, p)).toEqual({ 'isp=ExampleTelecom': 2, 'country=DE': 2, 'isp=BeispielBroadband': 1, 'country=JP': 1 });
  });

  it('derived values pass the same cardinality caps as sent ones', async () => {
    const h = harness();
    const p = h.open({ capOf: (dim) => (dim === 'isp' ? 1 : 100) }, undefined, GEO);
    await ingest(p, [viewer(T0 + 1)], '192.0.2.10');
    await ingest(p, [viewer(T0 + 2)], '198.51.100.20');
    await ingest(p, [viewer(T0 + 3, { dims: { isp: 'SentByHand' } })], undefined);
    expect(dimCounts(h, p)).toEqual({ 'isp=ExampleTelecom': 1, 'isp=other': 2, 'country=DE': 1, 'country=JP': 1 });
  });

  it('journals the derived dims beside the raw body, which stays as received', async () => {
    const h = harness();
    const p = h.open({}, undefined, GEO);
    await ingest(p, [viewer(T0 + 1)], '192.0.2.10');
    await ingest(p, [viewer(T0 + 2)], '203.0.113.1');
    const rows = [...p.journal.read(0)];
    expect(rows.map((r) => r.dims)).toEqual([JSON.stringify({ isp: 'ExampleTelecom', country: 'DE' }), null]);
    expect(JSON.parse(rows[0]!.body.toString()).samples[0].dims).toBeUndefined();
  });
});

describe('journaled dims in quarantine', () => {
  it('a quarantined row keeps its dims, and requeued, is replayed with them', async () => {
    const h = harness();
    const p = h.open({}, undefined, GEO);
    await ingest(p, [viewer(T0 + 1)], '192.0.2.10');
    h.closeAll();
    const db = openIngestDb(join(h.dir, 'ingest.db'));
    const log = openLocalIngestLog(h.logDir, db);
    try {
      const quarantine = new Quarantine(db);
      replayLog(log, quarantine, () => {
        throw new Error('boom');
      }, T0);
      expect(db.prepare('SELECT dims FROM journal_quarantine').all()).toEqual([{ dims: JSON.stringify({ isp: 'ExampleTelecom', country: 'DE' }) }]);
      expect(requeue(quarantine, log, 1)).toBe(2);
    } finally {
      log.close();
      db.close();
    }
    const again = h.open({}, undefined, undefined);
    expect(dimCounts(h, again)).toEqual({ 'isp=ExampleTelecom': 1, 'country=DE': 1 });
  });
});

import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { SERVICE } from '../../src/storage/spool.js';
import { DIMENSIONS } from '../../src/shared/labels.js';
import { mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PipelineHarness, harnessesClosedAfterEach, influxState, parseLine, windowTotals } from '../helpers/pipeline.js';

const T0 = 1_800_000_000_000; // aligned to 10 s
const W = 10_000;
const MIN = 60_000;
const body = (samples: unknown[]) => JSON.stringify({ samples });
const s = (ts: number, over: Record<string, unknown> = {}) => ({ ts, region: 'eu', session: `s${ts}`, play_ms: 9000, stall_ms: 1000, stall_count: 1, ...over });

const harness = harnessesClosedAfterEach(T0);

/** The journal's segment files. */
const segments = (h: PipelineHarness) => readdirSync(h.logDir).sort();

async function ingest(p: ReturnType<PipelineHarness['open']>, samples: Record<string, unknown>[], tenant = 't') {
  return p.ingest(tenant, Buffer.from(body(samples)), JSON.parse(body(samples)).samples, 'http', undefined);
}

describe('IngestPipeline', () => {
  it('writes a window once its grace has passed, one point per series', async () => {
    const h = harness();
    const p = h.open();
    await ingest(p, [s(T0 + 1000, { dims: { isp: 'x' } }), s(T0 + 2000)]);
    h.now = T0 + W + 14_999;
    p.tick(h.now);
    expect(h.spoolLines()).toEqual([]);
    h.now = T0 + W + 15_000;
    p.tick(h.now);
    const lines = h.spoolLines().map(parseLine);
    expect(lines.map((l) => l.measurement).sort()).toEqual(['qos_dim', 'qos_region']);
    const region = lines.find((l) => l.measurement === 'qos_region')!;
    expect(region.tags).toEqual({ region: 'eu', tenant: 't' });
    expect(region.time).toBe(BigInt(T0) * 1_000_000n);
    expect(region.fields.samples).toBe(2);
    expect(region.fields.stall_ratio).toBeCloseTo(0.1);
    expect(lines.find((l) => l.measurement === 'qos_dim')!.tags).toEqual({ dim: 'isp', region: 'eu', tenant: 't', value: 'x' });
    p.tick(h.now + 1000);
    expect(h.spoolLines()).toHaveLength(2);
  });

  it('keeps an open window across a crash: the journal is replayed at start', async () => {
    const h = harness();
    let p = h.open();
    await ingest(p, [s(T0 + 1000), s(T0 + 2000)]);
    h.closeAll(); // kill -9: nothing flushed, nothing shut down
    h.now = T0 + 5000;
    p = h.open();
    await ingest(p, [s(T0 + 3000)]);
    h.now = T0 + W + 15_000;
    p.tick(h.now);
    const region = h.spoolLines().map(parseLine).find((l) => l.measurement === 'qos_region')!;
    expect(region.fields.samples).toBe(3);
    expect(region.tags.late).toBeUndefined();
  });

  it('after a long outage, windows open at the crash are stored as ordinary windows', async () => {
    const h = harness();
    let p = h.open();
    await ingest(p, [s(T0 + 1000), s(T0 + 2000)]);
    p.tick(T0 + 5000);
    h.closeAll();
    h.now = T0 + 3_600_000; // back an hour later
    p = h.open();
    p.tick(h.now);
    const lines = h.spoolLines().map(parseLine).filter((l) => l.fields.samples! > 0);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.tags.late).toBeUndefined();
    expect(lines[0]!.fields.samples).toBe(2);
  });

  it('does not write a stored window again after a crash, and deletes the journal segment', async () => {
    const h = harness();
    let p = h.open();
    await ingest(p, [s(T0 + 1000)]);
    expect(segments(h)).toEqual([`w${T0 / W}.log`]);
    h.now = T0 + W + 15_000;
    p.tick(h.now);
    expect(h.spoolLines()).toHaveLength(1);
    expect(segments(h)).toEqual([]);
    h.closeAll();
    p = h.open();
    p.tick(h.now + 60_000);
    expect(h.spoolLines()).toHaveLength(1);
  });

  it('a segment the checkpoint covers but a crash left undeleted is replayed as covered, not stored again, and deleted at the next tick', async () => {
    const h = harness();
    let p = h.open();
    await ingest(p, [s(T0 + 1000)]);
    const seg = join(h.logDir, `w${T0 / W}.log`);
    const kept = readFileSync(seg);
    h.now = T0 + W + 15_000;
    p.tick(h.now);
    expect(segments(h)).toEqual([]);
    h.closeAll();
    writeFileSync(seg, kept); // the crash came between the checkpoint's commit and the unlink
    p = h.open();
    expect(p.store.liveness.sessionCount).toBe(1); // covered: it only restores who is live
    p.tick(h.now + 1000);
    expect(h.spoolLines().map(parseLine).filter((l) => l.fields.samples! > 0)).toHaveLength(1);
    expect(segments(h)).toEqual([]);
  });

  it('keeps a journal record until the last window it touches is stored', async () => {
    const h = harness();
    const p = h.open();
    await ingest(p, [s(T0 + 1000), s(T0 + 4 * 60_000)]); // one sample 4 min ahead (clock skew is allowed up to 5 min)
    await ingest(p, [s(T0 + 2000)]);
    expect(segments(h)).toEqual([`w${T0 / W}.log`, `w${(T0 + 4 * 60_000) / W}.log`]);
    h.now = T0 + W + 15_000;
    p.tick(h.now);
    expect(segments(h)).toEqual([`w${(T0 + 4 * 60_000) / W}.log`]);
    h.now = T0 + 4 * 60_000 + W + 15_000;
    p.tick(h.now);
    expect(segments(h)).toEqual([]);
    // (plus windows holding only the viewers gauge, samples=0)
    expect(h.spoolLines().map(parseLine).map((l) => l.fields.samples).filter((n) => n! > 0)).toEqual([2, 1]);
  });

  it('is not ready while the journal cannot be written (the batch refused), and ready again once it can', async () => {
    const h = harness();
    const p = h.open();
    const blocker = join(h.logDir, `w${T0 / W}.log`); // a directory where the window's segment file would go
    mkdirSync(blocker);
    await expect(ingest(p, [s(T0 + 1000)])).rejects.toThrow(/EISDIR/);
    expect(p.readiness()).toMatchObject({ ready: false, detail: expect.stringContaining('cannot write the journal') });
    rmdirSync(blocker);
    expect(await ingest(p, [s(T0 + 1000)])).toMatchObject({ accepted: 1 });
    expect(p.readiness().ready).toBe(true);
  });

  it('rewrites a closed window inside the horizon with its full content (same point identity)', async () => {
    const h = harness();
    const p = h.open();
    await ingest(p, [s(T0 + 1000)]);
    h.now = T0 + W + 15_000;
    p.tick(h.now);
    await ingest(p, [s(T0 + 2000, { stall_ms: 3000, play_ms: 7000 })]);
    p.tick(h.now + 1000);
    const lines = h.spoolLines().map(parseLine);
    expect(lines).toHaveLength(2);
    expect(lines[0]!.identity).toBe(lines[1]!.identity);
    expect(lines[1]!.fields.samples).toBe(2);
    expect(lines[1]!.fields.stall_ratio).toBeCloseTo(4000 / 20_000);
  });

  it('stores samples older than the horizon as late points that add to their window', async () => {
    const h = harness(T0 + 10 * 60_000);
    const p = h.open({ horizonMs: 60_000 });
    await ingest(p, [s(T0 + 1000), s(T0 + 1500)]);
    p.tick(h.now);
    await ingest(p, [s(T0 + 2000)]);
    p.tick(h.now + 1000);
    const lines = h.spoolLines().map(parseLine);
    expect(lines).toHaveLength(2);
    for (const l of lines) {
      expect(l.tags.late).toBe('true');
      expect(l.time / 10_000_000_000n).toBe(BigInt(T0) / 10_000n);
    }
    expect(lines[0]!.identity).not.toBe(lines[1]!.identity);
    const totals = windowTotals(influxState(h.spoolLines()), 'samples', W);
    expect([...totals.values()]).toEqual([3]);
    expect((await h.metrics.samplesAggregated.get()).values.map((v) => [v.labels.path, v.value])).toEqual([['open', 0], ['retained', 0], ['late', 3]]);
  });

  /** Raw sample points in the spool: for each point identity (measurement, tags, ns), the sessions written to it. */
  function rawIdentities(h: PipelineHarness): Map<string, Set<string>> {
    const out = new Map<string, Set<string>>();
    for (const l of h.spoolLines()) {
      if (!l.startsWith('qos_sample,')) continue;
      const id = parseLine(l).identity;
      if (!out.has(id)) out.set(id, new Set());
      out.get(id)!.add(/session="([^"]+)"/.exec(l)![1]!);
    }
    return out;
  }

  it('raw samples: every accepted sample is its own point, however many batches share a ts and tags (aligned timestamps)', async () => {
    const h = harness();
    const p = h.open({ rawSamples: true });
    // Every SDK stamps the interval start. Journal row 1's sample and row 123's sample 576 had the same sub-ms id
    // under seq·8192 + index mod 10^6 (122·8192 + 576 = 10^6).
    await ingest(p, [s(T0, { session: 'first' })]);
    for (let i = 0; i < 121; i++) await ingest(p, [s(T0, { session: `mid${i}` })]);
    await ingest(p, Array.from({ length: 577 }, (_, i) => s(T0, { session: `last${i}` })));
    p.tick(T0 + 1000);
    const ids = rawIdentities(h);
    expect([...ids.values()].filter((sessions) => sessions.size > 1)).toEqual([]);
    expect(ids.size).toBe(1 + 121 + 577);
  });

  it('raw samples: a replay rewrites the same points; late samples, also after a restart, get points of their own', async () => {
    const h = harness();
    let p = h.open({ rawSamples: true });
    const at = T0 + 1000;
    await ingest(p, [s(at, { session: 'a' }), s(at, { session: 'b' })]);
    p.tick(T0 + 2000); // their raw points are committed; the window is still open
    await ingest(p, [s(at, { session: 'c' })]);
    h.closeAll(); // kill -9 before the next tick
    p = h.open({ rawSamples: true });
    p.tick(T0 + 3000);
    const before = h.spoolLines().filter((l) => l.startsWith('qos_sample,'));
    expect(before).toHaveLength(5); // a, b, then a, b, c replayed
    expect(new Set(before).size).toBe(3); // the replayed lines are the same points, byte for byte
    // The window is stored and released; samples for the same ms now arrive late, before and after restarts.
    h.now = T0 + 10 * 60_000;
    p.tick(h.now);
    await ingest(p, [s(at, { session: 'd' })]);
    p.tick(h.now + 1000);
    h.closeAll();
    p = h.open({ rawSamples: true });
    await ingest(p, [s(at, { session: 'e' }), s(at, { session: 'f' })]);
    p.tick(h.now + 2000);
    await ingest(p, [s(at, { session: 'g' })]);
    h.closeAll(); // g is replayed by the next start
    p = h.open({ rawSamples: true });
    await ingest(p, [s(at, { session: 'h' })]);
    p.tick(h.now + 3000);
    const ids = rawIdentities(h);
    expect([...ids.values()].filter((sessions) => sessions.size > 1)).toEqual([]);
    expect([...ids.values()].map((v) => [...v][0]).sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
  });

  it('drops the oldest points when the spool is full, counts them and warns once a minute', async () => {
    const h = harness();
    const p = h.open({ spoolMaxBytes: 600 });
    for (let i = 0; i < 6; i++) {
      await ingest(p, [s(h.now, { region: `r${i}` })]);
      h.now += W;
      p.tick(h.now + 15_000);
    }
    const dropped = (await h.metrics.spoolDropped.get()).values[0]?.value ?? 0;
    expect(dropped).toBeGreaterThan(0);
    expect(p.spool.depth.bytes).toBeLessThanOrEqual(600);
    const warnings = h.logs.filter((l) => l.msg.startsWith('spool full'));
    expect(warnings).toHaveLength(1); // all within one minute of each other
    expect(warnings[0]).toMatchObject({ dropped: expect.any(Number) });
    h.now += 61_000;
    await ingest(p, [s(h.now, { region: 'late-comer' })]);
    p.tick(h.now + W + 15_000);
    expect(h.logs.filter((l) => l.msg.startsWith('spool full'))).toHaveLength(2);
  });

  it('a full spool drops the flooding tenant\'s points, never the honest tenant\'s', async () => {
    const h = harness();
    const p = h.open({ spoolMaxBytes: 64 * 1024, batchLines: 50 });
    // per window: the honest tenant's one sample; a flood of 60 regions × 5 values in every dimension
    const flood = (ts: number) => Array.from({ length: 300 }, (_, i) => s(ts, { region: `r${i % 60}`, dims: Object.fromEntries(DIMENSIONS.map((d) => [d, `${d}${Math.floor(i / 60)}`])) }));
    for (let k = 0; k < 8; k++) {
      const ts = T0 + k * W + 1000;
      await ingest(p, [s(ts, { dims: { isp: 'a' } })], 'acme');
      await ingest(p, flood(ts), 'evil');
      p.tick(T0 + k * W + W + 15_000);
    }
    const lines = h.spoolLines().map(parseLine);
    expect(lines.filter((l) => l.tags.tenant === 'acme')).toHaveLength(16); // 8 windows × (region + isp)
    expect(p.spool.depth.bytes).toBeLessThanOrEqual(64 * 1024);
    const dropped = Object.fromEntries((await h.metrics.tenantSpoolDropped.get()).values.map((v) => [v.labels.tenant, v.value]));
    expect(dropped).toEqual({ evil: expect.any(Number) });
    expect(dropped.evil).toBeGreaterThan(0);
  });

  it('a dimension value not seen for QOSWATCH_DIM_TTL releases its place under the cap, kept across restarts, so the cap takes new values again', async () => {
    const h = harness();
    const opts = { capOf: () => 2, dimTtlMs: 60 * MIN };
    let p = h.open(opts);
    const isp = (ts: number, value: string) => s(ts, { dims: { isp: value } });
    /** The isp values of the qos_dim points of the window holding `ts`. */
    const ispsAt = (ts: number) => {
      const from = BigInt(Math.floor(ts / W) * W) * 1_000_000n;
      return h.spoolLines().map(parseLine).filter((l) => l.measurement === 'qos_dim' && l.time >= from).map((l) => l.tags.value).sort();
    };
    await ingest(p, [isp(h.now, 'a'), isp(h.now, 'b'), isp(h.now, 'c')]);
    p.tick(h.now + W + 15_000);
    expect(ispsAt(h.now)).toEqual(['a', 'b', 'other']);
    h.closeAll();
    h.now = T0 + 30 * MIN;
    p = h.open(opts);
    await ingest(p, [isp(h.now, 'a')]); // a is seen again; b is not
    p.tick(h.now);
    h.now = T0 + 61 * MIN;
    p.tick(h.now);
    await ingest(p, [isp(h.now, 'c')]);
    p.tick(h.now + W + 15_000);
    expect(ispsAt(h.now)).toEqual(['c']);
    // Every dimension's counter starts at 0 (absent() works); only isp released one.
    expect((await h.metrics.dimReleased.get()).values.filter((v) => v.value > 0)).toEqual([expect.objectContaining({ labels: { dim: 'isp' }, value: 1 })]);
    // across a restart the admitted values are a and c, with a's sighting at +30 min kept (else, first seen at +0,
    // it would be released by now): d folds
    h.closeAll();
    h.now = T0 + 80 * MIN;
    p = h.open(opts);
    h.now += MIN;
    p.tick(h.now);
    await ingest(p, [isp(h.now, 'd'), isp(h.now, 'a')]);
    p.tick(h.now + W + 15_000);
    expect(ispsAt(h.now)).toEqual(['a', 'other']);
  });

  it('spools the points outbox as the service\'s with the next tick; a failed commit keeps them for the one after', async () => {
    const h = harness();
    const p = h.open();
    h.points.enqueue(['incident_events,tenant=t kind="opened" 1']);
    const commit = vi.spyOn(p.spool, 'commit').mockImplementationOnce(() => {
      throw new Error('disk full');
    });
    p.tick(h.now);
    expect(h.spoolLines()).toEqual([]);
    expect(p.readiness()).toMatchObject({ ready: false, detail: 'cannot commit points to the spool' });
    h.points.enqueue(['sla_breach,tenant=t target="ack" 2']);
    p.tick(h.now + 1000);
    expect(commit).toHaveBeenCalledTimes(2);
    expect(h.spoolLines()).toEqual(['incident_events,tenant=t kind="opened" 1', 'sla_breach,tenant=t target="ack" 2']);
    expect(p.spool.byOwner().get(SERVICE)).toMatchObject({ lines: 2 });
    expect(p.readiness().ready).toBe(true);
  });

  it('graceful shutdown writes the window that holds now', async () => {
    const h = harness(T0 + 3000);
    const p = h.open();
    await ingest(p, [s(T0 + 1000)]);
    await p.shutdown(0);
    expect(h.spoolLines().map(parseLine).map((l) => l.fields.samples)).toEqual([1]);
  });

  it('never loses nor double-counts a sample across random crashes, and gives each its own raw point (property)', async () => {
    type Step = { advance: number; action: 'batch' | 'tick' | 'crash'; ages: number[]; regions: number[]; isps: number[]; aligned: boolean };
    const step = fc.record({
      aligned: fc.boolean(), // stamped with the window start, as many SDKs do
      advance: fc.integer({ min: 0, max: 9000 }),
      action: fc.constantFrom('batch', 'batch', 'batch', 'tick', 'crash'),
      ages: fc.array(fc.integer({ min: 0, max: 150_000 }), { minLength: 1, maxLength: 4 }),
      regions: fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 4, maxLength: 4 }),
      isps: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 4, maxLength: 4 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 40 }), async (steps: Step[]) => {
        const h = new PipelineHarness(T0);
        try {
          let p = h.open({ horizonMs: 60_000, rawSamples: true });
          const expected = new Map<string, number>();
          let n = 0;
          for (const st of steps) {
            h.now += st.advance;
            if (st.action === 'tick') p.tick(h.now);
            else if (st.action === 'crash') {
              h.closeAll();
              p = h.open({ horizonMs: 60_000, rawSamples: true });
            } else {
              const batch = st.ages.map((age, i) => {
                const ts = st.aligned ? Math.floor((h.now - age) / W) * W : h.now - age;
                const region = `r${st.regions[i]}`;
                const k = `qos_region,region=${region},tenant=t ${BigInt(Math.floor(ts / W) * W) * 1_000_000n}`;
                expected.set(k, (expected.get(k) ?? 0) + 1);
                return s(ts, { region, session: `x${n++}`, dims: { isp: `i${st.isps[i]}` } });
              });
              const r = await ingest(p, batch);
              expect(r.accepted).toBe(batch.length);
            }
          }
          h.now += 10 * 60_000;
          p.tick(h.now);
          const state = influxState(h.spoolLines());
          const totals = windowTotals(state, 'samples', W);
          // Gauge-only windows (viewers, no samples) carry samples=0.
          const regionTotals = new Map([...totals].filter(([k, v]) => k.startsWith("qos_region") && v > 0));
          expect(regionTotals).toEqual(expected);
          // Each dim series holds the same samples as its region, split by value.
          const dimSum = [...totals].filter(([k]) => k.startsWith('qos_dim')).reduce((a, [, v]) => a + v, 0);
          expect(dimSum).toBe([...expected.values()].reduce((a, b) => a + b, 0));
          // One raw point per sample: no point holds two samples, and every sample has one.
          const raw = rawIdentities(h);
          expect([...raw.values()].filter((sessions) => sessions.size > 1)).toEqual([]);
          expect(raw.size).toBe(n);
        } finally {
          h.closeAll();
        }
      }),
      { numRuns: 100 },
    );
  });
});

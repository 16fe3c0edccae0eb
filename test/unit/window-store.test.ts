import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CapHooks, CardinalityCaps } from '../../src/telemetry/cardinality.js';
import { Budgets } from '../../src/telemetry/budgets.js';
import type { Sample } from '../../src/telemetry/sample-schema.js';
import { RELATIVE_ACCURACY, freeze, isFrozen, mergeInto, newSketch, quantile } from '../../src/telemetry/sketch.js';
import { type EmittedWindow, type SeriesKey, type TickResult, WindowStore } from '../../src/telemetry/window-store.js';

// Explicit times only: the store is pure, time is always an argument.
const W = 10_000; // window
const G = 2_000; // grace
const H = 60_000; // evaluation horizon = 6 windows
const RETAIN = H / W;
const T0 = 1_700_000_000_000; // a multiple of W
const w0 = T0 / W;

function mk(opts: { closedBefore?: number; windowMs?: number; capOf?: (dim: string) => number; hooks?: CapHooks } = {}): WindowStore {
  const caps = new CardinalityCaps(opts.capOf ?? (() => 100), opts.hooks);
  return new WindowStore({ windowMs: opts.windowMs ?? W, graceMs: G, horizonMs: H, closedBefore: opts.closedBefore ?? w0 }, caps);
}

let ids = 1;
function put(st: WindowStore, o: Partial<Sample> & { ts: number }, receivedAt: number = o.ts, tenant = 't', id = ids++) {
  return st.ingest(tenant, { region: 'eu', ...o }, id, receivedAt);
}

function seriesOf(st: WindowStore, match: { tenant?: string; region?: string; dim?: string; value?: string }): SeriesKey {
  const found = [...st.seriesKeys()].filter(
    (s) => s.tenant === (match.tenant ?? 't') && s.region === (match.region ?? 'eu') && s.dim === match.dim && s.value === match.value,
  );
  expect(found, JSON.stringify(match)).toHaveLength(1);
  return found[0]!;
}
const regionSeries = (st: WindowStore, tenant = 't', region = 'eu') => seriesOf(st, { tenant, region });

function at(res: TickResult, start: number, series?: SeriesKey): EmittedWindow[] {
  return res.windows.filter((e) => e.start === start && (!series || e.series.id === series.id));
}

/** Closes every window below index `w` (the first tick at which window w−1 is due: its end + grace). */
const closeBelow = (st: WindowStore, w: number) => st.tick(w * W + G);

describe('WindowStore: alignment', () => {
  it('places a sample in window floor(ts / windowMs)', () => {
    const st = mk();
    expect(st.windowOf(T0)).toBe(w0);
    expect(st.windowOf(T0 + W - 1)).toBe(w0);
    expect(st.windowOf(T0 + W)).toBe(w0 + 1);
    put(st, { ts: T0 + W - 1, latency_ms: 1 });
    put(st, { ts: T0 + W, latency_ms: 1 });
    put(st, { ts: T0 + W + 1, latency_ms: 1 });
    const r = regionSeries(st);
    expect(st.window(r.id, w0)!.samples).toBe(1);
    expect(st.window(r.id, w0 + 1)!.samples).toBe(2);
    expect(st.window(r.id, w0 - 1)).toBeUndefined();
  });

  it('aligns to epoch multiples of a window that does not divide a minute', () => {
    const st = mk({ windowMs: 7_000, closedBefore: 0 });
    expect(st.windowOf(20_999)).toBe(2);
    expect(st.windowOf(21_000)).toBe(3);
    put(st, { ts: 20_999, latency_ms: 1 });
    put(st, { ts: 21_000, latency_ms: 1 });
    const res = st.closeThrough(21_000);
    expect(res.windows.map((e) => e.start).sort((a, b) => a - b)).toEqual([14_000, 21_000]);
  });
});

describe('WindowStore: closing', () => {
  it('emits a window exactly once, at the first tick at or after end + grace', () => {
    const st = mk();
    put(st, { ts: T0 + 5_000, latency_ms: 100 });
    const r = regionSeries(st);

    for (const now of [T0 + 5_000, T0 + W, T0 + W + G - 1]) {
      const res = st.tick(now);
      expect(at(res, T0), `now=T0+${now - T0}`).toHaveLength(0);
      expect(res.closedBefore).toBe(w0);
      expect(st.pathOf(T0)).toBe('open');
    }

    const res = st.tick(T0 + W + G);
    expect(res.closedBefore).toBe(w0 + 1);
    expect(st.closedBefore).toBe(w0 + 1);
    const e = at(res, T0, r);
    expect(e).toHaveLength(1);
    expect(e[0]!.lateId).toBeUndefined();
    expect(e[0]!.agg.samples).toBe(1);
    expect(isFrozen(e[0]!.agg.latency!)).toBe(true);
    expect(e[0]!.agg).toBe(st.window(r.id, w0));

    for (const now of [T0 + W + G, T0 + W + G + 1, T0 + 3 * W]) expect(at(st.tick(now), T0)).toHaveLength(0);
  });

  it('a late first tick closes every due window once', () => {
    const st = mk();
    for (let i = 0; i < 3; i++) put(st, { ts: T0 + i * W + 1, packets_lost: i, packets_expected: 10 });
    const res = st.tick(T0 + 3 * W + G);
    expect(res.windows.map((e) => e.start)).toEqual([T0, T0 + W, T0 + 2 * W]);
    expect(res.windows.map((e) => e.agg.packetsLost)).toEqual([0, 1, 2]);
    expect(st.tick(T0 + 3 * W + G + 5).windows).toHaveLength(0);
  });

  it('never goes back: a tick with an earlier time closes nothing and keeps closedBefore', () => {
    const st = mk();
    put(st, { ts: T0 + 1, latency_ms: 1 });
    st.tick(T0 + W + G);
    const res = st.tick(T0);
    expect(res.closedBefore).toBe(w0 + 1);
    expect(res.windows).toHaveLength(0);
  });
});

describe('WindowStore: retained windows (closed, inside the horizon)', () => {
  it('takes a late-arriving sample into the closed window and re-emits it with the merged content', () => {
    const st = mk();
    expect(put(st, { ts: T0 + 1_000, packets_lost: 1, packets_expected: 100, latency_ms: 100 })).toBe('open');
    const r = regionSeries(st);
    expect(at(closeBelow(st, w0 + 1), T0, r)).toHaveLength(1);

    expect(st.pathOf(T0 + 9_999)).toBe('retained');
    expect(put(st, { ts: T0 + 9_999, packets_lost: 9, packets_expected: 100, latency_ms: 3_000 }, T0 + W + G + 50)).toBe('retained');

    const res = st.tick(T0 + W + G + 100);
    const e = at(res, T0, r);
    expect(e).toHaveLength(1);
    expect(e[0]!.lateId).toBeUndefined();
    const m = e[0]!.agg.metrics();
    expect(m.samples).toBe(2);
    expect(m.packet_loss).toBe(10 / 200);
    expect(m.latency_count).toBe(2);
    expect(Math.abs(quantile(e[0]!.agg.latency!, 1)! - 3_000)).toBeLessThanOrEqual(30);
    expect(isFrozen(e[0]!.agg.latency!)).toBe(true);

    // re-emitted once
    expect(at(st.tick(T0 + W + G + 200), T0)).toHaveLength(0);
  });

  it('a retained sample of a new dimension value creates and emits that series window', () => {
    const st = mk();
    put(st, { ts: T0 + 1, latency_ms: 1 });
    closeBelow(st, w0 + 1);
    expect(put(st, { ts: T0 + 2, latency_ms: 2, dims: { cdn: 'cf' } })).toBe('retained');
    const cdn = seriesOf(st, { dim: 'cdn', value: 'cf' });
    const res = st.tick(T0 + W + G + 1);
    expect(at(res, T0, cdn)).toHaveLength(1);
    expect(at(res, T0, regionSeries(st))[0]!.agg.samples).toBe(2);
  });
});

describe('WindowStore: late samples (older than the horizon)', () => {
  it('go into late aggregates with lateId = smallest sample id, never into retained windows', () => {
    const st = mk();
    put(st, { ts: T0 + W + 1, packets_lost: 1, packets_expected: 10 });
    const res0 = closeBelow(st, w0 + 10);
    expect(res0.closedBefore).toBe(w0 + 10);
    const oldest = w0 + 10 - RETAIN; // oldest window still retained

    expect(st.pathOf(oldest * W)).toBe('retained');
    expect(st.pathOf(oldest * W - 1)).toBe('late');
    expect(st.pathOf((w0 + 10) * W)).toBe('open');

    const lateTs = (oldest - 1) * W + 500;
    expect(put(st, { ts: lateTs, packets_lost: 1, packets_expected: 10 }, T0 + 11 * W, 't', 57)).toBe('late');
    expect(put(st, { ts: lateTs + 1, packets_lost: 2, packets_expected: 10 }, T0 + 11 * W, 't', 42)).toBe('late');
    expect(put(st, { ts: lateTs + 2, packets_lost: 3, packets_expected: 10 }, T0 + 11 * W, 't', 99)).toBe('late');
    expect(put(st, { ts: T0 + 2 * W, packets_lost: 4, packets_expected: 10 }, T0 + 11 * W, 't', 7)).toBe('late');
    expect(put(st, { ts: T0 + W + 2, packets_lost: 5, packets_expected: 10 }, T0 + 11 * W, 't', 8)).toBe('late');

    // not merged into any window the store keeps
    const r = regionSeries(st);
    expect(st.window(r.id, oldest - 1)).toBeUndefined();
    expect(st.range(r.id, w0, w0 + 20).samples).toBe(0);

    const res = st.tick(T0 + 11 * W);
    const late = res.windows.filter((e) => e.lateId !== undefined);
    expect(late).toHaveLength(3);
    const a = at(res, (oldest - 1) * W, r);
    expect(a).toHaveLength(1);
    expect(a[0]!.lateId).toBe(42);
    expect(a[0]!.agg.packetsLost).toBe(6);
    expect(a[0]!.agg.samples).toBe(3);
    expect(at(res, T0 + 2 * W, r)[0]!.lateId).toBe(7);
    // window w0+1 had been evicted: its late sample is its own aggregate, not a re-emission of the old one
    const b = at(res, T0 + W, r);
    expect(b).toHaveLength(1);
    expect(b[0]!.lateId).toBe(8);
    expect(b[0]!.agg.samples).toBe(1);
    expect(b[0]!.agg.packetsLost).toBe(5);

    // emitted once
    expect(st.tick(T0 + 11 * W + 1).windows.filter((e) => e.lateId !== undefined)).toHaveLength(0);
  });

  it('a late sample goes to a late aggregate for every series it belongs to', () => {
    const st = mk({ closedBefore: w0 + 10 });
    expect(put(st, { ts: T0, latency_ms: 5, dims: { isp: 'x' } }, T0 + 10 * W, 't', 11)).toBe('late');
    const res = st.tick(T0 + 10 * W);
    const late = res.windows.filter((e) => e.lateId !== undefined);
    expect(late.map((e) => e.series.dim ?? 'region').sort()).toEqual(['isp', 'region']);
    for (const e of late) {
      expect(e.lateId).toBe(11);
      expect(e.start).toBe(T0);
    }
  });

  it('counts a session once per late aggregate window', () => {
    const st = mk({ closedBefore: w0 + 10 });
    put(st, { ts: T0 + 1, session: 'gone', latency_ms: 5 }, T0 + 10 * W);
    put(st, { ts: T0 + 2, session: 'gone', error: 'E' }, T0 + 10 * W);
    put(st, { ts: T0 + 3, session: 'gone', error: 'E' }, T0 + 10 * W);
    put(st, { ts: T0 + 4, session: 'other', latency_ms: 5 }, T0 + 10 * W);
    const late = st.tick(T0 + 10 * W).windows.filter((e) => e.lateId !== undefined);
    expect(late).toHaveLength(1);
    const m = late[0]!.agg.metrics();
    expect(m.samples).toBe(4);
    expect(m.sessions).toBe(2);
    expect(m.error_sessions).toBe(1);
    expect(m.error_rate).toBe(0.5);
  });

  it('a late sample does not make its session or node live', () => {
    const st = mk({ closedBefore: w0 + 10 });
    put(st, { ts: T0, session: 's', latency_ms: 5 }, T0 + 10 * W);
    put(st, { ts: T0, node: 'n', concurrency: 100 }, T0 + 10 * W);
    st.tick(T0 + 10 * W);
    expect(st.liveness.sessionCount).toBe(0);
    expect(st.liveness.nodeCount).toBe(0);
    const r = regionSeries(st);
    expect(st.window(r.id, w0 + 10)?.viewers).toBeUndefined();
    expect(st.window(r.id, w0 + 10)?.concurrency).toBeUndefined();
  });
});

describe('WindowStore: restart boundary (closedBefore at construction)', () => {
  it('windows closed before the restart only take late samples, even inside the horizon', () => {
    const st = mk({ closedBefore: w0 + 5 });
    expect(st.closedBefore).toBe(w0 + 5);
    expect(st.pathOf(T0 + 5 * W)).toBe('open');
    expect(st.pathOf(T0 + 5 * W - 1)).toBe('late');
    expect(put(st, { ts: T0 + 4 * W, latency_ms: 1 }, T0 + 5 * W, 't', 3)).toBe('late');
    const r = regionSeries(st);
    expect(st.window(r.id, w0 + 4)).toBeUndefined();

    put(st, { ts: T0 + 5 * W, latency_ms: 1 });
    const res = closeBelow(st, w0 + 6);
    expect(at(res, T0 + 4 * W, r)[0]!.lateId).toBe(3);
    expect(at(res, T0 + 5 * W, r)[0]!.lateId).toBeUndefined();

    // after the first close, the new store's own closed windows are retained, the older ones still late
    expect(st.pathOf(T0 + 5 * W)).toBe('retained');
    expect(st.pathOf(T0 + 5 * W - 1)).toBe('late');
    expect(put(st, { ts: T0 + 4 * W + 5, latency_ms: 1 }, T0 + 6 * W + G)).toBe('late');
    expect(st.window(r.id, w0 + 4)).toBeUndefined();
  });
});

describe('WindowStore: series', () => {
  it('creates one series per (dim, value) besides the region series', () => {
    const st = mk();
    put(st, { ts: T0 + 1, latency_ms: 10, dims: { isp: 'isp-a', cdn: 'akamai' } });
    const last = st.lastSeries().map((s) => [s.dim ?? null, s.value ?? null, s.region, s.tenant]);
    expect(last).toEqual([[null, null, 'eu', 't'], ['isp', 'isp-a', 'eu', 't'], ['cdn', 'akamai', 'eu', 't']]);
    put(st, { ts: T0 + 2, latency_ms: 20, dims: { isp: 'isp-b' } });
    put(st, { ts: T0 + 3, latency_ms: 30, region: 'us' });
    put(st, { ts: T0 + 4, latency_ms: 40 }, T0, 't2');
    expect(st.seriesCount).toBe(6);

    const res = closeBelow(st, w0 + 1);
    const count = (k: { tenant?: string; region?: string; dim?: string; value?: string }) => at(res, T0, seriesOf(st, k))[0]!.agg.samples;
    expect(count({})).toBe(2);
    expect(count({ dim: 'isp', value: 'isp-a' })).toBe(1);
    expect(count({ dim: 'isp', value: 'isp-b' })).toBe(1);
    expect(count({ dim: 'cdn', value: 'akamai' })).toBe(1);
    expect(count({ region: 'us' })).toBe(1);
    expect(count({ tenant: 't2' })).toBe(1);
    expect(res.windows).toHaveLength(6);
  });

  it('folds values over the cardinality cap into the .../isp/other series', () => {
    const folded: string[] = [];
    const st = mk({ capOf: (d) => (d === 'isp' ? 2 : 100), hooks: { onFold: (d) => folded.push(d) } });
    for (const isp of ['a', 'b', 'c', 'd', 'c', 'a']) put(st, { ts: T0 + 1, latency_ms: 1, dims: { isp, cdn: isp } });
    expect(folded).toEqual(['isp', 'isp', 'isp']);
    const W0 = (v: string, dim = 'isp') => st.window(seriesOf(st, { dim, value: v }).id, w0)!.samples;
    expect(W0('a')).toBe(2);
    expect(W0('b')).toBe(1);
    expect(W0('other')).toBe(3);
    expect([...st.seriesKeys()].filter((s) => s.dim === 'isp').map((s) => s.value).sort()).toEqual(['a', 'b', 'other']);
    // cdn has its own cap
    expect(W0('d', 'cdn')).toBe(1);
    expect(st.window(regionSeries(st).id, w0)!.samples).toBe(6);
    // another tenant has its own cap
    put(st, { ts: T0 + 1, latency_ms: 1, dims: { isp: 'c' } }, T0, 't2');
    expect(st.lastSeries()[1]!.value).toBe('c');
  });
});

describe('WindowStore: range', () => {
  it('merges the windows of a series, open and closed, as ratios of sums with merged sketches', () => {
    const st = mk();
    const lat: number[] = [];
    const rows = [
      { w: 0, lost: 1, expected: 1_000, play: 9_000, stall: 1_000, l: [100, 120, 140] },
      { w: 1, lost: 50, expected: 100, play: 2_000, stall: 8_000, l: [5_000] },
      { w: 3, lost: 0, expected: 10_000, play: 600_000, stall: 0, l: [90, 95] },
    ];
    for (const r of rows) {
      put(st, { ts: T0 + r.w * W + 10, packets_lost: r.lost, packets_expected: r.expected, play_ms: r.play, stall_ms: r.stall, stall_count: 1 });
      for (const l of r.l) { put(st, { ts: T0 + r.w * W + 20, latency_ms: l }); lat.push(l); }
    }
    closeBelow(st, w0 + 2); // w0, w0+1 closed (frozen), w0+3 open
    const r = regionSeries(st);
    const m = st.range(r.id, w0, w0 + 3).metrics();
    expect(m.samples).toBe(3 + 6);
    expect(m.packet_loss).toBe(51 / 11_100);
    expect(m.stall_ratio).toBe(9_000 / 620_000);
    expect(m.stalls_per_min).toBeCloseTo(3 / (620_000 / 60_000), 12);
    const sorted = [...lat].sort((a, b) => a - b);
    const exact = (q: number) => sorted[Math.floor(q * (sorted.length - 1))]!;
    for (const [k, q] of [['latency_p50', 0.5], ['latency_p95', 0.95]] as const) {
      expect(Math.abs(m[k]! - exact(q))).toBeLessThanOrEqual(RELATIVE_ACCURACY * (1 + 1e-9) * exact(q));
    }

    expect(st.range(r.id, w0 + 1, w0 + 1).metrics().packet_loss).toBe(0.5);
    expect(st.range(r.id, w0 + 2, w0 + 2).samples).toBe(0);
    expect(st.range(9_999, w0, w0 + 3).samples).toBe(0);
    // range() must not change the stored windows
    expect(st.window(r.id, w0)!.packetsLost).toBe(1);
    expect(st.window(r.id, w0 + 3)!.samples).toBe(3);
  });
});

describe('WindowStore: gauges', () => {
  it('viewers = sessions live within 3 × interval of their arrival, per series; 0 once all expire', () => {
    const st = mk();
    put(st, { ts: T0 + 1_000, session: 's1', latency_ms: 1, dims: { isp: 'a' } }, T0 + 1_000);
    put(st, { ts: T0 + 1_000, session: 's2', latency_ms: 1, dims: { isp: 'b' } }, T0 + 1_000);
    put(st, { ts: T0 + 1_000, latency_ms: 1 }, T0 + 1_000); // anonymous: not a viewer
    const r = regionSeries(st);
    const ispA = seriesOf(st, { dim: 'isp', value: 'a' });
    const ispB = seriesOf(st, { dim: 'isp', value: 'b' });
    const viewers = (s: SeriesKey, now: number) => st.window(s.id, st.windowOf(now))?.viewers;

    st.tick(T0 + 2_000);
    expect(viewers(r, T0 + 2_000)).toBe(2);
    expect(viewers(ispA, T0 + 2_000)).toBe(1);
    expect(viewers(ispB, T0 + 2_000)).toBe(1);

    // s1 reports again at T0+25 s: live until T0+55 s; s2 expires at T0+1 s + 30 s.
    put(st, { ts: T0 + 25_000, session: 's1', latency_ms: 1, dims: { isp: 'a' } }, T0 + 25_000);
    st.tick(T0 + 30_999);
    expect(viewers(r, T0 + 30_999)).toBe(2);
    st.tick(T0 + 31_000);
    expect(viewers(r, T0 + 31_000)).toBe(1);
    expect(viewers(ispB, T0 + 31_000)).toBe(0);

    st.tick(T0 + 54_999);
    expect(viewers(r, T0 + 54_999)).toBe(1);
    const res = st.closeThrough(T0 + 55_000);
    // the window holding now is closed with the gauge: 0, not missing
    const e = at(res, T0 + 5 * W, r);
    expect(e).toHaveLength(1);
    expect(e[0]!.agg.viewers).toBe(0);
    expect(e[0]!.agg.metrics().viewers).toBe(0);
    expect(at(res, T0 + 5 * W, ispA)[0]!.agg.viewers).toBe(0);
    // still 0 (not undefined) a while later
    st.tick(T0 + 6 * W + 100);
    expect(viewers(r, T0 + 6 * W + 100)).toBe(0);
  });

  it('liveness runs on arrival time and the sample interval, not the sample ts', () => {
    const st = mk();
    // A skewed clock: ts early in the window, arrival 8 s later; interval 2 s → live until arrival + 6 s.
    put(st, { ts: T0 + 1_000, session: 's', interval_ms: 2_000, latency_ms: 1 }, T0 + 9_000);
    const r = regionSeries(st);
    st.tick(T0 + 14_999);
    expect(st.window(r.id, w0 + 1)!.viewers).toBe(1);
    st.tick(T0 + 15_000);
    expect(st.window(r.id, w0 + 1)!.viewers).toBe(0);
  });

  it('a session that changes isp counts as a viewer only in its latest series', () => {
    const st = mk();
    put(st, { ts: T0 + 1, session: 's', latency_ms: 1, dims: { isp: 'a' } }, T0 + 1);
    st.tick(T0 + 2);
    expect(st.window(seriesOf(st, { dim: 'isp', value: 'a' }).id, w0)!.viewers).toBe(1);
    put(st, { ts: T0 + 2, session: 's', latency_ms: 1, dims: { isp: 'b' } }, T0 + 2);
    st.tick(T0 + 3);
    expect(st.window(seriesOf(st, { dim: 'isp', value: 'b' }).id, w0)!.viewers).toBe(1);
    expect(st.window(seriesOf(st, { dim: 'isp', value: 'a' }).id, w0)!.viewers).toBe(0);
    expect(st.window(regionSeries(st).id, w0)!.viewers).toBe(1);
  });

  it('concurrency = Σ of each live node’s latest value (by sample ts); 0 once all nodes expire', () => {
    const st = mk();
    put(st, { ts: T0 + 1_000, node: 'n1', concurrency: 100 }, T0 + 1_000);
    put(st, { ts: T0 + 1_000, node: 'n2', concurrency: 50 }, T0 + 1_000);
    const r = regionSeries(st);
    const conc = (now: number) => st.window(r.id, st.windowOf(now))?.concurrency;
    st.tick(T0 + 2_000);
    expect(conc(T0 + 2_000)).toBe(150);

    // an older sample of n1 arriving out of order does not replace its latest value
    put(st, { ts: T0 + 500, node: 'n1', concurrency: 999 }, T0 + 3_000);
    st.tick(T0 + 4_000);
    expect(conc(T0 + 4_000)).toBe(150);

    put(st, { ts: T0 + 5_000, node: 'n1', concurrency: 120 }, T0 + 5_000);
    put(st, { ts: T0 + 5_000, node: 'n3', rtt_ms: 4 }, T0 + 5_000); // no gauge value
    st.tick(T0 + 6_000);
    expect(conc(T0 + 6_000)).toBe(170);

    // node samples are not sessions, nor viewers
    const m = st.window(r.id, w0)!.metrics();
    expect(m.samples).toBe(5);
    expect(m.sessions).toBe(0);
    expect(m).not.toHaveProperty('error_rate');
    expect(m.viewers).toBeUndefined();

    // n2 (last arrival T0+1 s) expires at T0+31 s, n1 (T0+5 s) at T0+35 s
    st.tick(T0 + 30_999);
    expect(conc(T0 + 30_999)).toBe(170);
    st.tick(T0 + 31_000);
    expect(conc(T0 + 31_000)).toBe(120);
    st.tick(T0 + 35_000);
    expect(conc(T0 + 35_000)).toBe(0);
    st.tick(T0 + 45_000);
    expect(conc(T0 + 45_000)).toBe(0);
  });

  it('a series that never had a gauge has none', () => {
    const st = mk();
    put(st, { ts: T0 + 1, latency_ms: 1 });
    st.tick(T0 + 2);
    const m = st.window(regionSeries(st).id, w0)!.metrics();
    expect(m).not.toHaveProperty('viewers');
    expect(m).not.toHaveProperty('concurrency');
  });
});

describe('WindowStore: closeThrough', () => {
  it('closes up to and including the window holding now, with the gauges sampled into it', () => {
    const st = mk();
    put(st, { ts: T0 + 1, latency_ms: 1 });
    put(st, { ts: T0 + W + 1, session: 's', latency_ms: 2 }, T0 + W + 1);
    const res = st.closeThrough(T0 + W + 500);
    expect(res.closedBefore).toBe(w0 + 2);
    const r = regionSeries(st);
    expect(at(res, T0, r)).toHaveLength(1);
    const cur = at(res, T0 + W, r);
    expect(cur).toHaveLength(1);
    expect(cur[0]!.agg.samples).toBe(1);
    expect(cur[0]!.agg.viewers).toBe(1);
    expect(st.pathOf(T0 + W + 600)).toBe('retained');
    expect(st.pathOf(T0 + 2 * W)).toBe('open');
    // nothing is emitted twice by the ticks that follow
    expect(st.tick(T0 + 2 * W + G - 1).windows).toHaveLength(0);
  });
});

describe('WindowStore: eviction', () => {
  it('drops windows older than the horizon: window() and range() no longer see them', () => {
    const st = mk();
    put(st, { ts: T0 + 1, packets_lost: 1, packets_expected: 2 });
    put(st, { ts: T0 + 6 * W + 1, packets_lost: 3, packets_expected: 4 });
    const r = regionSeries(st);

    closeBelow(st, w0 + RETAIN); // w0 is the oldest retained window
    expect(st.window(r.id, w0)).toBeDefined();
    expect(st.pathOf(T0)).toBe('retained');
    expect(st.range(r.id, w0, w0 + 6).packetsExpected).toBe(6);

    closeBelow(st, w0 + RETAIN + 1);
    expect(st.window(r.id, w0)).toBeUndefined();
    expect(st.pathOf(T0)).toBe('late');
    expect(st.range(r.id, w0, w0 + 6).packetsExpected).toBe(4);
    expect(st.range(r.id, w0, w0).samples).toBe(0);
  });

  it('keeps only the windows the rules read (setRetention); released windows are not recreated when it grows', () => {
    const st = mk();
    st.setRetention(2);
    for (let k = 0; k < 5; k++) put(st, { ts: T0 + k * W + 1, packets_lost: 1, packets_expected: 10 });
    const r = regionSeries(st);
    closeBelow(st, w0 + 5);
    // windows w0+3 and w0+4 are the two closed windows kept
    expect([0, 1, 2, 3, 4].map((k) => st.window(r.id, w0 + k)?.packetsExpected)).toEqual([undefined, undefined, undefined, 10, 10]);
    expect(st.pathOf(T0 + 3 * W)).toBe('retained');
    expect(st.pathOf(T0 + 2 * W)).toBe('late');
    // A longer rule loaded: windows released stay released (a late sample for one is a late aggregate) ...
    st.setRetention(RETAIN);
    expect(st.pathOf(T0 + 2 * W)).toBe('late');
    expect(put(st, { ts: T0 + 2 * W + 5, packets_lost: 1, packets_expected: 10 })).toBe('late');
    expect(st.window(r.id, w0 + 2)).toBeUndefined();
    // ... and from now on up to RETAIN windows are kept.
    for (let k = 5; k < 5 + RETAIN; k++) put(st, { ts: T0 + k * W + 1, packets_lost: 1, packets_expected: 10 });
    closeBelow(st, w0 + 5 + RETAIN);
    expect(st.range(r.id, w0, w0 + 5 + RETAIN).packetsExpected).toBe(10 * RETAIN);
    // Never fewer than one (released at the next tick) ...
    st.setRetention(0);
    closeBelow(st, w0 + 5 + RETAIN);
    expect(st.range(r.id, w0, w0 + 5 + RETAIN).packetsExpected).toBe(10);
    // ... never more than the horizon's.
    const big = mk();
    big.setRetention(10 * RETAIN);
    for (let k = 0; k <= RETAIN; k++) put(big, { ts: T0 + k * W + 1, packets_lost: 1, packets_expected: 10 });
    closeBelow(big, w0 + RETAIN + 1);
    expect(big.window(regionSeries(big).id, w0)).toBeUndefined();
    expect(big.range(regionSeries(big).id, w0, w0 + RETAIN).packetsExpected).toBe(10 * RETAIN);
  });

  it('forgets a series with no windows left and no gauge within the horizon', () => {
    const st = mk();
    put(st, { ts: T0 + 1, latency_ms: 1, dims: { isp: 'x' } });
    expect(st.seriesCount).toBe(2);
    closeBelow(st, w0 + RETAIN + 1);
    expect(st.seriesCount).toBe(0);
    expect([...st.seriesKeys()]).toEqual([]);
  });

  it('a gauge reports 0 for one horizon after its last reporter, which keeps the series until then', () => {
    const st = mk();
    put(st, { ts: T0 + 1, session: 's', latency_ms: 1 }, T0 + 1); // live until T0+30 001
    st.tick(T0 + 2); // a live viewer seen at T0+2
    const r = regionSeries(st);
    expect(st.window(r.id, w0)!.viewers).toBe(1);
    st.tick(T0 + 60_001); // the viewer expired at T0+30 001; one horizon after T0+2 the gauge still reports 0
    expect(st.window(r.id, w0 + 6)!.viewers).toBe(0);
    st.tick(T0 + 7 * W + G); // closes w0+6, evicts w0; more than one horizon after the last viewer: no gauge
    expect(st.window(r.id, w0)).toBeUndefined();
    expect(st.window(r.id, w0 + 7)).toBeUndefined();
    expect(st.seriesCount).toBe(1); // still holds the retained gauge window w0+6
    st.tick(T0 + 200_000);
    expect(st.seriesCount).toBe(0);
  });
});

describe('WindowStore: cached merges of closed windows', () => {
  /** The sketch of windows [from, to] merged afresh, frozen (a canonical form: only the non-empty bins). */
  function fresh(st: WindowStore, id: number, field: 'latency' | 'startup', from: number, to: number): string | undefined {
    const out = newSketch();
    for (let w = from; w <= to; w++) {
      const s = st.window(id, w)?.[field];
      if (s) mergeInto(out, s);
    }
    return out.count > 0 ? freeze(out) : undefined;
  }

  it('equal a fresh merge after retained and late samples, closes, evictions and retention changes', () => {
    type Op = { kind: 'sample'; age: number; region: string; latency: number; startup?: number } | { kind: 'tick'; dt: number } | { kind: 'retain'; n: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 8, arbitrary: fc.record({ kind: fc.constant('sample' as const), age: fc.integer({ min: 0, max: 9 * W }), region: fc.constantFrom('eu', 'us'), latency: fc.integer({ min: 1, max: 5000 }), startup: fc.option(fc.integer({ min: 0, max: 9000 }), { nil: undefined }) }) },
      // A tick that closes nothing still evicts what a lowered retention no longer keeps.
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), dt: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 * W })) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('retain' as const), n: fc.integer({ min: 1, max: RETAIN }) }) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), fc.array(fc.tuple(fc.nat(RETAIN), fc.nat(RETAIN)), { minLength: 1, maxLength: 4 }), (ops, spans) => {
        const st = mk();
        let now = T0;
        for (const o of ops) {
          if (o.kind === 'sample') put(st, { ts: Math.max(0, now - o.age), region: o.region, latency_ms: o.latency, startup_ms: o.startup }, now);
          else if (o.kind === 'tick') st.tick((now += o.dt));
          else st.setRetention(o.n);
          // Reads as the rules do, at every step: the cache fills and must follow every change.
          for (const s of st.seriesKeys()) {
            for (const [a, b] of spans) {
              const to = st.closedBefore - 1 - Math.min(a, b);
              const from = st.closedBefore - 1 - Math.max(a, b);
              for (const field of ['latency', 'startup'] as const) {
                const cached = st.closedSketch(s.id, field, from, to);
                expect(cached && cached.count > 0 ? freeze(cached) : undefined).toBe(fresh(st, s.id, field, from, to));
              }
            }
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('drop the windows a lowered retention evicts', () => {
    const st = mk();
    for (let i = 0; i < 3; i++) put(st, { ts: T0 + i * W, latency_ms: 10 + i });
    st.tick(T0 + 3 * W + G);
    const id = regionSeries(st).id;
    expect(st.closedSketch(id, 'latency', w0, w0 + 2)!.count).toBe(3);
    st.setRetention(1);
    st.tick(T0 + 3 * W + G);
    expect(st.closedSketch(id, 'latency', w0, w0 + 2)!.count).toBe(1);
  });

  it('are not taken for windows still open', () => {
    const st = mk();
    put(st, { ts: T0, latency_ms: 5 });
    expect(() => st.closedSketch(regionSeries(st).id, 'latency', w0 - 1, w0)).toThrow(RangeError);
  });
});

describe('WindowStore: session routes', () => {
  type Op =
    | { kind: 'sample'; session: number; region: string; isp?: string; cdn?: string; dt: number; age: number }
    | { kind: 'tick'; dt: number }
    | { kind: 'sweep' };
  const value = (prefix: string) => fc.option(fc.constantFrom(`${prefix}1`, `${prefix}2`, `${prefix}3`, 'other'), { nil: undefined });
  const op: fc.Arbitrary<Op> = fc.oneof(
    // Mostly a session's own region and values (routes are taken), sometimes others (a session moves).
    { weight: 10, arbitrary: fc.integer({ min: 0, max: 5 }).chain((session) => fc.record({ kind: fc.constant('sample' as const), session: fc.constant(session), region: fc.constantFrom('eu', 'us', 'ap'), isp: value('i'), cdn: value('c'), dt: fc.integer({ min: 0, max: 3000 }), age: fc.integer({ min: 0, max: 3 * W }) }).map((o) => (o.dt % 5 !== 0 ? { ...o, region: ['eu', 'us', 'ap'][session % 3]!, isp: `i${session % 4}`, cdn: session % 2 ? 'c1' : undefined } : o))) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), dt: fc.integer({ min: 0, max: 3 * W }) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('sweep' as const) }) },
  );

  /** A store with small caps (folds), a short cap TTL (releases) and a small series budget (budget folds). */
  function store(log: string[]) {
    const hooks: CapHooks = {
      onAdmit: (t, d, v, now) => log.push(`admit ${t} ${d} ${v} ${now}`),
      onFold: (d) => log.push(`fold ${d}`),
      onRelease: (t, d, v) => log.push(`release ${t} ${d} ${v}`),
      onSeen: (t, d, v, at) => log.push(`seen ${t} ${d} ${v} ${at}`),
    };
    const caps = new CardinalityCaps((d) => (d === 'region' ? 3 : 2), hooks, 4000);
    const budgets = new Budgets(() => ({ series: 9, points: 1e9, sessions: 1e9 }), { series: 1e9, sessions: 1e9 }, W);
    const st = new WindowStore({ windowMs: W, graceMs: G, horizonMs: H, closedBefore: w0 }, caps, budgets);
    return { st, caps, budgets };
  }

  it('resolve a session’s samples to the series a fresh resolution gives, with the same cap and budget effects', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const [logA, logB] = [[] as string[], [] as string[]];
        const a = store(logA);
        // The reference keeps no route: every sample is resolved afresh.
        const b = store(logB);
        b.st.liveness.attachRoute = () => {};
        let now = T0;
        let n = 0;
        for (const o of ops) {
          if (o.kind === 'sample') {
            now += o.dt;
            const dims = { ...(o.isp !== undefined && { isp: o.isp }), ...(o.cdn !== undefined && { cdn: o.cdn }) };
            const s = { ts: now - o.age, region: o.region, dims, latency_ms: 10 };
            n++;
            expect(a.st.ingest('t', { ...s, session: `s${o.session}` }, n, now)).toBe(b.st.ingest('t', { ...s, session: `s${o.session}` }, n, now));
            expect(a.st.lastSeries().map((k) => k.id)).toEqual(b.st.lastSeries().map((k) => k.id));
          } else if (o.kind === 'tick') {
            now += o.dt;
            const [ta, tb] = [a.st.tick(now), b.st.tick(now)];
            expect(ta.windows.map((e) => [e.series.id, e.start, e.agg.metrics()])).toEqual(tb.windows.map((e) => [e.series.id, e.start, e.agg.metrics()]));
          } else {
            a.caps.sweep(now);
            b.caps.sweep(now);
          }
          expect(logA).toEqual(logB);
          expect(a.st.seriesCount).toBe(b.st.seriesCount);
          expect(new Map(a.budgets.of('t').excess)).toEqual(new Map(b.budgets.of('t').excess));
        }
      }),
      { numRuns: 300 },
    );
  });
});

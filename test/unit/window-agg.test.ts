import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CardinalityCaps } from '../../src/telemetry/cardinality.js';
import type { Sample } from '../../src/telemetry/sample-schema.js';
import { RELATIVE_ACCURACY, isFrozen } from '../../src/telemetry/sketch.js';
import { WindowAgg, type WindowMetrics, combine } from '../../src/telemetry/window-agg.js';
import { WindowStore } from '../../src/telemetry/window-store.js';

const T0 = 1_700_000_000_000; // a multiple of the 10 s window

function sample(o: Partial<Sample>): Sample {
  return { ts: T0, region: 'eu', ...o };
}

function aggOf(samples: readonly Sample[]): WindowAgg {
  const a = new WindowAgg();
  for (const s of samples) a.add(s, true, s.error !== undefined);
  return a;
}

/** Exact quantile under DDSketch's rank rule (rank = q·(n−1), element of index floor(rank)); see sketch.test.ts. */
function exactQuantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}

/**
 * The log mapping answers within α = (γ−1)/(γ+1) = 1 % of every value of the bin holding the ranked element;
 * clamping to [min, max] only moves towards it; 1e-9 covers floating-point error in log/pow. Zero is exact.
 */
function expectWithin1pct(estimate: number | undefined, exact: number, label = ''): void {
  expect(estimate, label).toBeDefined();
  if (exact === 0) expect(estimate, label).toBe(0);
  else expect(Math.abs(estimate! - exact), label).toBeLessThanOrEqual(RELATIVE_ACCURACY * (1 + 1e-9) * exact);
}

describe('WindowAgg: ratios of sums (PRODUCT.md §2)', () => {
  it('packet_loss = Σlost / Σexpected', () => {
    const m = aggOf([
      sample({ packets_lost: 5, packets_expected: 1000 }),
      sample({ packets_lost: 0, packets_expected: 3000 }),
      sample({ packets_lost: 45, packets_expected: 1000 }),
    ]).metrics();
    expect(m.packets_lost).toBe(50);
    expect(m.packets_expected).toBe(5000);
    expect(m.packet_loss).toBe(50 / 5000);
  });

  it('a packet_loss ratio sample weighs 1 expected packet', () => {
    // 0.5 from a ratio-only reporter counts as 0.5 lost of 1 expected, next to 10 of 100 counted packets.
    const m = aggOf([sample({ packet_loss: 0.5 }), sample({ packets_lost: 10, packets_expected: 100 }), sample({ packet_loss: 0 })]).metrics();
    expect(m.packets_lost).toBe(10.5);
    expect(m.packets_expected).toBe(102);
    expect(m.packet_loss).toBeCloseTo(10.5 / 102, 15);
  });

  it('stall_ratio = Σstall / Σ(play + stall) and stalls_per_min = Σstall_count / watched minutes', () => {
    const m = aggOf([
      sample({ play_ms: 9_000, stall_ms: 1_000, stall_count: 2 }),
      sample({ play_ms: 50_000, stall_ms: 0, stall_count: 0 }),
      sample({ play_ms: 0, stall_ms: 0 }), // missing stall fields count as 0
    ]).metrics();
    expect(m.play_ms).toBe(59_000);
    expect(m.stall_ms).toBe(1_000);
    expect(m.stall_count).toBe(2);
    expect(m.stall_ratio).toBe(1_000 / 60_000);
    expect(m.stalls_per_min).toBeCloseTo(2 / 1, 12); // 60 000 ms watched = 1 min
  });

  it('a 10 s view does not weigh like a 2 h view (ratio of sums ≠ average of ratios)', () => {
    const short = sample({ session: 'short', play_ms: 6_000, stall_ms: 4_000, stall_count: 4, packets_lost: 300, packets_expected: 1_000 });
    const long = sample({ session: 'long', play_ms: 7_199_000, stall_ms: 1_000, stall_count: 1, packets_lost: 720, packets_expected: 720_000 });
    const m = aggOf([short, long]).metrics();

    // Ratio of sums: 5 s stalled in 7 210 s watched ≈ 0.069 %.
    expect(m.stall_ratio).toBeCloseTo(5_000 / 7_210_000, 15);
    // The average of the two views' ratios would be (40 % + 0.014 %) / 2 ≈ 20 %.
    const avgOfRatios = (4_000 / 10_000 + 1_000 / 7_200_000) / 2;
    expect(avgOfRatios).toBeGreaterThan(0.2);
    expect(m.stall_ratio!).toBeLessThan(0.001);
    // Loss: 1 020 of 721 000 packets ≈ 0.14 %, not (30 % + 0.1 %) / 2 ≈ 15 %.
    expect(m.packet_loss).toBeCloseTo(1_020 / 721_000, 15);
    expect(m.packet_loss!).toBeLessThan(0.002);
    // 5 stalls in 7 210 s = 120.1666… min.
    expect(m.stalls_per_min).toBeCloseTo(5 / (7_210_000 / 60_000), 12);
  });

  it('leaves a ratio out when its denominator is zero', () => {
    const m = aggOf([sample({ latency_ms: 100 })]).metrics();
    expect(m).not.toHaveProperty('packet_loss');
    expect(m).not.toHaveProperty('stall_ratio');
    expect(m).not.toHaveProperty('stalls_per_min');
    expect(m).not.toHaveProperty('rtt_p95');
    expect(m).not.toHaveProperty('startup_p50');
    expect(m.samples).toBe(1);
    expect(new WindowAgg().metrics()).toEqual({ samples: 0, sessions: 0, error_sessions: 0 });
    // zero expected packets: no loss ratio (not NaN)
    expect(aggOf([sample({ packets_lost: 0, packets_expected: 0 })]).metrics().packet_loss).toBeUndefined();
  });

  it('error_rate = error sessions / sessions, from the flags the caller gives', () => {
    const a = new WindowAgg();
    a.add(sample({ session: 'a', latency_ms: 1 }), true, false);
    a.add(sample({ session: 'a', error: 'E1' }), false, true); // same session, now failed
    a.add(sample({ session: 'b', error: 'E1' }), true, true);
    a.add(sample({ session: 'b', error: 'E1' }), false, false); // already counted in this window
    a.add(sample({ session: 'c', latency_ms: 1 }), true, false);
    a.add(sample({ session: 'd', latency_ms: 1 }), true, false);
    const m = a.metrics();
    expect(m.samples).toBe(6);
    expect(m.sessions).toBe(4);
    expect(m.error_sessions).toBe(2);
    expect(m.error_rate).toBe(0.5);
  });
});

describe('error_rate through the window store: distinct sessions per window', () => {
  const W = 10_000;
  const store = () => new WindowStore({ windowMs: W, graceMs: 2_000, horizonMs: 60_000, closedBefore: T0 / W }, new CardinalityCaps(() => 100));

  it('counts a session once per window, anonymous samples as their own session, and nodes not at all', () => {
    const st = store();
    let id = 1;
    const put = (o: Partial<Sample>) => st.ingest('t', sample(o), id++, T0 + 500);
    put({ ts: T0 + 1_000, session: 's1', latency_ms: 80 });
    put({ ts: T0 + 2_000, session: 's1', error: 'DECODE' });
    put({ ts: T0 + 3_000, session: 's1', error: 'DECODE' });
    put({ ts: T0 + 4_000, session: 's2', latency_ms: 90 });
    put({ ts: T0 + 4_000, session: 's2', latency_ms: 95 });
    put({ ts: T0 + 5_000, latency_ms: 70 }); // anonymous
    put({ ts: T0 + 5_000, latency_ms: 70 }); // anonymous, another session
    put({ ts: T0 + 6_000, error: 500 }); // anonymous with an error
    put({ ts: T0 + 7_000, node: 'edge-1', concurrency: 40, rtt_ms: 3 });
    put({ ts: T0 + 7_500, node: 'edge-1', error: 'DISK' }); // node errors are not session errors
    const region = st.lastSeries()[0]!.id;
    const m = st.window(region, T0 / W)!.metrics();
    expect(m.samples).toBe(10);
    // s1, s2, three anonymous beacons
    expect(m.sessions).toBe(5);
    // s1 (once), the anonymous 500
    expect(m.error_sessions).toBe(2);
    expect(m.error_rate).toBe(2 / 5);

    // The next window counts s1 again: distinct per window, not for ever.
    put({ ts: T0 + W + 1_000, session: 's1', error: 'DECODE' });
    put({ ts: T0 + W + 2_000, session: 's1', latency_ms: 50 });
    const m2 = st.window(region, T0 / W + 1)!.metrics();
    expect(m2.sessions).toBe(1);
    expect(m2.error_sessions).toBe(1);
    expect(m2.error_rate).toBe(1);
  });

  it('the same session id in two tenants is two sessions', () => {
    const st = store();
    st.ingest('t1', sample({ ts: T0 + 1, session: 'x', latency_ms: 1 }), 1, T0);
    const a = st.lastSeries()[0]!.id;
    st.ingest('t2', sample({ ts: T0 + 1, session: 'x', latency_ms: 1 }), 2, T0);
    const b = st.lastSeries()[0]!.id;
    expect(a).not.toBe(b);
    expect(st.window(a, T0 / W)!.sessions).toBe(1);
    expect(st.window(b, T0 / W)!.sessions).toBe(1);
  });
});

describe('WindowAgg: quantiles', () => {
  it('latency p50/p95/p99, rtt p95, startup p50/p95 are within 1 % of the exact quantiles', () => {
    // Deterministic pseudo-random, log-normal-ish values (a linear congruential generator).
    let x = 12345;
    const rnd = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const latency: number[] = [], rtt: number[] = [], startup: number[] = [];
    const a = new WindowAgg();
    for (let i = 0; i < 5_000; i++) {
      const l = Math.round(Math.exp(5 + 2 * rnd()) * 100) / 100; // ~150 ms .. 8 s
      const r = Math.round(Math.exp(1 + 4 * rnd()) * 100) / 100; // ~3 ms .. 150 ms
      const s = i % 5 === 0 ? Math.round(300 + 5_000 * rnd() ** 3) : undefined; // once per session
      latency.push(l);
      rtt.push(r);
      if (s !== undefined) startup.push(s);
      a.add(sample({ latency_ms: l, rtt_ms: r, startup_ms: s }), true, false);
    }
    const m = a.metrics();
    expect(m.latency_count).toBe(5_000);
    expect(m.rtt_count).toBe(5_000);
    expect(m.startup_count).toBe(1_000);
    expectWithin1pct(m.latency_p50, exactQuantile(latency, 0.5), 'latency_p50');
    expectWithin1pct(m.latency_p95, exactQuantile(latency, 0.95), 'latency_p95');
    expectWithin1pct(m.latency_p99, exactQuantile(latency, 0.99), 'latency_p99');
    expectWithin1pct(m.rtt_p95, exactQuantile(rtt, 0.95), 'rtt_p95');
    expectWithin1pct(m.startup_p50, exactQuantile(startup, 0.5), 'startup_p50');
    expectWithin1pct(m.startup_p95, exactQuantile(startup, 0.95), 'startup_p95');
    // p50 < p95 < p99 on this spread
    expect(m.latency_p50!).toBeLessThan(m.latency_p95!);
    expect(m.latency_p95!).toBeLessThan(m.latency_p99!);
  });

  it('a merged p95 is not the average of per-window p95s', () => {
    // Window A: 90 × 100 ms + 10 × 5 s (p95 ≈ 5 s); window B: 100 × 100 ms (p95 = 100 ms).
    const a = aggOf([...Array.from({ length: 90 }, () => sample({ latency_ms: 100 })), ...Array.from({ length: 10 }, () => sample({ latency_ms: 5_000 }))]);
    const b = aggOf(Array.from({ length: 100 }, () => sample({ latency_ms: 100 })));
    const pa = a.metrics().latency_p95!, pb = b.metrics().latency_p95!;
    expectWithin1pct(pa, 5_000);
    expectWithin1pct(pb, 100);
    // merged: 200 values, rank 0.95·199 = 189.05 → index 189 of (190×100 ms, 10×5 s) = 100 ms
    const merged = combine([a, b]).metrics().latency_p95!;
    expectWithin1pct(merged, 100);
    expect(Math.abs(merged - (pa + pb) / 2)).toBeGreaterThan(2_000);
  });
});

describe('WindowAgg: freeze', () => {
  it('compacts the sketches and changes no metric; a later sample thaws them', () => {
    const samples = [
      sample({ latency_ms: 120, rtt_ms: 30, startup_ms: 900, packets_lost: 1, packets_expected: 100, play_ms: 10_000 }),
      sample({ latency_ms: 0, rtt_ms: 0.4, startup_ms: 1_500, error: 'E' }),
      sample({ latency_ms: 2_500, rtt_ms: 45, packet_loss: 0.25, play_ms: 8_000, stall_ms: 2_000, stall_count: 1 }),
    ];
    const a = aggOf(samples);
    const before = a.metrics();
    a.freeze();
    expect(isFrozen(a.latency!)).toBe(true);
    expect(isFrozen(a.rtt!)).toBe(true);
    expect(isFrozen(a.startup!)).toBe(true);
    expect(a.metrics()).toEqual(before);
    a.freeze(); // idempotent
    expect(a.metrics()).toEqual(before);

    const extra = sample({ latency_ms: 7_000, rtt_ms: 80, startup_ms: 300 });
    a.add(extra, true, false);
    expect(isFrozen(a.latency!)).toBe(false);
    expect(a.metrics()).toEqual(aggOf([...samples, extra]).metrics());
  });
});

// ---- property tests: any partition merges to the single aggregate ----

/**
 * Realistic values with exact sums: counters are integers, and a packet_loss ratio is a multiple of 1/1024
 * (a dyadic fraction), so every partial sum is exact in binary floating point whatever the merge order. Sketch
 * values have 0.01 ms resolution.
 */
const sampleArb: fc.Arbitrary<Sample> = fc
  .record(
    {
      session: fc.option(fc.constantFrom('a', 'b', 'c', 'd'), { nil: undefined }),
      latency_ms: fc.option(fc.integer({ min: 0, max: 3_000_000 }).map((x) => x / 100), { nil: undefined }),
      rtt_ms: fc.option(fc.oneof(fc.integer({ min: 1, max: 150 }).map((x) => x / 100), fc.integer({ min: 0, max: 100_000 }).map((x) => x / 100)), { nil: undefined }),
      startup_ms: fc.option(fc.integer({ min: 50, max: 2_000_000 }).map((x) => x / 100), { nil: undefined, freq: 4 }),
      loss: fc.oneof(
        fc.constant(undefined),
        fc.integer({ min: 0, max: 1024 }).map((k) => ({ packet_loss: k / 1024 })),
        fc.integer({ min: 0, max: 50_000 }).chain((expected) => fc.integer({ min: 0, max: expected }).map((lost) => ({ packets_lost: lost, packets_expected: expected }))),
      ),
      play: fc.option(
        fc.record({ play_ms: fc.integer({ min: 0, max: 10_000 }), stall_ms: fc.integer({ min: 0, max: 10_000 }), stall_count: fc.integer({ min: 0, max: 20 }) }, { requiredKeys: ['play_ms'] }),
        { nil: undefined },
      ),
      error: fc.option(fc.constantFrom('E1', 'E2', 404), { nil: undefined, freq: 3 }),
    },
    { requiredKeys: [] },
  )
  .map((r) => {
    const s: Sample = { ts: T0, region: 'eu' };
    if (r.session !== undefined) s.session = r.session;
    if (r.latency_ms !== undefined) s.latency_ms = r.latency_ms;
    if (r.rtt_ms !== undefined) s.rtt_ms = r.rtt_ms;
    if (r.startup_ms !== undefined) s.startup_ms = r.startup_ms;
    if (r.loss) Object.assign(s, r.loss);
    if (r.play) Object.assign(s, r.play);
    if (r.error !== undefined) s.error = r.error;
    return s;
  });

/** One entry per sample: the sample, its newSession / newError flags, and the part it goes to. */
const entryArb = fc.tuple(sampleArb, fc.boolean(), fc.boolean(), fc.nat());

function addAll(agg: WindowAgg, entries: readonly (readonly [Sample, boolean, boolean, number])[]): WindowAgg {
  for (const [s, ns, ne] of entries) agg.add(s, ns, ne);
  return agg;
}

/** The §2 metrics computed straight from the samples, without WindowAgg. */
function independentMetrics(entries: readonly (readonly [Sample, boolean, boolean, number])[]) {
  let lost = 0, expected = 0, play = 0, stall = 0, stalls = 0, sessions = 0, errors = 0;
  const lat: number[] = [], rtt: number[] = [], startup: number[] = [];
  for (const [s, ns, ne] of entries) {
    if (ns) sessions++;
    if (ne) errors++;
    if (s.packets_expected !== undefined) { lost += s.packets_lost!; expected += s.packets_expected; }
    if (s.packet_loss !== undefined) { lost += s.packet_loss; expected += 1; }
    if (s.play_ms !== undefined) { play += s.play_ms; stall += s.stall_ms ?? 0; stalls += s.stall_count ?? 0; }
    if (s.latency_ms !== undefined) lat.push(s.latency_ms);
    if (s.rtt_ms !== undefined) rtt.push(s.rtt_ms);
    if (s.startup_ms !== undefined) startup.push(s.startup_ms);
  }
  return { lost, expected, play, stall, stalls, sessions, errors, lat, rtt, startup };
}

function checkAgainstIndependent(m: WindowMetrics, entries: readonly (readonly [Sample, boolean, boolean, number])[]): void {
  const x = independentMetrics(entries);
  expect(m.samples).toBe(entries.length);
  expect(m.sessions).toBe(x.sessions);
  expect(m.error_sessions).toBe(x.errors);
  if (x.sessions > 0) expect(m.error_rate).toBeCloseTo(x.errors / x.sessions, 12);
  else expect(m.error_rate).toBeUndefined();
  if (x.expected > 0) {
    expect(m.packets_lost).toBe(x.lost);
    expect(m.packets_expected).toBe(x.expected);
    expect(m.packet_loss).toBeCloseTo(x.lost / x.expected, 12);
  } else expect(m.packet_loss).toBeUndefined();
  const watched = x.play + x.stall;
  if (watched > 0) {
    expect(m.stall_ratio).toBeCloseTo(x.stall / watched, 12);
    if (x.stalls === 0) expect(m.stalls_per_min).toBe(0);
    else expect(m.stalls_per_min! / (x.stalls / (watched / 60_000))).toBeCloseTo(1, 12);
  } else expect(m.stall_ratio).toBeUndefined();
  const qs = [
    ['latency_p50', x.lat, 0.5], ['latency_p95', x.lat, 0.95], ['latency_p99', x.lat, 0.99],
    ['rtt_p95', x.rtt, 0.95], ['startup_p50', x.startup, 0.5], ['startup_p95', x.startup, 0.95],
  ] as const;
  for (const [k, values, q] of qs) {
    if (values.length === 0) expect(m[k], k).toBeUndefined();
    else expectWithin1pct(m[k], exactQuantile(values, q), k);
  }
}

describe('WindowAgg: merging partitions (property)', () => {
  it('any partition into k parts, merged (some frozen, either order), equals the single aggregate', () => {
    fc.assert(
      fc.property(
        fc.array(entryArb, { minLength: 1, maxLength: 150 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
        (entries, k, frozen) => {
          const single = addAll(new WindowAgg(), entries);
          const sm = single.metrics();
          checkAgainstIndependent(sm, entries);

          const parts = Array.from({ length: k }, (_, i) => addAll(new WindowAgg(), entries.filter((e) => e[3] % k === i)));
          parts.forEach((p, i) => { if (frozen[i]) p.freeze(); });
          const partMetrics = parts.map((p) => p.metrics());

          const viaCombine = combine(parts);
          const viaChain = new WindowAgg();
          for (const p of [...parts].reverse()) viaChain.merge(p);
          // Sums are exact, so the ratios and the (bit-identical) sketch bins give the very same numbers.
          expect(viaCombine.metrics()).toEqual(sm);
          expect(viaChain.metrics()).toEqual(sm);
          checkAgainstIndependent(viaCombine.metrics(), entries);

          // merging left the parts untouched
          parts.forEach((p, i) => expect(p.metrics()).toEqual(partMetrics[i]));

          // freeze() changes no metric, before or after merging
          viaCombine.freeze();
          expect(viaCombine.metrics()).toEqual(sm);
          single.freeze();
          expect(single.metrics()).toEqual(sm);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('merging a merge of frozen parts into another frozen merge is still exact (nested partitions)', () => {
    fc.assert(
      fc.property(fc.array(entryArb, { minLength: 1, maxLength: 120 }), (entries) => {
        const single = addAll(new WindowAgg(), entries).metrics();
        const leaves = [0, 1, 2, 3].map((i) => addAll(new WindowAgg(), entries.filter((e) => e[3] % 4 === i)));
        leaves[0]!.freeze();
        leaves[3]!.freeze();
        const left = combine([leaves[0]!, leaves[1]!]);
        left.freeze();
        const right = combine([leaves[2]!, leaves[3]!]);
        expect(combine([right, left]).metrics()).toEqual(single);
      }),
      { numRuns: 200 },
    );
  });
});

describe('WindowAgg: gauges on merge', () => {
  it('the latest (last merged) gauge wins; an aggregate without a gauge does not erase it', () => {
    const w1 = new WindowAgg(); w1.viewers = 10; w1.concurrency = 100;
    const w2 = new WindowAgg(); w2.viewers = 0; // viewers gone to 0, concurrency not sampled
    const w3 = aggOf([sample({ latency_ms: 5 })]); // no gauges
    const m = combine([w1, w2, w3]).metrics();
    expect(m.viewers).toBe(0);
    expect(m.concurrency).toBe(100);
    expect(combine([w2, w1]).metrics().viewers).toBe(10);
    expect(combine([w3]).metrics()).not.toHaveProperty('viewers');
  });
});

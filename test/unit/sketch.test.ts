import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AnySketch, BIN_LIMIT, MIN_INDEXABLE_MS, RELATIVE_ACCURACY, ZERO_KEY, binKey, freeze, inspectFrozen, isFrozen, mergeInto, newSketch, quantile } from '../../src/telemetry/sketch.js';
import { WindowAgg, keysOf } from '../../src/telemetry/window-agg.js';
import type { DDSketch } from '@datadog/sketches-js';

/**
 * The exact quantile under DDSketch's rank rule: rank = q·(n−1) and the "lower" key lookup (the first bin whose
 * running count exceeds the rank) return the bin holding the sorted element of index floor(rank). The same
 * floating-point expression is used here, so both sides pick the same element.
 */
function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}

/**
 * DDSketch's logarithmic mapping puts x in bin k = ceil(log_γ x), γ = (1+α)/(1−α), covering (γ^(k−1), γ^k], and
 * answers with 2γ^k/(1+γ): the relative distance to any x of the bin is at most (γ−1)/(γ+1) = α = 1 %. Clamping to
 * [min, max] only moves the answer towards x (x lies in that range). The 1e-9 slack covers floating-point error
 * in log/pow (a value on a bin edge may land in the neighbouring bin, whose answer is again within α of it).
 * Zero goes to the zero bucket and is answered exactly.
 */
function withinAccuracy(estimate: number | undefined, exact: number): boolean {
  if (estimate === undefined) return false;
  if (exact === 0) return estimate === 0;
  return Math.abs(estimate - exact) <= RELATIVE_ACCURACY * (1 + 1e-9) * exact;
}

function sketchOf(values: readonly number[]) {
  const s = newSketch();
  for (const v of values) s.accept(v);
  return s;
}

const QS = [0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];

/** Values in ms with 0.01 ms resolution: latency-like (0..60 s), including zero and sub-millisecond values. */
const valueArb = fc.oneof(
  fc.integer({ min: 0, max: 6_000_000 }).map((x) => x / 100),
  fc.integer({ min: 1, max: 150 }).map((x) => x / 100),
  fc.constant(0),
);

describe('sketch: accuracy', () => {
  it('uses the 1 % relative accuracy of PRODUCT.md §2', () => {
    expect(RELATIVE_ACCURACY).toBe(0.01);
    // γ = (1+α)/(1−α) for α = 1 %.
    expect(newSketch().mapping.gamma).toBeCloseTo(1.01 / 0.99, 12);
  });

  it('answers undefined for an empty sketch, live or frozen', () => {
    const s = newSketch();
    expect(quantile(s, 0.5)).toBeUndefined();
    expect(quantile(freeze(s), 0.5)).toBeUndefined();
  });

  it('answers a single value exactly (clamped to [min, max])', () => {
    for (const v of [0.37, 1, 42, 1234.5, 599_999]) {
      const s = sketchOf([v]);
      for (const q of QS) {
        expect(quantile(s, q)).toBe(v);
        expect(quantile(freeze(s), q)).toBe(v);
      }
    }
  });

  it('clamps answers to the observed [min, max] (a bin representative may lie outside it)', () => {
    // 8 and 1000.25 sit in bins whose representative values are below 8 / above 1000.25 respectively (checked
    // below): unclamped, q=0 would answer less than the minimum and q=1 more than the maximum.
    const s = sketchOf([17.3, 250, 8, 99.9, 1000.25, 44]);
    expect(s.getValueAtQuantile(0)).toBeLessThan(8);
    expect(s.getValueAtQuantile(1)).toBeGreaterThan(1000.25);
    expect(quantile(s, 0)).toBe(8);
    expect(quantile(s, 1)).toBe(1000.25);
    expect(quantile(freeze(s), 0)).toBe(8);
    expect(quantile(freeze(s), 1)).toBe(1000.25);
  });

  it('property: answers always lie in [min, max]', () => {
    fc.assert(
      fc.property(fc.array(valueArb, { minLength: 1, maxLength: 100 }), fc.double({ min: 0, max: 1, noNaN: true }), (values, q) => {
        const s = sketchOf(values);
        const lo = Math.min(...values), hi = Math.max(...values);
        for (const sk of [s, freeze(s)] as AnySketch[]) {
          const v = quantile(sk, q)!;
          expect(v).toBeGreaterThanOrEqual(lo);
          expect(v).toBeLessThanOrEqual(hi);
        }
      }),
    );
  });

  it('is within 1 % of the exact quantile of a known distribution (1..10000 ms)', () => {
    const values = Array.from({ length: 10_000 }, (_, i) => i + 1);
    const s = sketchOf(values);
    // With values 1..10000, the element of index floor(q·9999) is floor(q·9999) + 1.
    for (const [q, exact] of [[0.5, 5000], [0.95, 9500], [0.99, 9900]] as const) {
      expect(exactQuantile(values, q)).toBe(exact);
      const est = quantile(s, q)!;
      expect(Math.abs(est - exact) / exact).toBeLessThanOrEqual(0.01);
    }
  });

  it('does not average: a bimodal distribution keeps its modes', () => {
    // 90 fast samples at 100 ms and 10 slow at 5000 ms: p50 ≈ 100, p95 ≈ 5000 (the mean would be 590).
    const s = sketchOf([...Array<number>(90).fill(100), ...Array<number>(10).fill(5000)]);
    expect(withinAccuracy(quantile(s, 0.5), 100)).toBe(true);
    expect(withinAccuracy(quantile(s, 0.95), 5000)).toBe(true);
  });

  it('answers 0 for ranks that fall on zero values', () => {
    const s = sketchOf([0, 0, 0, 10, 20]);
    expect(s.zeroCount).toBe(3);
    const f = freeze(s);
    for (const sk of [s, f] as AnySketch[]) {
      expect(quantile(sk, 0)).toBe(0);
      expect(quantile(sk, 0.5)).toBe(0); // rank 2 → third zero
      expect(withinAccuracy(quantile(sk, 0.75), 10)).toBe(true); // rank 3
      expect(withinAccuracy(quantile(sk, 1), 20)).toBe(true);
    }
  });

  it('property: every quantile is within 1 % of the exact one, live and frozen', () => {
    fc.assert(
      fc.property(fc.array(valueArb, { minLength: 1, maxLength: 300 }), fc.double({ min: 0, max: 1, noNaN: true }), (values, q) => {
        const sorted = [...values].sort((a, b) => a - b);
        const s = sketchOf(values);
        for (const qq of [...QS, q]) {
          const exact = exactQuantile(sorted, qq);
          expect(withinAccuracy(quantile(s, qq), exact), `q=${qq} live`).toBe(true);
          expect(withinAccuracy(quantile(freeze(s), qq), exact), `q=${qq} frozen`).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('sketch: freeze', () => {
  it('keeps only the non-empty bins in key order with the summary stats', () => {
    const values = [3, 3, 3, 50, 50, 700, 0, 12.5];
    const s = sketchOf(values);
    const f = freeze(s);
    expect(isFrozen(f)).toBe(true);
    expect(isFrozen(s)).toBe(false);
    expect(inspectFrozen(f).zeroCount).toBe(1);
    expect(inspectFrozen(f).count).toBe(values.length);
    expect(inspectFrozen(f).min).toBe(0);
    expect(inspectFrozen(f).max).toBe(700);
    expect(inspectFrozen(f).sum).toBeCloseTo(values.reduce((a, b) => a + b, 0), 9);
    // 3, 12.5, 50 and 700 are more than 2 % apart: four distinct bins.
    expect(inspectFrozen(f).keys.length).toBe(4);
    expect(inspectFrozen(f).counts).toEqual([3, 1, 2, 1]);
    for (let i = 1; i < inspectFrozen(f).keys.length; i++) expect(inspectFrozen(f).keys[i]!).toBeGreaterThan(inspectFrozen(f).keys[i - 1]!);
    expect(inspectFrozen(f).keys[0]).toBe(s.mapping.key(3));
    expect(inspectFrozen(f).keys[3]).toBe(s.mapping.key(700));
  });

  it('round-trips every bin, also huge counts, extreme keys and a wide sketch', () => {
    // The lowest key a sketch holds is that of 1 µs (smaller values count as zero); a value near the largest
    // double gives a key far outside 16 bits (a first step of several varint units), with the bins below it
    // collapsed to stay within BIN_LIMIT. Counts past 2^15 and 2^30 need several varint units.
    const wide = newSketch();
    wide.accept(1e-300, 3);
    wide.accept(0.0011, 2);
    wide.accept(2.5, 40_000);
    wide.accept(7, 2 ** 31 + 5);
    for (let v = 1; v < 1e6; v *= 1.03) wide.accept(v); // ~470 neighbouring bins
    const far = newSketch();
    far.accept(1e300, 1);
    far.accept(1e299, 2 ** 40);
    far.accept(5, 7);
    for (const [s, check] of [[wide, (keys: number[]) => expect(keys[0]).toBeLessThan(-300)], [far, (keys: number[]) => expect(keys.at(-1)).toBeGreaterThan(30_000)]] as const) {
      const live: [number, number][] = [];
      s.store.bins.forEach((c, i) => c > 0 && live.push([i + s.store.offset, c]));
      const f = inspectFrozen(freeze(s));
      expect(f.keys.map((k, i) => [k, f.counts[i]!])).toEqual(live);
      check(f.keys);
      expect([f.count, f.zeroCount, f.sum, f.min, f.max]).toEqual([s.count, s.zeroCount, s.sum, s.min, s.max]);
      const into = newSketch();
      mergeInto(into, freeze(s));
      for (const q of QS) expect(quantile(into, q)).toBe(quantile(s, q));
    }
  });

  it('takes about two bytes per bin', () => {
    const s = sketchOf(Array.from({ length: 300 }, (_, i) => 10 + i * 7));
    const f = freeze(s);
    const bins = inspectFrozen(f).keys.length;
    expect(bins).toBeGreaterThan(100);
    // 2 varints + 3 doubles of header, then one unit per key step and per count below 2^15
    expect(f.length).toBe(2 + 12 + 2 * bins);
  });

  it('is much smaller than the dense store of a live sketch', () => {
    const s = sketchOf([1, 1_000, 100_000]);
    const f = freeze(s);
    expect(inspectFrozen(f).keys.length).toBe(3);
    expect(s.store.bins.length).toBeGreaterThan(100);
  });

  it('property: a frozen sketch answers every quantile exactly like the live one', () => {
    fc.assert(
      fc.property(fc.array(valueArb, { maxLength: 300 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 10 }), (values, qs) => {
        const s = sketchOf(values);
        const f = freeze(s);
        expect(inspectFrozen(f).count).toBe(s.count);
        expect(inspectFrozen(f).min).toBe(s.min);
        expect(inspectFrozen(f).max).toBe(s.max);
        for (const q of [...QS, ...qs]) expect(quantile(f, q)).toBe(quantile(s, q));
      }),
      { numRuns: 300 },
    );
  });
});

describe('sketch: mergeInto', () => {
  it('merging an empty sketch changes nothing', () => {
    const s = sketchOf([5, 10]);
    mergeInto(s, newSketch());
    mergeInto(s, freeze(newSketch()));
    expect(s.count).toBe(2);
    expect(s.min).toBe(5);
    expect(s.max).toBe(10);
  });

  it('merges into an empty sketch (live and frozen sources)', () => {
    const src = sketchOf([5, 10, 20]);
    for (const from of [src, freeze(src)] as AnySketch[]) {
      const into = newSketch();
      mergeInto(into, from);
      expect(into.count).toBe(3);
      expect(into.min).toBe(5);
      expect(into.max).toBe(20);
      for (const q of QS) expect(quantile(into, q)).toBe(quantile(src, q));
    }
  });

  it('does not modify the source', () => {
    const a = sketchOf([1, 2, 3]);
    const fa = freeze(a);
    const keys = inspectFrozen(fa).keys;
    const into = sketchOf([100]);
    mergeInto(into, a);
    mergeInto(into, fa);
    into.accept(1e5);
    expect(a.count).toBe(3);
    expect(a.max).toBe(3);
    expect(inspectFrozen(fa).keys).toEqual(keys);
    expect(inspectFrozen(fa).count).toBe(3);
  });

  it('regression: merges a part whose largest value is ~1 ms (bin key 0) into sub-millisecond data', () => {
    // The sketches-js DenseStore.merge extends its range with `secondKey || key`, which drops a maximum key of 0
    // (values in (1/γ, 1]) and leaves NaN bins; mergeInto must not lose or corrupt those values.
    const into = sketchOf([0.02, 0.03, 0.05]);
    const from = sketchOf([0.02, 1]);
    mergeInto(into, from);
    const all = [0.02, 0.03, 0.05, 0.02, 1].sort((a, b) => a - b);
    expect(into.count).toBe(5);
    for (const q of QS) expect(withinAccuracy(quantile(into, q), exactQuantile(all, q)), `q=${q}`).toBe(true);
    expect(into.max).toBe(1);
    const f = freeze(into);
    expect(inspectFrozen(f).counts.every(Number.isFinite)).toBe(true);
    expect(inspectFrozen(f).counts.reduce((a, b) => a + b, inspectFrozen(f).zeroCount)).toBe(5);
  });

  it('property: merging parts (live or frozen) equals one sketch of all values, bin for bin', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(valueArb, fc.nat(), fc.boolean()), { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
        (entries, k, frozenParts) => {
          const values = entries.map(([v]) => v);
          const parts = Array.from({ length: k }, () => newSketch());
          for (const [v, p] of entries) parts[p % k]!.accept(v);
          const merged = newSketch();
          parts.forEach((p, i) => mergeInto(merged, frozenParts[i] ? freeze(p) : p));

          const single = sketchOf(values);
          expect(merged.count).toBe(single.count);
          expect(merged.zeroCount).toBe(single.zeroCount);
          expect(merged.min).toBe(single.min);
          expect(merged.max).toBe(single.max);
          const fm = freeze(merged), fs = freeze(single);
          expect(inspectFrozen(fm).keys).toEqual(inspectFrozen(fs).keys);
          expect(inspectFrozen(fm).counts).toEqual(inspectFrozen(fs).counts);

          const sorted = [...values].sort((a, b) => a - b);
          for (const q of QS) {
            expect(quantile(merged, q)).toBe(quantile(single, q));
            expect(withinAccuracy(quantile(merged, q), exactQuantile(sorted, q))).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: sub-millisecond parts merge without losing values', () => {
    // Targets bins around key 0 (≈1 ms), where the library's own merge goes wrong.
    const tiny = fc.integer({ min: 1, max: 30 }).map((x) => x / 100);
    const subMs = fc.oneof(fc.integer({ min: 1, max: 120 }).map((x) => x / 100), fc.constant(1));
    fc.assert(
      fc.property(fc.array(fc.oneof(tiny, subMs), { minLength: 1, maxLength: 20 }), fc.array(subMs, { minLength: 1, maxLength: 20 }), (a, b) => {
        const into = sketchOf(a);
        mergeInto(into, sketchOf(b));
        const single = sketchOf([...a, ...b]);
        expect(into.count).toBe(single.count);
        for (const q of QS) expect(quantile(into, q)).toBe(quantile(single, q));
      }),
      { numRuns: 500 },
    );
  });
});

describe('sketch: memory bound whatever the input', () => {
  /** Any finite double, with the extremes drawn often: subnormals, the smallest normal, ±MAX_VALUE, ±0. */
  const anyDouble = fc.oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom(0, -0, Number.MIN_VALUE, 2.3e-308, 2.2250738585072014e-308, 1e-300, 1e-9, 0.001, 1e300, Number.MAX_VALUE, -Number.MAX_VALUE, -1),
    valueArb,
  );
  /** A sample with arbitrary doubles in the sketched fields (the aggregation is fed directly, past validation). */
  const hostileSample = fc.record({ latency_ms: anyDouble, rtt_ms: anyDouble, startup_ms: anyDouble });
  /** Steps on a few window aggregates: add a sample, merge one into another, freeze one (later adds revive it). */
  const step = fc.oneof(
    { weight: 8, arbitrary: fc.tuple(fc.constant('add' as const), fc.nat(2), hostileSample) },
    { weight: 1, arbitrary: fc.tuple(fc.constant('merge' as const), fc.nat(2), fc.nat(2)) },
    { weight: 1, arbitrary: fc.tuple(fc.constant('freeze' as const), fc.nat(2)) },
  );

  /**
   * Frozen: count and zero count (≤ 4 units each below 2^60), sum/min/max (12), the first key's step (≤ 2: keys
   * lie within ±37 300), then per bin a step (1: steps are below BIN_LIMIT) and a count (≤ 4): 5 145 units, 10 KiB.
   */
  const FROZEN_MAX_UNITS = 4 + 4 + 12 + 2 + (BIN_LIMIT - 1) + 4 * BIN_LIMIT;

  function expectBounded(s: AnySketch | undefined): void {
    if (s === undefined) return;
    if (isFrozen(s)) expect(s.length).toBeLessThanOrEqual(FROZEN_MAX_UNITS);
    else expect(s.store.bins.length).toBeLessThanOrEqual(BIN_LIMIT);
  }

  it('property: random finite doubles never make a sketch hold more than its bin limit, live or frozen', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 120 }), (steps) => {
        const aggs = [new WindowAgg(), new WindowAgg(), new WindowAgg()];
        for (const st of steps) {
          if (st[0] === 'add') aggs[st[1]]!.add({ ts: 0, region: 'r', ...st[2] }, true, false);
          else if (st[0] === 'merge') aggs[st[1]]!.merge(aggs[st[2]]!);
          else aggs[st[1]]!.freeze();
          for (const a of aggs) for (const s of [a.latency, a.rtt, a.startup]) expectBounded(s);
        }
        for (const a of aggs) {
          const m = a.metrics();
          for (const v of [m.latency_p50, m.latency_p95, m.latency_p99, m.rtt_p95, m.startup_p50, m.startup_p95]) if (v !== undefined) expect(Number.isNaN(v)).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('sketch: the bound in bytes and the accuracy it keeps', () => {
  it('a live sketch as wide as it can get holds BIN_LIMIT bins: ≤ 9 KiB of heap each, ≤ 27 KiB per window aggregate (measured)', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const N = 400;
    const keep: WindowAgg[] = [];
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < N; i++) {
      const a = new WindowAgg();
      // The widest sketches there are: tiny and huge values in every field, and the full valid range between.
      for (const v of [2.3e-308, 0.0011, 1, 1000, 600_000, Number.MAX_VALUE, 1e-300, 5e-324]) a.add({ ts: 0, region: 'r', latency_ms: v, rtt_ms: v, startup_ms: v }, true, false);
      keep.push(a);
    }
    gc();
    const perAgg = (process.memoryUsage().heapUsed - before) / N;
    for (const a of keep) for (const s of [a.latency, a.rtt, a.startup] as DDSketch[]) expect(s.store.bins.length).toBe(BIN_LIMIT);
    // Measured 25.6 KiB (8 KiB of bins per sketch, the rest objects and array slack); the ~36 k-bin sketches of
    // before took ~290 KB each.
    expect(perAgg).toBeLessThanOrEqual(27 * 1024);
  });

  it('property: any valid field value (0..600 000 ms, subnormals included) keeps every quantile within 1 %, or within 1 µs at or below 1 µs', () => {
    const valid = fc.oneof(fc.double({ min: 0, max: 600_000, noNaN: true }), fc.constantFrom(0, Number.MIN_VALUE, 2.3e-308, 0.001, 0.0010001, 600_000), valueArb);
    fc.assert(
      fc.property(fc.array(valid, { minLength: 1, maxLength: 200 }), (values) => {
        const sorted = [...values].sort((a, b) => a - b);
        const s = sketchOf(values);
        expect(s.store.bins.length).toBeLessThanOrEqual(BIN_LIMIT);
        for (const q of [...QS, 0.5, 0.95, 0.99]) {
          const exact = exactQuantile(sorted, q);
          for (const sk of [s, freeze(s)] as AnySketch[]) {
            const est = quantile(sk, q)!;
            if (exact <= MIN_INDEXABLE_MS) expect(Math.abs(est - exact)).toBeLessThanOrEqual(MIN_INDEXABLE_MS);
            else expect(withinAccuracy(est, exact), `q=${q}`).toBe(true);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('counts values at or below 1 µs, negatives and NaN as zero; keeps a collapsed sketch whole', () => {
    const s = newSketch();
    for (const v of [0, -0, 5e-324, 2.3e-308, 0.001, -1, -Number.MAX_VALUE, Number.NaN]) s.accept(v);
    expect(s.zeroCount).toBe(8);
    expect(s.negativeStore.count).toBe(0);
    expect(s.min).toBe(0);
    s.accept(600_000);
    s.accept(Number.MAX_VALUE); // ~35 000 keys above: everything below collapses into the lowest bin kept
    s.accept(Number.POSITIVE_INFINITY);
    expect(s.store.bins.length).toBeLessThanOrEqual(BIN_LIMIT);
    expect(s.store.bins.reduce((a, b) => a + b, 0)).toBe(3);
    expect(s.count).toBe(11);
    expect(quantile(s, 1)).toBe(Number.MAX_VALUE);
    expect(quantile(s, 0.5)).toBe(0);
  });
});

describe('sketch: growing bins and precomputed keys', () => {
  /** Counts per bin key, straight from the mapping: what any store must hold for values whose keys span ≤ BIN_LIMIT. */
  function model(values: readonly number[]): { zeros: number; bins: Map<number, number> } {
    const bins = new Map<number, number>();
    let zeros = 0;
    const mapping = newSketch().mapping;
    for (const v of values) {
      if (v > MIN_INDEXABLE_MS) bins.set(mapping.key(v), (bins.get(mapping.key(v)) ?? 0) + 1);
      else zeros++;
    }
    return { zeros, bins };
  }

  it('bins grown in any order of keys hold exactly the count of every key (within BIN_LIMIT bins)', () => {
    // Values from 1 µs to 600 000 ms span 1 012 keys: inserted in random order, the bins grow down, up and both ways.
    const wide = fc.oneof(fc.double({ min: 0.0011, max: 600_000, noNaN: true }), fc.integer({ min: 900, max: 1300 }), fc.constant(0));
    fc.assert(
      fc.property(fc.array(wide, { maxLength: 400 }), (values) => {
        const s = sketchOf(values);
        expect(s.store.bins.length).toBeLessThanOrEqual(BIN_LIMIT);
        const f = inspectFrozen(freeze(s));
        const m = model(values);
        expect(f.count).toBe(values.length);
        expect(f.zeroCount).toBe(m.zeros);
        expect(new Map(f.keys.map((k, i) => [k, f.counts[i]!]))).toEqual(m.bins);
      }),
      { numRuns: 300 },
    );
  });

  it('a sample’s values add the same with their keys computed once as with accept', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ latency_ms: valueArb, rtt_ms: fc.option(valueArb, { nil: undefined }) }), { minLength: 1, maxLength: 60 }), (samples) => {
        const keyed = new WindowAgg();
        const plain = { latency: newSketch(), rtt: newSketch() };
        for (const s of samples) {
          keyed.add({ ts: 0, region: 'eu', ...s }, false, false, keysOf({ ts: 0, region: 'eu', ...s }));
          plain.latency.accept(s.latency_ms);
          if (s.rtt_ms !== undefined) plain.rtt.accept(s.rtt_ms);
        }
        expect(freeze(keyed.latency as DDSketch)).toBe(freeze(plain.latency));
        if (samples.some((s) => s.rtt_ms !== undefined)) expect(freeze(keyed.rtt as DDSketch)).toBe(freeze(plain.rtt));
      }),
      { numRuns: 200 },
    );
  });

  it('binKey puts values at or below 1 µs, negatives and NaN in the zero count, and caps Infinity', () => {
    for (const v of [0, -0, -5, Number.NaN, MIN_INDEXABLE_MS, 1e-300]) expect(binKey(v)).toBe(ZERO_KEY);
    expect(binKey(Number.POSITIVE_INFINITY)).toBe(binKey(Number.MAX_VALUE));
    expect(binKey(1000)).toBe(newSketch().mapping.key(1000));
  });
});

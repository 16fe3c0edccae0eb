import { DDSketch } from '@datadog/sketches-js';

/** PRODUCT.md §2: percentiles from DDSketch with relative error ≤ 1 %. */
export const RELATIVE_ACCURACY = 0.01;

/**
 * A closed window's sketch: only the non-empty bins, in key order. A live DDSketch keeps a dense array grown in
 * chunks of 128 bins, which is too much to hold for every (series, window) of the evaluation horizon.
 */
export interface FrozenSketch {
  readonly keys: Int32Array;
  readonly counts: Float64Array;
  readonly zeroCount: number;
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
}

export type AnySketch = DDSketch | FrozenSketch;

export function newSketch(): DDSketch {
  return new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY });
}

export function isFrozen(s: AnySketch): s is FrozenSketch {
  return (s as FrozenSketch).keys instanceof Int32Array;
}

/** Values here are validated non-negative, so only the positive store and the zero count are used. */
export function freeze(s: DDSketch): FrozenSketch {
  const { bins, offset } = s.store;
  let n = 0;
  for (const b of bins) if (b > 0) n++;
  const keys = new Int32Array(n);
  const counts = new Float64Array(n);
  let j = 0;
  for (let i = 0; i < bins.length; i++) {
    const b = bins[i]!;
    if (b > 0) {
      keys[j] = i + offset;
      counts[j++] = b;
    }
  }
  return { keys, counts, zeroCount: s.zeroCount, count: s.count, sum: s.sum, min: s.min, max: s.max };
}

/**
 * Adds `from` into `into` bin by bin (exact: same mapping). Live sketches are not merged with `DDSketch.merge`:
 * its `DenseStore.merge` extends the range with `secondKey || key`, so a source whose largest key is 0 (values
 * in (1/γ, 1], about 1 ms) is added outside the bins (lost, NaN counts) when the target holds only smaller values.
 */
export function mergeInto(into: DDSketch, from: AnySketch): void {
  if (from.count === 0) return;
  if (!isFrozen(from)) {
    const { bins, offset } = from.store;
    for (let i = 0; i < bins.length; i++) {
      const b = bins[i]!;
      if (b > 0) into.store.add(i + offset, b);
    }
  } else {
    for (let i = 0; i < from.keys.length; i++) into.store.add(from.keys[i]!, from.counts[i]!);
  }
  into.zeroCount += from.zeroCount;
  into.count += from.count;
  into.sum += from.sum;
  if (from.min < into.min) into.min = from.min;
  if (from.max > into.max) into.max = from.max;
}

/** The quantile, clamped to the observed range (the bin's representative value may lie just outside it). */
export function quantile(s: AnySketch, q: number): number | undefined {
  if (s.count === 0) return undefined;
  let v: number;
  if (!isFrozen(s)) {
    v = s.getValueAtQuantile(q);
  } else {
    // Same rank rule as DDSketch.getValueAtQuantile.
    const rank = q * (s.count - 1);
    if (rank < s.zeroCount) return 0;
    let running = s.zeroCount;
    let key = s.keys[s.keys.length - 1]!;
    for (let i = 0; i < s.keys.length; i++) {
      running += s.counts[i]!;
      if (running > rank) {
        key = s.keys[i]!;
        break;
      }
    }
    v = MAPPING.value(key);
  }
  return Math.min(Math.max(v, s.min), s.max);
}

const MAPPING = newSketch().mapping;

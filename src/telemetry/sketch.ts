import { DDSketch } from '@datadog/sketches-js';

/** PRODUCT.md §2: percentiles from DDSketch with relative error ≤ 1 %. */
export const RELATIVE_ACCURACY = 0.01;

const REFERENCE = new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY });
const MAPPING = REFERENCE.mapping;
const NO_NEGATIVES = REFERENCE.negativeStore;

const HEADER = 5;

/**
 * A closed window's sketch: only the non-empty bins, in key order. A live DDSketch keeps a dense array grown in
 * chunks, which is too much to hold for every (series, window) of the evaluation horizon. It is a plain array of
 * doubles — [count, zeroCount, sum, min, max, keys…, counts…] — because at 10 k series × 30 windows the per-object
 * overhead of a record with two typed arrays (each with its ArrayBuffer) was most of the store's memory.
 */
export type FrozenSketch = number[] & { readonly __frozen: unique symbol };

const binsOf = (f: FrozenSketch) => (f.length - HEADER) / 2;
/** A frozen sketch's fields by name (inspection, tests). */
export function inspectFrozen(f: FrozenSketch): { count: number; zeroCount: number; sum: number; min: number; max: number; keys: number[]; counts: number[] } {
  const n = binsOf(f);
  return { count: f[0]!, zeroCount: f[1]!, sum: f[2]!, min: f[3]!, max: f[4]!, keys: f.slice(HEADER, HEADER + n), counts: f.slice(HEADER + n) };
}

export type AnySketch = DDSketch | FrozenSketch;

/** Bins a live sketch grows by: the library's 128 (1 KiB) is most of the memory of a window with few samples. */
const CHUNK = 16;

/**
 * A live sketch for one open window. All share one mapping (immutable) and one empty negative store (values are
 * validated non-negative: nothing is ever added to it), so an open window costs its positive bins only.
 */
export function newSketch(): DDSketch {
  const s = new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY });
  s.mapping = MAPPING;
  s.negativeStore = NO_NEGATIVES;
  s.store.chunkSize = CHUNK;
  return s;
}

export function isFrozen(s: AnySketch): s is FrozenSketch {
  return Array.isArray(s);
}

/** count, zeroCount, sum, min, max of either kind. */
const COUNT = 0, ZEROS = 1, SUM = 2, MIN = 3, MAX = 4;
export const sketchCount = (s: AnySketch): number => (isFrozen(s) ? s[COUNT]! : s.count);

/** Values here are validated non-negative, so only the positive store and the zero count are used. */
export function freeze(s: DDSketch): FrozenSketch {
  const { bins, offset } = s.store;
  const f: number[] = [s.count, s.zeroCount, s.sum, s.min, s.max];
  for (let i = 0; i < bins.length; i++) if (bins[i]! > 0) f.push(i + offset);
  for (let i = 0; i < bins.length; i++) if (bins[i]! > 0) f.push(bins[i]!);
  return f as FrozenSketch;
}

/**
 * Adds `from` into `into` bin by bin (exact: same mapping). Live sketches are not merged with `DDSketch.merge`:
 * its `DenseStore.merge` extends the range with `secondKey || key`, so a source whose largest key is 0 (values
 * in (1/γ, 1], about 1 ms) is added outside the bins (lost, NaN counts) when the target holds only smaller values.
 */
export function mergeInto(into: DDSketch, from: AnySketch): void {
  if (sketchCount(from) === 0) return;
  if (!isFrozen(from)) {
    const { bins, offset } = from.store;
    for (let i = 0; i < bins.length; i++) {
      const b = bins[i]!;
      if (b > 0) into.store.add(i + offset, b);
    }
    into.zeroCount += from.zeroCount;
    into.count += from.count;
    into.sum += from.sum;
    if (from.min < into.min) into.min = from.min;
    if (from.max > into.max) into.max = from.max;
    return;
  }
  const n = binsOf(from);
  for (let i = 0; i < n; i++) into.store.add(from[HEADER + i]!, from[HEADER + n + i]!);
  into.zeroCount += from[ZEROS]!;
  into.count += from[COUNT]!;
  into.sum += from[SUM]!;
  if (from[MIN]! < into.min) into.min = from[MIN]!;
  if (from[MAX]! > into.max) into.max = from[MAX]!;
}

/** The quantile, clamped to the observed range (the bin's representative value may lie just outside it). */
export function quantile(s: AnySketch, q: number): number | undefined {
  if (!isFrozen(s)) return s.count === 0 ? undefined : Math.min(Math.max(s.getValueAtQuantile(q), s.min), s.max);
  const count = s[COUNT]!;
  if (count === 0) return undefined;
  // Same rank rule as DDSketch.getValueAtQuantile.
  const rank = q * (count - 1);
  let running = s[ZEROS]!;
  if (rank < running) return 0;
  const n = binsOf(s);
  let key = s[HEADER + n - 1]!;
  for (let i = 0; i < n; i++) {
    running += s[HEADER + n + i]!;
    if (running > rank) {
      key = s[HEADER + i]!;
      break;
    }
  }
  return Math.min(Math.max(MAPPING.value(key), s[MIN]!), s[MAX]!);
}

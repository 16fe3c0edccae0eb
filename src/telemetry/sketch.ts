import { DDSketch } from '@datadog/sketches-js';
import { DenseStore } from '@datadog/sketches-js/dist/ddsketch/store/index.js';

/** PRODUCT.md §2: percentiles from DDSketch with relative error ≤ 1 %. */
export const RELATIVE_ACCURACY = 0.01;

/**
 * Values (ms) at or below 1 µs count as zero, as DDSketch's own minimum indexable value does for ~1e-308: a bin
 * key is ~50 per factor e of range (ln γ ≈ 0.02), so 2.3e-308 beside 600 000 ms spanned ~36 k bins (~290 KB) per
 * sketch. Below 1 µs a latency is zero for every purpose here; its quantile answers 0 (clamped to the minimum).
 */
export const MIN_INDEXABLE_MS = 0.001;

/**
 * Most bins a live sketch holds; beyond, the lowest collapse into one (as DDSketch's collapsing-lowest stores do),
 * so the high quantiles the rules read keep their accuracy. 1 µs to 600 000 ms (the largest field value) is 1 012
 * bins, so no valid input ever collapses. Bound: 1 024 bins × 8 B = 8 KiB per live sketch, ≤ 9 KiB with its
 * objects, ≤ 27 KiB for the three of a window aggregate (measured 25.6 KiB in test/unit/sketch.test.ts); frozen,
 * at most 5 145 16-bit units (10 KiB), ~4 KiB when counts stay below 2^15.
 */
export const BIN_LIMIT = 1024;

const REFERENCE = new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY });
const MAPPING = REFERENCE.mapping;
const NO_NEGATIVES = REFERENCE.negativeStore;

/**
 * A closed window's sketch: only the non-empty bins, packed into a string of 16-bit units — count and zero count
 * as varints, sum, min and max as raw doubles (4 units each), then per bin the key's step from the previous one
 * (zigzag varint; the first from 0) and its count (varint); a varint unit carries 15 bits and its top bit says
 * "more follows" (counts are whole: one per sample). Tens of thousands of series × the windows the rules read each
 * hold up to three of these, so size is what matters: ~2 bytes per bin against 16 in a plain array of doubles (plus
 * its headers), and a string is one heap object with no backing store of its own.
 */
export type FrozenSketch = string & { readonly __frozen: unique symbol };

const f64 = new Float64Array(1);
const u16 = new Uint16Array(f64.buffer);

function pushVarint(out: number[], n: number): void {
  while (n >= 0x8000) {
    out.push(0x8000 | (n % 0x8000));
    n = Math.floor(n / 0x8000);
  }
  out.push(n);
}

function pushDouble(out: number[], x: number): void {
  f64[0] = x;
  out.push(u16[0]!, u16[1]!, u16[2]!, u16[3]!);
}

/** Reads a frozen sketch front to back. */
class Reader {
  i = 0;
  private lastKey = 0;
  constructor(private readonly s: string) {}
  get done(): boolean {
    return this.i >= this.s.length;
  }
  varint(): number {
    let n = 0;
    let scale = 1;
    for (;;) {
      const u = this.s.charCodeAt(this.i++);
      n += (u & 0x7fff) * scale;
      if (u < 0x8000) return n;
      scale *= 0x8000;
    }
  }
  /** The next bin's key: keys are stored as zigzag steps from the previous one (the first from 0). */
  key(): number {
    const z = this.varint();
    return (this.lastKey += z % 2 === 0 ? z / 2 : -(z + 1) / 2);
  }
  double(): number {
    for (let k = 0; k < 4; k++) u16[k] = this.s.charCodeAt(this.i++);
    return f64[0]!;
  }
}

interface Summary {
  count: number;
  zeroCount: number;
  sum: number;
  min: number;
  max: number;
}

function readSummary(r: Reader): Summary {
  return { count: r.varint(), zeroCount: r.varint(), sum: r.double(), min: r.double(), max: r.double() };
}

/** Calls `bin` for every non-empty bin in key order. */
function forEachBin(r: Reader, bin: (key: number, count: number) => boolean | void): void {
  while (!r.done) if (bin(r.key(), r.varint()) === true) return;
}

/** A frozen sketch's fields by name (inspection, tests). */
export function inspectFrozen(f: FrozenSketch): Summary & { keys: number[]; counts: number[] } {
  const r = new Reader(f);
  const out = { ...readSummary(r), keys: [] as number[], counts: [] as number[] };
  forEachBin(r, (k, c) => {
    out.keys.push(k);
    out.counts.push(c);
  });
  return out;
}

export type AnySketch = LiveSketch | FrozenSketch;

/**
 * Bins a live sketch starts with: the library's 128 (1 KiB) is most of the memory of a window with few samples.
 * Beyond, it doubles (at most to BIN_LIMIT).
 */
const CHUNK = 16;

/**
 * A dense store that never spans more than BIN_LIMIT keys: a key above the range collapses the lowest bins into
 * the lowest one kept, a key below it is counted there. (The library's CollapsingLowestDenseStore double-counts a
 * bin when it collapses — its sumOfRange includes the end index it then adds to — so it is not used.)
 */
class BoundedStore extends DenseStore {
  constructor() {
    super(CHUNK);
  }

  /** A key inside the range held, as nearly every one is once a window has a few samples, only counts. */
  override add(key: number, weight = 1): void {
    if (key >= this.minKey && key <= this.maxKey) {
      this.bins[key - this.offset]! += weight;
      this.count += weight;
    } else super.add(key, weight);
  }

  override _getIndex(key: number): number {
    if (key > this.maxKey) {
      const lowest = key - BIN_LIMIT + 1;
      if (this.minKey < lowest) this.collapseBelow(lowest);
    } else if (key < this.maxKey - BIN_LIMIT + 1) {
      key = this.maxKey - BIN_LIMIT + 1;
    }
    return super._getIndex(key);
  }

  /**
   * Grows the bins to hold [min, max] with the new keys: within the bins already there only the range moves; else
   * they double, with the range centred. (The library re-centres — slices and unshifts the whole array — at every
   * new lowest key, and grows by one chunk at a time.)
   */
  override _extendRange(key: number, secondKey = key): void {
    const lo = Math.min(key, secondKey, this.minKey);
    const hi = Math.max(key, secondKey, this.maxKey);
    const bins = this.bins;
    if (lo >= this.offset && hi < this.offset + bins.length) {
      this.minKey = lo;
      this.maxKey = hi;
      return;
    }
    const span = hi - lo + 1;
    const length = Math.min(BIN_LIMIT, Math.max(CHUNK * Math.ceil(span / CHUNK), 2 * bins.length));
    const offset = lo - Math.floor((length - span) / 2);
    const grown: number[] = new Array<number>(length).fill(0);
    for (let k = this.minKey; k <= this.maxKey; k++) grown[k - offset] = bins[k - this.offset]!;
    this.bins = grown;
    this.offset = offset;
    this.minKey = lo;
    this.maxKey = hi;
  }

  /** Moves the counts of every key below `lowest` into `lowest`'s bin. */
  private collapseBelow(lowest: number): void {
    let moved = 0;
    for (let k = this.minKey; k <= this.maxKey && k < lowest; k++) {
      moved += this.bins[k - this.offset]!;
      this.bins[k - this.offset] = 0;
    }
    if (lowest <= this.maxKey) {
      this.bins[lowest - this.offset]! += moved;
    } else {
      // Everything collapses into a key past the bins: restart them there (their length stays ≤ BIN_LIMIT).
      this.offset = lowest;
      this.bins[0] = moved;
      this.maxKey = lowest;
    }
    this.minKey = lowest;
  }
}

/**
 * A live sketch for one open window. All share one mapping (immutable) and one empty negative store, so an open
 * window costs its positive bins only — at most BIN_LIMIT of them.
 */
export class LiveSketch extends DDSketch {
  constructor() {
    super({ relativeAccuracy: RELATIVE_ACCURACY });
    this.mapping = MAPPING;
    this.negativeStore = NO_NEGATIVES;
    this.store = new BoundedStore();
  }

  /**
   * Values are validated finite and non-negative; whatever a caller passes, a negative or NaN counts as 0 and
   * Infinity as the largest double, so nothing reaches the shared negative store and every key is finite.
   */
  override accept(value: number, weight = 1): void {
    if (!(weight > 0)) throw new Error('Weight must be a positive number');
    this.acceptKeyed(value, binKey(value), weight);
  }

  /** `accept` with the value's bin key already computed (`binKey`): a sample adds its value to several series. */
  acceptKeyed(value: number, key: number, weight = 1): void {
    const v = value > 0 ? Math.min(value, Number.MAX_VALUE) : 0;
    if (key === ZERO_KEY) this.zeroCount += weight;
    else this.store.add(key, weight);
    this.count += weight;
    this.sum += v * weight;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }
}

/** The bin key of a value counted as zero (keys are whole numbers). */
export const ZERO_KEY = 0.5;

/**
 * The bin a value goes to, or ZERO_KEY: the logarithm is the costly part of an insert, and one sample's value goes
 * into the sketch of each of its series (up to six), so it is computed once per value.
 */
export function binKey(value: number): number {
  const v = value > 0 ? Math.min(value, Number.MAX_VALUE) : 0;
  return v > MIN_INDEXABLE_MS ? MAPPING.key(v) : ZERO_KEY;
}

export function newSketch(): LiveSketch {
  return new LiveSketch();
}

export function isFrozen(s: AnySketch): s is FrozenSketch {
  return typeof s === 'string';
}

export const sketchCount = (s: AnySketch): number => (isFrozen(s) ? new Reader(s).varint() : s.count);

/** Values here are validated non-negative, so only the positive store and the zero count are used. */
export function freeze(s: DDSketch): FrozenSketch {
  const { bins, offset } = s.store;
  const out: number[] = [];
  pushVarint(out, s.count);
  pushVarint(out, s.zeroCount);
  pushDouble(out, s.sum);
  pushDouble(out, s.min);
  pushDouble(out, s.max);
  let prev = 0;
  for (let i = 0; i < bins.length; i++) {
    const c = bins[i]!;
    if (!(c > 0)) continue;
    const step = i + offset - prev;
    prev = i + offset;
    pushVarint(out, step >= 0 ? 2 * step : -2 * step - 1);
    pushVarint(out, c);
  }
  // fromCharCode takes arguments: chunked, as a very wide sketch could exceed the argument limit.
  let text = '';
  for (let i = 0; i < out.length; i += 8192) text += String.fromCharCode(...out.slice(i, i + 8192));
  return text as FrozenSketch;
}

/**
 * Adds `from` into `into` bin by bin (exact: same mapping). Live sketches are not merged with `DDSketch.merge`:
 * its `DenseStore.merge` extends the range with `secondKey || key`, so a source whose largest key is 0 (values
 * in (1/γ, 1], about 1 ms) is added outside the bins (lost, NaN counts) when the target holds only smaller values.
 */
export function mergeInto(into: DDSketch, from: AnySketch): void {
  let src: Summary;
  if (!isFrozen(from)) {
    if (from.count === 0) return;
    // Only [minKey, maxKey] can hold counts (BoundedStore keeps the rest 0); the bins may be twice as wide.
    const { bins, offset, minKey, maxKey } = from.store;
    for (let i = Math.max(0, minKey - offset), end = Math.min(bins.length - 1, maxKey - offset); i <= end; i++) {
      const b = bins[i]!;
      if (b > 0) into.store.add(i + offset, b);
    }
    src = from;
  } else {
    const r = new Reader(from);
    src = readSummary(r);
    if (src.count === 0) return;
    // No callback: this is the evaluation's hot loop.
    while (!r.done) into.store.add(r.key(), r.varint());
  }
  into.zeroCount += src.zeroCount;
  into.count += src.count;
  into.sum += src.sum;
  if (src.min < into.min) into.min = src.min;
  if (src.max > into.max) into.max = src.max;
}

/** The quantile, clamped to the observed range (the bin's representative value may lie just outside it). */
export function quantile(s: AnySketch, q: number): number | undefined {
  if (!isFrozen(s)) return s.count === 0 ? undefined : Math.min(Math.max(s.getValueAtQuantile(q), s.min), s.max);
  const r = new Reader(s);
  const { count, zeroCount, min, max } = readSummary(r);
  if (count === 0) return undefined;
  // Same rank rule as DDSketch.getValueAtQuantile.
  const rank = q * (count - 1);
  let running = zeroCount;
  if (rank < running) return 0;
  let key = 0;
  forEachBin(r, (k, c) => {
    key = k;
    running += c;
    return running > rank;
  });
  return Math.min(Math.max(MAPPING.value(key), min), max);
}

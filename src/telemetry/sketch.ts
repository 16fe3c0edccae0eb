import { DDSketch } from '@datadog/sketches-js';

/** PRODUCT.md §2: percentiles from DDSketch with relative error ≤ 1 %. */
export const RELATIVE_ACCURACY = 0.01;

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
    const { bins, offset } = from.store;
    for (let i = 0; i < bins.length; i++) {
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

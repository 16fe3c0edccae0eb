import { PNG } from 'pngjs';

/**
 * Small server-side charts for report emails, as PNG (mail clients show inline images but no SVG or scripts).
 * Shapes only, no text: labels belong in the HTML next to the image. Pure and deterministic: the same input gives
 * the same bytes.
 *
 * Geometry, so a caller (or a test) can line labels up with the pixels:
 * - Vertical bars: the bottom row is the baseline; rows 0 … height−2 are the plot. A bar of value v is
 *   round(v / max × (height − 1)) rows tall, standing on the baseline (at least one row when v > 0). A value at or
 *   above max reaches row 0. The threshold line is drawn on the top row of a bar of the threshold's value.
 * - Horizontal bars: the left column is the baseline; columns 1 … width−1 are the plot. Row i of the ranking
 *   occupies pixel rows i × rowHeight … (i + 1) × rowHeight − 1, with the bar centred in it. A bar of value v is
 *   round(v / max × (width − 1)) columns long (at least one when v > 0); the threshold line is on the last column of
 *   a bar of the threshold's value.
 */

export interface Bar {
  /** null: no data, drawn as a thin grey placeholder (a zero is drawn as nothing). */
  readonly value: number | null;
  /** Hex colour, `#rgb` or `#rrggbb`. */
  readonly color: string;
}

export interface Threshold {
  readonly value: number;
  readonly color: string;
}

export interface BarChartOptions {
  readonly width: number;
  readonly height: number;
  /** The value of a full-height bar; default: the largest value or threshold (1 when there is none above 0). */
  readonly max?: number;
  /** A dashed horizontal line at this value, drawn over the bars. */
  readonly threshold?: Threshold;
}

export interface HBarChartOptions {
  readonly width: number;
  /** Pixel height of one ranking row (the image is rows × rowHeight tall), so it can line up with HTML table rows. */
  readonly rowHeight: number;
  /** Thickness of a bar inside its row; default rowHeight − 6 (at least 1). */
  readonly barHeight?: number;
  readonly max?: number;
  /** A dashed vertical line at this value, drawn over the bars. */
  readonly threshold?: Threshold;
}

/** Baseline colour. */
export const BASELINE = '#d0d7de';
/** Colour of the placeholder for a missing value. */
export const PLACEHOLDER = '#afb8c1';
/** Thickness of the missing-value placeholder, px. */
export const PLACEHOLDER_PX = 2;
/** Dash pattern of threshold lines: this many pixels on, then as many off, starting at the chart's origin. */
export const DASH_PX = 4;
/** Largest width or height accepted, px (these are email thumbnails, not posters). */
export const MAX_SIDE = 4000;

type Rgb = readonly [r: number, g: number, b: number];

/** Parses `#rgb` / `#rrggbb` (case-insensitive); anything else is a programming error. */
export function parseHexColor(color: string): Rgb {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color);
  if (!m) throw new TypeError(`not a hex colour: ${JSON.stringify(color)}`);
  const hex = m[1]!.length === 3 ? [...m[1]!].map((c) => c + c).join('') : m[1]!;
  return [parseInt(hex.slice(0, 2), 16), parseInt(hex.slice(2, 4), 16), parseInt(hex.slice(4, 6), 16)];
}

class Canvas {
  readonly png: PNG;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    for (const [name, v] of [['width', width], ['height', height]] as const) {
      if (!Number.isInteger(v) || v < 1 || v > MAX_SIDE) throw new RangeError(`chart ${name} must be an integer in 1..${MAX_SIDE}, got ${v}`);
    }
    this.png = new PNG({ width, height });
    this.png.data.fill(0xff); // white, opaque
  }

  /** Fills the rectangle [x0, x1) × [y0, y1), clipped to the canvas. */
  fill(x0: number, y0: number, x1: number, y1: number, color: Rgb): void {
    const [r, g, b] = color;
    const xa = Math.max(0, x0), xb = Math.min(this.width, x1);
    const ya = Math.max(0, y0), yb = Math.min(this.height, y1);
    const d = this.png.data;
    for (let y = ya; y < yb; y++) {
      for (let x = xa; x < xb; x++) {
        const i = (y * this.width + x) * 4;
        d[i] = r;
        d[i + 1] = g;
        d[i + 2] = b;
        d[i + 3] = 0xff;
      }
    }
  }

  encode(): Buffer {
    // RGB without alpha: the background is opaque anyway, and the file is a quarter smaller.
    return PNG.sync.write(this.png, { colorType: 2 });
  }
}

/** A finite value, or null for a missing / non-finite one. */
const finite = (v: number | null): number | null => (v !== null && Number.isFinite(v) ? v : null);

function scaleMax(bars: readonly Bar[], opts: { max?: number; threshold?: Threshold }): number {
  if (opts.max !== undefined) {
    if (!Number.isFinite(opts.max) || opts.max <= 0) throw new RangeError(`chart max must be a positive number, got ${opts.max}`);
    return opts.max;
  }
  const values = bars.map((b) => finite(b.value) ?? 0);
  if (opts.threshold && Number.isFinite(opts.threshold.value)) values.push(opts.threshold.value);
  const top = Math.max(0, ...values);
  return top > 0 ? top : 1;
}

/** Pixel length of a bar of `value` on an axis of `span` pixels, clamped to 0..span; a positive value shows at least 1 px. */
function barLength(value: number, max: number, span: number): number {
  if (value <= 0) return 0;
  return Math.min(span, Math.max(1, Math.round((value / max) * span)));
}

/** [start, end) of slot `i` of `n` slots along `span` pixels, with a gap between neighbours when there is room. */
function slot(i: number, n: number, span: number): [number, number] {
  const w = span / n;
  const gap = w >= 4 ? Math.max(1, Math.round(w * 0.2)) : 0;
  const start = Math.round(i * w + gap / 2);
  const end = Math.max(start + 1, Math.round((i + 1) * w - gap / 2));
  return [start, end];
}

/** Vertical bars left to right on a light baseline, with an optional dashed threshold line. */
export function barChartPng(bars: readonly Bar[], opts: BarChartOptions): Buffer {
  const c = new Canvas(opts.width, opts.height);
  const plotH = opts.height - 1; // rows 0 … plotH−1; the baseline is row plotH
  const max = scaleMax(bars, opts);
  const colors = bars.map((b) => parseHexColor(b.color));
  bars.forEach((bar, i) => {
    const [x0, x1] = slot(i, bars.length, opts.width);
    const v = finite(bar.value);
    if (v === null) c.fill(x0, plotH - PLACEHOLDER_PX, x1, plotH, parseHexColor(PLACEHOLDER));
    else c.fill(x0, plotH - barLength(v, max, plotH), x1, plotH, colors[i]!);
  });
  c.fill(0, plotH, opts.width, opts.height, parseHexColor(BASELINE));
  if (opts.threshold && Number.isFinite(opts.threshold.value) && plotH > 0) {
    const color = parseHexColor(opts.threshold.color);
    const y = Math.min(plotH - 1, plotH - barLength(opts.threshold.value, max, plotH));
    for (let x = 0; x < opts.width; x += 2 * DASH_PX) c.fill(x, y, x + DASH_PX, y + 1, color);
  }
  return c.encode();
}

/** The image size of a horizontal bar chart of `count` rows. */
export function hBarChartSize(count: number, opts: Pick<HBarChartOptions, 'width' | 'rowHeight'>): { width: number; height: number } {
  return { width: opts.width, height: Math.max(1, count) * opts.rowHeight };
}

/** Horizontal bars top to bottom (a ranking), growing right from a light baseline, with an optional dashed threshold line. */
export function hBarChartPng(bars: readonly Bar[], opts: HBarChartOptions): Buffer {
  if (!Number.isInteger(opts.rowHeight) || opts.rowHeight < 1) throw new RangeError(`rowHeight must be a positive integer, got ${opts.rowHeight}`);
  const { width, height } = hBarChartSize(bars.length, opts);
  const c = new Canvas(width, height);
  const plotW = width - 1; // columns 1 … plotW; the baseline is column 0
  const max = scaleMax(bars, opts);
  const thick = Math.min(opts.rowHeight, Math.max(1, opts.barHeight ?? opts.rowHeight - 6));
  const colors = bars.map((b) => parseHexColor(b.color));
  bars.forEach((bar, i) => {
    const y0 = i * opts.rowHeight + Math.floor((opts.rowHeight - thick) / 2);
    const v = finite(bar.value);
    if (v === null) c.fill(1, y0, 1 + PLACEHOLDER_PX, y0 + thick, parseHexColor(PLACEHOLDER));
    else c.fill(1, y0, 1 + barLength(v, max, plotW), y0 + thick, colors[i]!);
  });
  c.fill(0, 0, 1, height, parseHexColor(BASELINE));
  if (opts.threshold && Number.isFinite(opts.threshold.value) && plotW > 0) {
    const color = parseHexColor(opts.threshold.color);
    const x = Math.max(1, barLength(opts.threshold.value, max, plotW));
    for (let y = 0; y < height; y += 2 * DASH_PX) c.fill(x, y, x + 1, y + DASH_PX, color);
  }
  return c.encode();
}

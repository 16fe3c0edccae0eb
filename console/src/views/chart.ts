import { html, svg } from 'lit-html';
import { metricValue, time } from '../format.js';

export interface Series {
  metric: string;
  threshold?: string;
  from: string;
  to: string;
  points: { t: number; v: number }[];
}

const W = 600;
const H = 160;
const PAD = { left: 8, right: 8, top: 10, bottom: 18 };

/** The number a threshold like "> 0.2" compares with. */
const thresholdValue = (text: string | undefined) => {
  const m = text ? /-?\d+(?:\.\d+)?(?:e-?\d+)?/i.exec(text) : null;
  return m ? Number(m[0]) : undefined;
};

/**
 * A small line chart of the metric's windows, the threshold dashed across it; scales to its box. Described in words
 * for screen readers (first, highest and last values).
 */
export function chart(s: Series) {
  if (s.points.length === 0) return html`<p class="muted">No windows stored for this span yet.</p>`;
  const from = Date.parse(s.from);
  const to = Date.parse(s.to);
  const limit = thresholdValue(s.threshold);
  const values = s.points.map((p) => p.v);
  const top = Math.max(...values, limit ?? 0) * 1.1 || 1;
  const x = (t: number) => PAD.left + ((t - from) / Math.max(1, to - from)) * (W - PAD.left - PAD.right);
  const y = (v: number) => H - PAD.bottom - (v / top) * (H - PAD.top - PAD.bottom);
  const line = s.points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
  const peak = Math.max(...values);
  const words = `${s.metric} from ${time(s.from)} to ${time(s.to)}: first ${metricValue(s.metric, values[0]!)}, highest ${metricValue(s.metric, peak)}, last ${metricValue(s.metric, values.at(-1)!)}${s.threshold ? `; threshold ${s.threshold}` : ''}`;
  return html`<figure class="chart">
    <svg viewBox="0 0 ${W} ${H}" role="img" aria-label=${words} preserveAspectRatio="none">
      ${svg`<line class="axis" x1=${PAD.left} x2=${W - PAD.right} y1=${H - PAD.bottom} y2=${H - PAD.bottom}></line>`}
      ${limit !== undefined ? svg`<line class="threshold" x1=${PAD.left} x2=${W - PAD.right} y1=${y(limit)} y2=${y(limit)}></line>` : ''}
      ${svg`<polyline class="series" points=${line}></polyline>`}
    </svg>
    <figcaption><span>${time(s.from)}</span> <span>${s.metric}: highest ${metricValue(s.metric, peak)}${s.threshold ? html`, threshold <span class="threshold-key">${s.threshold}</span>` : ''}</span> <span>${time(s.to)}</span></figcaption>
  </figure>`;
}

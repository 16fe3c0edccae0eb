/** Times and durations the way a responder reads them at a glance. */
export function ago(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '';
  return `${duration(now - Date.parse(iso))} ago`;
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function time(iso: string | undefined): string {
  if (!iso) return '';
  return new Date(iso).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** A metric value with its unit, as the rules name metrics (ratios as %, *_ms as ms). */
export function metricValue(metric: string, v: number): string {
  if (/ratio|rate|loss/.test(metric) && v <= 1) return `${(v * 100).toFixed(2)} %`;
  if (metric.endsWith('_ms')) return `${Math.round(v)} ms`;
  return Number.isInteger(v) ? String(v) : v.toFixed(3);
}

/** `datetime-local` input value ↔ epoch ms, in the browser's time zone. */
export function toLocalInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

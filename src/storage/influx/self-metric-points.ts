import type { MetricObjectWithValues, MetricValue, MetricValueWithName } from 'prom-client';
import { line } from './line-protocol.js';

/** The /metrics figures that also go to InfluxDB for the health board: the service's own, plus memory, CPU and event-loop lag. */
const WRITTEN = /^(qoswatch_.*|process_resident_memory_bytes|process_cpu_seconds_total|nodejs_eventloop_lag_p99_seconds)$/;

type Labels = Record<string, string | number>;

const tagsOf = (labels: Labels, instance: string): Record<string, string> => {
  const tags: Record<string, string> = { instance };
  for (const [k, v] of Object.entries(labels)) if (k !== 'le') tags[k] = String(v);
  return tags;
};

const seriesKey = (name: string, labels: Labels) =>
  `${name}|${Object.entries(labels).filter(([k]) => k !== 'le').sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(',')}`;

/**
 * Quantile of the observations between two snapshots of a cumulative histogram, interpolated linearly inside
 * its bucket as Prometheus' histogram_quantile does; in the +Inf bucket it is the highest finite bound.
 */
export function intervalQuantile(bounds: readonly number[], delta: readonly number[], q: number): number | undefined {
  const total = delta[delta.length - 1] ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  for (let i = 0; i < delta.length; i++) {
    if (delta[i]! >= rank) {
      const upper = bounds[i]!;
      if (!Number.isFinite(upper)) return bounds[i - 1] ?? 0;
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      const below = i === 0 ? 0 : delta[i - 1]!;
      const inBucket = delta[i]! - below;
      return inBucket <= 0 ? upper : lower + ((upper - lower) * (rank - below)) / inBucket;
    }
  }
  return bounds[bounds.length - 2];
}

/**
 * Turns prom-client snapshots into line protocol, one point per metric and label set: measurement = metric
 * name, tags = labels + instance. Counters and gauges have a `value` field (counters cumulative, as Telegraf
 * writes them: boards take non_negative_derivative). Histograms have cumulative `count` and `sum`, and `p50`/`p99`
 * of the observations since the previous snapshot — so the board shows each interval's tail, not a lifetime one.
 */
export class SelfMetricPoints {
  private readonly previous = new Map<string, number[]>();

  lines(metrics: readonly MetricObjectWithValues<MetricValue<string> | MetricValueWithName<string>>[], instance: string, now: number): string[] {
    const ns = BigInt(now) * 1_000_000n;
    const out: string[] = [];
    for (const m of metrics) {
      if (!WRITTEN.test(m.name)) continue;
      // prom-client's typings declare an enum; at run time `type` is the Prometheus type name.
      if ((m.type as unknown as string) !== 'histogram') {
        for (const v of m.values) if (Number.isFinite(v.value)) out.push(line(m.name, tagsOf(v.labels as Labels, instance), { value: v.value }, ns));
        continue;
      }
      const series = new Map<string, { labels: Labels; bounds: number[]; counts: number[]; sum: number; count: number }>();
      for (const v of m.values as MetricValueWithName<string>[]) {
        const labels = v.labels as Labels;
        const key = seriesKey(m.name, labels);
        let s = series.get(key);
        if (!s) series.set(key, (s = { labels, bounds: [], counts: [], sum: 0, count: 0 }));
        if (v.metricName?.endsWith('_bucket')) {
          s.bounds.push(labels.le === '+Inf' ? Infinity : Number(labels.le));
          s.counts.push(v.value);
        } else if (v.metricName?.endsWith('_sum')) s.sum = v.value;
        else if (v.metricName?.endsWith('_count')) s.count = v.value;
      }
      for (const [key, s] of series) {
        const before = this.previous.get(key);
        const delta = s.counts.map((c, i) => c - (before?.[i] ?? 0));
        this.previous.set(key, s.counts);
        const p50 = intervalQuantile(s.bounds, delta, 0.5);
        const p99 = intervalQuantile(s.bounds, delta, 0.99);
        out.push(line(m.name, tagsOf(s.labels, instance), { count: { int: s.count }, sum: s.sum, p50, p99 }, ns));
      }
    }
    return out;
  }
}

import { type AnySketch, mergeInto, newSketch, quantile } from '../telemetry/sketch.js';
import type { WindowAgg } from '../telemetry/window-agg.js';
import type { SketchField } from '../telemetry/window-store.js';
import type { RuleMetric } from './rule-schema.js';

export interface MetricReading {
  /** Undefined when the windows hold nothing this metric is made of. */
  value: number | undefined;
  samples: number;
  sessions: number;
}

/** The windows of one series a metric is read over, oldest first. */
export interface SeriesWindows {
  readonly windows: readonly WindowAgg[];
  /** The metric's sketch of the first `premerged` windows, merged already (cached by the store): theirs are not read. */
  readonly premerged: number;
  readonly sketch: AnySketch | undefined;
}

const QUANTILES: Partial<Record<RuleMetric, [SketchField, number]>> = {
  latency_p50: ['latency', 0.5], latency_p95: ['latency', 0.95], latency_p99: ['latency', 0.99],
  rtt_p95: ['rtt', 0.95], startup_p50: ['startup', 0.5], startup_p95: ['startup', 0.95],
};

/** The sketch a metric is read from, if it is a quantile. */
export function sketchField(metric: RuleMetric): SketchField | undefined {
  return QUANTILES[metric]?.[0];
}

/**
 * One metric over the given windows of several series (a rule group): counters are summed and divided once
 * (ratios of sums), `sessions` is the most distinct sessions any one window of a series saw (viewers beacon every
 * interval, so summing windows would count one viewer once per window), summed across series;
 * only the one sketch the metric needs is merged, and gauges take each series' latest value and
 * add them up across series. Cheaper than merging whole aggregates, which is what lets every sample re-evaluate.
 */
export function readMetric(metric: RuleMetric, seriesWindows: Iterable<SeriesWindows>): MetricReading {
  let samples = 0, sessions = 0, sessionWindows = 0, errors = 0, lost = 0, expected = 0, stall = 0, play = 0, stalls = 0;
  let gauge: number | undefined;
  const q = QUANTILES[metric];
  const sketch = q ? newSketch() : undefined;
  for (const { windows, premerged, sketch: merged } of seriesWindows) {
    let latest: number | undefined;
    let seriesSessions = 0;
    if (q && merged) mergeInto(sketch!, merged);
    for (let i = 0; i < windows.length; i++) {
      const a = windows[i]!;
      samples += a.samples;
      seriesSessions = Math.max(seriesSessions, a.sessions);
      sessionWindows += a.sessions;
      errors += a.errorSessions;
      lost += a.packetsLost;
      expected += a.packetsExpected;
      stall += a.stallMs;
      play += a.playMs;
      stalls += a.stallCount;
      if (q && i >= premerged) {
        const s: AnySketch | undefined = a[q[0]];
        if (s) mergeInto(sketch!, s);
      }
      const g = metric === 'viewers' ? a.viewers : metric === 'concurrency' ? a.concurrency : undefined;
      if (g !== undefined) latest = g;
    }
    if (latest !== undefined) gauge = (gauge ?? 0) + latest;
    sessions += seriesSessions;
  }
  const ratio = (n: number, d: number) => (d > 0 ? n / d : undefined);
  let value: number | undefined;
  switch (metric) {
    case 'packet_loss': value = ratio(lost, expected); break;
    case 'stall_ratio': value = ratio(stall, stall + play); break;
    case 'stalls_per_min': value = ratio(stalls, (stall + play) / 60_000); break;
    // Both sides counted per window, so a ratio of sums over the range.
    case 'error_rate': value = ratio(errors, sessionWindows); break;
    case 'viewers': case 'concurrency': value = gauge; break;
    case 'samples': value = samples; break;
    case 'sessions': value = sessions; break;
    default: value = sketch!.count > 0 ? quantile(sketch!, q![1]) : undefined;
  }
  return { value, samples, sessions };
}

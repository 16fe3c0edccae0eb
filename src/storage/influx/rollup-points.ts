import type { WindowMetrics } from '../../telemetry/window-agg.js';
import type { EmittedWindow } from '../../telemetry/window-store.js';
import type { FieldValue } from './line-protocol.js';
import { line } from './line-protocol.js';

/** Measurement names, documented in the README ("Stored data"). */
export const REGION_MEASUREMENT = 'qos_region';
export const DIM_MEASUREMENT = 'qos_dim';
export const SAMPLE_MEASUREMENT = 'qos_sample';

const int = (v: number | undefined): FieldValue | undefined => (v === undefined ? undefined : { int: v });

/**
 * One rollup point per (series, window). Its identity (measurement, tags, window start) is deterministic, so
 * writing a window again — after a late sample, a replay or a retried batch — overwrites it instead of
 * duplicating it. Late aggregates carry `late=true` and a nanosecond offset from their first sample id so that
 * they add to the window rather than replace it.
 */
export function rollupLine(w: EmittedWindow, windowMs: number): string {
  const tags: Record<string, string> = { tenant: w.series.tenant, region: w.series.region };
  if (w.series.dim !== undefined) {
    tags.dim = w.series.dim;
    tags.value = w.series.value!;
  }
  let ns = BigInt(w.start) * 1_000_000n;
  if (w.lateId !== undefined) {
    tags.late = 'true';
    ns += BigInt((w.lateId % (windowMs * 1_000_000 - 1)) + 1);
  }
  return line(w.series.dim === undefined ? REGION_MEASUREMENT : DIM_MEASUREMENT, tags, rollupFields(w.agg.metrics()), ns);
}

function rollupFields(m: WindowMetrics) {
  return {
    samples: int(m.samples),
    sessions: int(m.sessions),
    error_sessions: int(m.error_sessions),
    error_rate: m.error_rate,
    viewers: int(m.viewers),
    concurrency: int(m.concurrency),
    packets_lost: m.packets_lost,
    packets_expected: m.packets_expected,
    packet_loss: m.packet_loss,
    play_ms: m.play_ms,
    stall_ms: m.stall_ms,
    stall_count: int(m.stall_count),
    stall_ratio: m.stall_ratio,
    stalls_per_min: m.stalls_per_min,
    latency_count: int(m.latency_count),
    latency_p50: m.latency_p50,
    latency_p95: m.latency_p95,
    latency_p99: m.latency_p99,
    rtt_count: int(m.rtt_count),
    rtt_p95: m.rtt_p95,
    startup_count: int(m.startup_count),
    startup_p50: m.startup_p50,
    startup_p95: m.startup_p95,
  };
}

/** The fields of `qos_region` and `qos_dim` points, for typed queries (dashboards, reports). */
export type RollupField = keyof ReturnType<typeof rollupFields>;

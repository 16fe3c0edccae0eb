import type { Sample } from '../../telemetry/sample-schema.js';
import type { SeriesKey } from '../../telemetry/window-store.js';
import { type FieldValue, line } from './line-protocol.js';
import { SAMPLE_MEASUREMENT } from './rollup-points.js';

/**
 * A raw sample point (QOSWATCH_RAW_SAMPLES=true). Session and stream ids are fields, never tags; the sample id
 * goes into the sub-millisecond part of the timestamp so that samples with the same ts and tags stay distinct,
 * and a replay rewrites the same point.
 */
export function rawSampleLine(tenant: string, series: readonly SeriesKey[], s: Sample, sampleId: number): string {
  const tags: Record<string, string> = { tenant, region: series[0]!.region };
  for (let i = 1; i < series.length; i++) tags[series[i]!.dim!] = series[i]!.value!;
  const fields: Record<string, FieldValue | undefined> = {
    interval_ms: s.interval_ms === undefined ? undefined : { int: s.interval_ms },
    session: s.session,
    node: s.node,
    stream: s.stream,
    latency_ms: s.latency_ms,
    rtt_ms: s.rtt_ms,
    packets_lost: s.packets_lost,
    packets_expected: s.packets_expected,
    packet_loss: s.packet_loss,
    stall_ms: s.stall_ms,
    play_ms: s.play_ms,
    stall_count: s.stall_count === undefined ? undefined : { int: s.stall_count },
    startup_ms: s.startup_ms,
    error: s.error === undefined ? undefined : String(s.error),
    concurrency: s.concurrency === undefined ? undefined : { int: s.concurrency },
  };
  return line(SAMPLE_MEASUREMENT, tags, fields, BigInt(s.ts) * 1_000_000n + BigInt(sampleId % 1_000_000));
}

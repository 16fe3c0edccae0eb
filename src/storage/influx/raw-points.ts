import type { Sample } from '../../telemetry/sample-schema.js';
import type { SeriesKey } from '../../telemetry/window-store.js';
import { type FieldValue, line } from './line-protocol.js';
import { SAMPLE_MEASUREMENT } from './rollup-points.js';

/** Points with the same tags and timestamp ms are told apart by their nanoseconds: 10^6 of them per ms. */
const PER_MS = 1_000_000;

/**
 * A raw sample point (QOSWATCH_RAW_SAMPLES=true). Session and stream ids are fields, never tags. A point's identity
 * in InfluxDB is (measurement, tags, ns), so each sample gets a number unique among the samples of its (tenant,
 * region, window) — `ordinal`, see IngestPipeline.apply — written as the sub-millisecond nanoseconds of its `ts`;
 * from the 10^6-th on, the tag `part` (ordinal ÷ 10^6) keeps them apart. Late samples (their window no longer in
 * memory) are numbered apart and tagged `late=true`, as late rollups are.
 */
export function rawSampleLine(tenant: string, series: readonly SeriesKey[], s: Sample, ordinal: number, late: boolean): string {
  const tags: Record<string, string> = { tenant, region: series[0]!.region };
  for (let i = 1; i < series.length; i++) tags[series[i]!.dim!] = series[i]!.value!;
  if (late) tags.late = 'true';
  if (ordinal >= PER_MS) tags.part = String(Math.floor(ordinal / PER_MS));
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
  return line(SAMPLE_MEASUREMENT, tags, fields, BigInt(s.ts) * BigInt(PER_MS) + BigInt(ordinal % PER_MS));
}

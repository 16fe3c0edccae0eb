import { InfluxQL } from '../storage/influx/influxql.js';
import type { QueryRow } from '../storage/influx/query.js';
import type { RollupField } from '../storage/influx/rollup-points.js';

/** How far before an incident opened its chart begins, and the longest span it covers. */
export const LEAD_MS = 30 * 60_000;
export const MAX_SPAN_MS = 6 * 3_600_000;

/** The span of an incident's chart: from before it opened until it was resolved (or now), at most MAX_SPAN_MS. */
export function seriesSpan(openedAt: number, resolvedAt: number | undefined, now: number): { from: number; to: number } {
  const to = Math.min(resolvedAt === undefined ? now : resolvedAt + 10 * 60_000, now);
  return { from: Math.max(openedAt - LEAD_MS, to - MAX_SPAN_MS), to };
}

/** The metric's value in each closed window of one tenant's region (late corrections left out: they are partial). */
export function windowSeriesQuery(metric: RollupField, tenant: string, region: string, from: number, to: number): string {
  return String(
    InfluxQL.from('qos_region')
      .select((f) => f.field(metric), 'value')
      .where('tenant', '=', tenant)
      .where('region', '=', region)
      .where('late', '!=', 'true')
      .between(from, to),
  );
}

export const seriesPoints = (rows: readonly QueryRow[]): { t: number; v: number }[] =>
  rows.filter((r) => typeof r.value === 'number' && typeof r.time === 'number').map((r) => ({ t: r.time as number, v: r.value as number }));

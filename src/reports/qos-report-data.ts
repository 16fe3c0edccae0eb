import { DateTime } from 'luxon';
import type { Incidents } from '../incidents/incidents.js';
import { isUpward } from '../rules/comparison.js';
import type { Rule, RuleMetric } from '../rules/rule-schema.js';
import { PRIORITIES, type Priority } from '../shared/priority.js';
import { TARGETS, type Tenant } from '../shared/tenant.js';
import { InfluxQL } from '../storage/influx/influxql.js';
import type { InfluxReader, QueryRow } from '../storage/influx/query.js';
import { REGION_MEASUREMENT } from '../storage/influx/rollup-points.js';
import type { SlaClock, Tickets } from '../tickets/tickets.js';
import type { FigureChange, HourFigures, QosReport, RegionFigures, RegionReport, RegionStatus, SlaOutcome } from './qos-report-model.js';

/** The uid of the QoS overview board (dashboards/src/qos-overview.ts), for links from reports. */
export const OVERVIEW_UID = 'qoswatch-overview';

/** Sums and extremes of a region over a period or an hour, as InfluxDB returns them. */
export interface RawFigures {
  stall: number | null;
  play: number | null;
  lost: number | null;
  expected: number | null;
  latencyP95: number | null;
  peakConcurrency: number | null;
  samples: number | null;
}

/**
 * Where a metric starts to matter: the least severe threshold of the region-level rules in force; null where no
 * single number speaks for a whole region.
 */
export interface ReportThresholds {
  readonly latencyP95Ms: number | null;
  readonly packetLoss: number;
  readonly stallRatio: number;
}
/**
 * Used when no region-level rule watches a metric: the shipped rules' P2 levels for loss and stall. Latency has no
 * region-wide default: its targets differ tenfold between delivery classes (RTC, LL-HLS, HLS/DASH; the shipped rules
 * judge it per `protocol`), so a region mixing them is judged on latency only by a region-level rule of its own.
 */
export const DEFAULT_THRESHOLDS: ReportThresholds = { latencyP95Ms: null, packetLoss: 0.02, stallRatio: 0.02 };

/** A metric this much worse than a week earlier puts a region on the watch list. */
export const WORSENED = 0.25;
/** A metric at this share of its threshold puts a region on the watch list. */
export const NEAR = 0.8;

const ratio = (num: number | null, den: number | null) => (num === null || den === null || den <= 0 ? null : num / den);

export function figuresOf(r: RawFigures): RegionFigures {
  const watched = r.play === null && r.stall === null ? null : (r.play ?? 0) + (r.stall ?? 0);
  return { latencyP95Ms: r.latencyP95, packetLoss: ratio(r.lost, r.expected), stallRatio: ratio(r.stall, watched), peakConcurrency: r.peakConcurrency, samples: r.samples ?? 0 };
}

const change = (now: number | null, before: number | null | undefined) => (now === null || before === null || before === undefined || before === 0 ? null : (now - before) / before);

const pct = (v: number) => `${(v * 100).toFixed(2)} %`;
const WATCHED: { key: 'stallRatio' | 'packetLoss' | 'latencyP95Ms'; name: string; fmt: (v: number) => string }[] = [
  { key: 'stallRatio', name: 'stall ratio', fmt: pct },
  { key: 'packetLoss', name: 'packet loss', fmt: pct },
  { key: 'latencyP95Ms', name: 'latency p95', fmt: (v) => `${Math.round(v)} ms` },
];

export interface ReportInput {
  readonly kind: QosReport['kind'];
  readonly tenant: Tenant;
  readonly period: QosReport['period'];
  readonly current: ReadonlyMap<string, RawFigures>;
  readonly previous: ReadonlyMap<string, RawFigures>;
  /** Per region, per hour start (epoch ms). */
  readonly hourly: ReadonlyMap<string, ReadonlyMap<number, RawFigures>>;
  readonly incidents: ReadonlyMap<string, Readonly<Record<Priority, number>>>;
  readonly sla: SlaOutcome;
  readonly thresholds: ReportThresholds;
  readonly grafanaUrl: string | undefined;
  readonly now: number;
}

const noIncidents = (): Record<Priority, number> => ({ P0: 0, P1: 0, P2: 0, P3: 0 });

/**
 * The report (pure): each region's figures, week-over-week change, hours, worst hours and status; regions ranked
 * best to worst. `attention`: a metric at or over its threshold, or a P0/P1 incident. `watch`: a metric within
 * 80 % of its threshold or 25 % worse than a week earlier, or a P2/P3 incident. Within a status, the region whose
 * worst metric is closest to (or furthest over) its threshold ranks lower.
 */
export function assembleQosReport(i: ReportInput): QosReport {
  const zone = i.tenant.timezone;
  const hours: number[] = [];
  for (let h = DateTime.fromMillis(i.period.from, { zone }); h.toMillis() < i.period.to; h = h.plus({ hours: 1 })) hours.push(h.toMillis());
  const regionNames = new Set([...i.current.keys(), ...i.incidents.keys()]);
  const scored = [...regionNames].map((region) => {
    const current = figuresOf(i.current.get(region) ?? { stall: null, play: null, lost: null, expected: null, latencyP95: null, peakConcurrency: null, samples: 0 });
    const prevRaw = i.previous.get(region);
    const previous = prevRaw ? figuresOf(prevRaw) : null;
    const delta: FigureChange = {
      latencyP95Ms: change(current.latencyP95Ms, previous?.latencyP95Ms), packetLoss: change(current.packetLoss, previous?.packetLoss),
      stallRatio: change(current.stallRatio, previous?.stallRatio), peakConcurrency: change(current.peakConcurrency, previous?.peakConcurrency),
    };
    const byHour = i.hourly.get(region);
    const hourly: HourFigures[] = hours.map((start) => {
      const f = figuresOf(byHour?.get(start) ?? { stall: null, play: null, lost: null, expected: null, latencyP95: null, peakConcurrency: null, samples: 0 });
      return { start, label: DateTime.fromMillis(start, { zone }).toFormat('yyyy-LL-dd HH:mm'), stallRatio: f.stallRatio, latencyP95Ms: f.latencyP95Ms, packetLoss: f.packetLoss };
    });
    const worstHours = hourly.filter((h) => (h.stallRatio ?? 0) > 0).sort((a, b) => b.stallRatio! - a.stallRatio! || a.start - b.start).slice(0, 3);
    const incidents = i.incidents.get(region) ?? noIncidents();

    const attention: string[] = [];
    const watch: string[] = [];
    let score = 0;
    for (const m of WATCHED) {
      const v = current[m.key];
      const limit = i.thresholds[m.key];
      if (v === null) continue;
      if (limit !== null) {
        score = Math.max(score, v / limit);
        // (1 − 1e-9): 0.8 × 0.1 is 0.08000000000000002 in binary floating point; 8 % of a 10 % limit is "near".
        if (v >= limit) attention.push(`${m.name} ${m.fmt(v)} is at or over the ${m.fmt(limit)} alert threshold`);
        else if (v >= NEAR * limit * (1 - 1e-9)) watch.push(`${m.name} ${m.fmt(v)} is near the ${m.fmt(limit)} alert threshold`);
      }
      const d = delta[m.key];
      if (d !== null && d >= WORSENED) watch.push(`${m.name} up ${Math.round(d * 100)} % on the week before (${m.fmt(previous![m.key]!)} → ${m.fmt(v)})`);
    }
    const major = incidents.P0 + incidents.P1;
    const minor = incidents.P2 + incidents.P3;
    if (major) attention.push(`${major} P0/P1 incident${major > 1 ? 's' : ''}`);
    if (minor) watch.push(`${minor} P2/P3 incident${minor > 1 ? 's' : ''}`);
    const status: RegionStatus = attention.length ? 'attention' : watch.length ? 'watch' : 'good';
    return { region, status, reasons: [...attention, ...watch], current, previous, change: delta, hourly, worstHours, incidents, score };
  });
  const order: Record<RegionStatus, number> = { good: 0, watch: 1, attention: 2 };
  scored.sort((a, b) => order[a.status] - order[b.status] || a.score - b.score || a.region.localeCompare(b.region));
  const regions: RegionReport[] = scored.map(({ score: _score, ...r }, n) => ({ ...r, rank: n + 1 }));
  const byPriority = noIncidents();
  for (const r of regions) for (const p of PRIORITIES) byPriority[p] += r.incidents[p];
  const grafanaUrl = i.grafanaUrl
    ? `${i.grafanaUrl.replace(/\/$/, '')}/d/${OVERVIEW_UID}?var-tenant=${encodeURIComponent(i.tenant.id)}&from=${i.period.from}&to=${i.period.to}`
    : null;
  return {
    kind: i.kind,
    tenant: { id: i.tenant.id, name: i.tenant.name, timezone: zone, tier: i.tenant.tier },
    period: i.period,
    regions,
    needsAttention: [...regions].reverse().filter((r) => r.status !== 'good').map((r) => ({ region: r.region, reasons: r.reasons })),
    incidents: { total: PRIORITIES.reduce((a, p) => a + byPriority[p], 0), byPriority },
    sla: i.sla,
    grafanaUrl,
    generatedAt: i.now,
  };
}

const num = (v: QueryRow[string] | undefined) => (typeof v === 'number' ? v : null);
const rawOf = (r: QueryRow): RawFigures => ({
  stall: num(r.stall), play: num(r.play), lost: num(r.lost), expected: num(r.expected), latencyP95: num(r.latency_p95), peakConcurrency: num(r.peak_concurrency), samples: num(r.samples),
});

/** Sums and extremes of a tenant's regions over [from, to): latency p95 is the 95th percentile of the window p95s. */
export function regionFiguresQuery(tenant: string, from: number, to: number) {
  return InfluxQL.from(REGION_MEASUREMENT)
    .select((f) => f.sum('stall_ms'), 'stall')
    .select((f) => f.sum('play_ms'), 'play')
    .select((f) => f.sum('packets_lost'), 'lost')
    .select((f) => f.sum('packets_expected'), 'expected')
    .select((f) => f.percentile('latency_p95', 95), 'latency_p95')
    .select((f) => f.max('concurrency'), 'peak_concurrency')
    .select((f) => f.sum('samples'), 'samples')
    .where('tenant', '=', tenant)
    .between(from, to)
    .groupBy('region');
}

export interface ReportSources {
  readonly influx: InfluxReader;
  readonly incidents: Incidents;
  readonly tickets: Tickets;
}

/** Reads a region's figures for [from, to) into a map by region. */
export async function regionFigures(influx: InfluxReader, tenant: string, from: number, to: number): Promise<Map<string, RawFigures>> {
  const rows = await influx.query(String(regionFiguresQuery(tenant, from, to)));
  return new Map(rows.map((r) => [String(r.region), rawOf(r)]));
}

/** SLA clocks of the tenant's tickets opened in [from, to), as they stand at `now`. */
export async function slaOutcome(tickets: Tickets, tenant: Tenant, from: number, to: number, now: number): Promise<SlaOutcome> {
  const list = await tickets.openedBetween(from, to, tenant.id);
  const clocks: { c: SlaClock; openedAt: number }[] = [];
  for (const t of list) for (const c of tickets.clocks(t, tenant, now, await tickets.events(t.id))) clocks.push({ c, openedAt: t.openedAt });
  return {
    tickets: list.length,
    targets: TARGETS.map((target) => {
      const mine = clocks.filter(({ c }) => c.target === target);
      const stopped = mine.filter(({ c }) => c.stoppedAt !== undefined);
      return {
        target,
        met: stopped.filter(({ c }) => !c.breached).length,
        missed: stopped.filter(({ c }) => c.breached).length,
        breached: mine.filter(({ c }) => c.breached).length,
        meanMs: stopped.length ? stopped.reduce((a, { c, openedAt }) => a + (c.stoppedAt! - openedAt), 0) / stopped.length : null,
      };
    }),
  };
}

/** Gathers a tenant's report: figures from InfluxDB (InfluxQL), incidents and SLA clocks from the state store. */
export async function collectQosReport(
  src: ReportSources,
  o: { kind: QosReport['kind']; tenant: Tenant; period: QosReport['period']; thresholds: ReportThresholds; grafanaUrl: string | undefined; now: number },
): Promise<QosReport> {
  const { tenant, period } = o;
  const week = 7 * 86_400_000;
  const hourlyQuery = regionFiguresQuery(tenant.id, period.from, period.to).groupByTime('1h').fill('none').tz(tenant.timezone);
  const [current, previous, hourRows] = await Promise.all([
    regionFigures(src.influx, tenant.id, period.from, period.to),
    regionFigures(src.influx, tenant.id, period.from - week, period.to - week),
    src.influx.query(String(hourlyQuery)),
  ]);
  const hourly = new Map<string, Map<number, RawFigures>>();
  for (const r of hourRows) {
    const region = String(r.region);
    if (!hourly.has(region)) hourly.set(region, new Map());
    hourly.get(region)!.set(Number(r.time), rawOf(r));
  }
  const incidents = new Map<string, Record<Priority, number>>();
  for (const row of await src.incidents.openedBetween(tenant.id, period.from, period.to)) {
    const region = row.region ?? '*';
    if (!incidents.has(region)) incidents.set(region, noIncidents());
    incidents.get(region)![row.priority] += row.n;
  }
  return assembleQosReport({
    kind: o.kind, tenant, period, current, previous, hourly, incidents,
    sla: await slaOutcome(src.tickets, tenant, period.from, period.to, o.now),
    thresholds: o.thresholds, grafanaUrl: o.grafanaUrl, now: o.now,
  });
}

/** A rule with one group per (tenant, region) and no dimension filter: it speaks for whole regions. */
export const isRegionLevel = (r: Rule) => r.groupBy.length === 2 && r.groupBy.includes('tenant') && r.groupBy.includes('region') && r.filter.size === 0;

/**
 * The report's thresholds from the rules in force: for each metric, the least severe level of the region-level
 * threshold rule (grouped by tenant and region, no filter) — where the service starts paging; else the default.
 */
export function reportThresholds(rules: readonly Rule[]): ReportThresholds {
  const least = (metric: RuleMetric): number | undefined => {
    const r = rules.find((x) => x.kind === 'threshold' && x.metric === metric && isRegionLevel(x));
    return r?.kind === 'threshold' && r.levels.every((l) => isUpward(l.cmp)) ? r.levels[r.levels.length - 1]!.cmp.value : undefined;
  };
  return {
    latencyP95Ms: least('latency_p95') ?? DEFAULT_THRESHOLDS.latencyP95Ms,
    packetLoss: least('packet_loss') ?? DEFAULT_THRESHOLDS.packetLoss,
    stallRatio: least('stall_ratio') ?? DEFAULT_THRESHOLDS.stallRatio,
  };
}

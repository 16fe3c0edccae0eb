import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common';
import { ReduceDataOptionsBuilder, TableSortByFieldStateBuilder, VizLegendOptionsBuilder, LegendDisplayMode, LegendPlacement } from '@grafana/grafana-foundation-sdk/common';
import {
  AnnotationEventFieldMappingBuilder,
  AnnotationEventFieldSource,
  AnnotationQueryBuilder,
  DashboardBuilder,
  DashboardCursorSync,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  TimePickerBuilder,
  VariableRefresh,
  VariableSort,
  type Threshold,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TablePanel } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { isUpward } from '../../src/rules/comparison.js';
import { loadRuleDir } from '../../src/rules/load.js';
import type { RuleMetric } from '../../src/rules/rule-schema.js';
import type { Priority } from '../../src/shared/priority.js';
import { INCIDENT_MEASUREMENT } from '../../src/incidents/influx-events.js';
import { isRegionLevel } from '../../src/reports/qos-report-data.js';
import { InfluxQL, type Measurement, showTagValues, variable, type TagOf } from '../../src/storage/influx/influxql.js';

/** Every query goes to the datasource picked by the `datasource` variable (the provisioned InfluxDB by default). */
export const DS: DataSourceRef = { type: 'influxdb', uid: '${datasource}' };

/** The aggregation window: no panel asks for buckets finer than the rollups. */
export const MIN_INTERVAL = '10s';

export type ResultFormat = 'time_series' | 'table';

/** A raw InfluxQL target for Grafana's InfluxDB datasource (the SDK has no InfluxDB query builder). */
export interface InfluxTarget {
  refId: string;
  datasource: DataSourceRef;
  query: string;
  rawQuery: true;
  resultFormat: ResultFormat;
  alias?: string;
}

export function influxTarget(query: InfluxQL<Measurement> | string, o: { refId?: string; format?: ResultFormat; alias?: string } = {}): cog.Builder<cog.Dataquery> {
  const target: InfluxTarget = { refId: o.refId ?? 'A', datasource: DS, query: String(query), rawQuery: true, resultFormat: o.format ?? 'time_series', ...(o.alias ? { alias: o.alias } : {}) };
  // The SDK's Dataquery is a marker interface; the dashboard JSON only carries the fields above.
  return { build: () => target as unknown as cog.Dataquery };
}

export const datasourceVariable = () => new DatasourceVariableBuilder('datasource').label('Data source').type('influxdb');

/** A variable listing a tag's values, refreshed with the time range; multi-select with All unless `single`. */
export function tagVariable<M extends Measurement>(name: string, label: string, m: M, key: TagOf<M>, where: readonly [TagOf<M>, ReturnType<typeof variable> | string][] = [], single = false) {
  const q = showTagValues(m, key, where);
  const v = new QueryVariableBuilder(name).label(label).datasource(DS).query(q).definition(q).refresh(VariableRefresh.OnTimeRangeChanged).sort(VariableSort.AlphabeticalAsc);
  return single ? v.multi(false).includeAll(false) : v.multi(true).includeAll(true).allValue('.*');
}

/** A dashboard with qoswatch's defaults: last 6 h, 30 s refresh, shared crosshair, UTC off (browser time). */
export function board(uid: string, title: string, description: string) {
  return new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['qoswatch'])
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .timepicker(new TimePickerBuilder().refreshIntervals(['10s', '30s', '1m', '5m', '15m']))
    .tooltip(DashboardCursorSync.Crosshair)
    .readonly();
}

/**
 * Incident events from qos_incident as annotations: title "#id P1 …", text the alert summary or note with a link to
 * the incident in qoswatch's console (the `annotation` field, written with QOSWATCH_PUBLIC_URL).
 */
export function incidentAnnotations(tenantVar = 'tenant') {
  const q = InfluxQL.from(INCIDENT_MEASUREMENT)
    .select((f) => f.field('title'))
    .select((f) => f.field('annotation'))
    .select((f) => f.field('incident'))
    .where('tenant', '=', variable(tenantVar))
    .whereIn('event', ['opened', 'reopened', 'priority_changed', 'acknowledged', 'mitigated', 'resolved'])
    .timeFilter('$timeFilter');
  const field = (value: string) => new AnnotationEventFieldMappingBuilder().source(AnnotationEventFieldSource.Field).value(value);
  return new AnnotationQueryBuilder()
    .name('Incidents')
    .datasource(DS)
    .enable(true)
    .iconColor('#cf222e')
    .target(influxTarget(q, { refId: 'Anno', format: 'table' }))
    .mappings({ title: field('title'), text: field('annotation'), tags: field('event') });
}

/** Colours of the priority levels, shared by thresholds and tables. */
export const LEVEL_COLOURS: Record<Priority | 'ok', string> = { ok: 'green', P3: 'blue', P2: 'yellow', P1: 'orange', P0: 'red' };

/** A path in the repository, whether this runs from dashboards/src (tests) or its compiled copy (npm run dashboards). */
export function repoPath(rel: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return join(dir, rel);
}

const shipped = loadRuleDir(repoPath('alert-rules'), { windowMs: 10_000, horizonMs: 300_000 });

/**
 * Threshold steps for a metric from the shipped region-level rule (group_by tenant, region): the panels colour
 * values exactly where the default rules would page. Green when no shipped rule watches the metric.
 */
export function levelThresholds(metric: RuleMetric): ThresholdsConfigBuilder {
  const rule = shipped.rules.find((r) => r.kind === 'threshold' && r.metric === metric && isRegionLevel(r));
  const steps: Threshold[] = [{ value: null, color: LEVEL_COLOURS.ok }];
  if (rule?.kind === 'threshold' && rule.levels.every((l) => isUpward(l.cmp))) {
    for (const l of [...rule.levels].reverse()) steps.push({ value: l.cmp.value, color: LEVEL_COLOURS[l.priority] });
  }
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(steps);
}

/** One green step: without it Grafana colours values above 80 red (its default), e.g. any concurrency. */
const neutral = () => new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([{ value: null, color: LEVEL_COLOURS.ok }]);

export interface MetricPanel {
  title: string;
  description: string;
  unit: string;
  query: InfluxQL<Measurement>;
  alias?: string;
  thresholds?: ThresholdsConfigBuilder;
}

/** What every metric panel carries: title, description, the query, unit, thresholds, size. */
function metricPanel<B extends TimeseriesPanel | StatPanel>(b: B, p: MetricPanel, span: number, height: number): B {
  return b
    .title(p.title)
    .description(p.description)
    .datasource(DS)
    .withTarget(influxTarget(p.query, { alias: p.alias ?? '$tag_region' }))
    .unit(p.unit)
    .interval(MIN_INTERVAL)
    .span(span)
    .height(height)
    .thresholds(p.thresholds ?? neutral()) as B;
}

export function timeseries(p: MetricPanel, span = 12) {
  return metricPanel(new TimeseriesPanel(), p, span, 8)
    .lineWidth(1)
    .fillOpacity(10)
    .legend(new VizLegendOptionsBuilder().displayMode(LegendDisplayMode.Table).placement(LegendPlacement.Bottom).showLegend(true).calcs(['lastNotNull', 'max']));
}

export function stat(p: MetricPanel, span: number) {
  return metricPanel(new StatPanel(), p, span, 5).reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
}

/** The quality columns of a worst-first table, coloured at the shipped rules' thresholds. */
export const QUALITY_COLUMNS: TableColumn[] = [
  { field: 'stall_ratio', title: 'Stall ratio', unit: 'percentunit', thresholds: levelThresholds('stall_ratio') },
  { field: 'packet_loss', title: 'Packet loss', unit: 'percentunit', thresholds: levelThresholds('packet_loss') },
  { field: 'latency_p95', title: 'Latency p95 (worst window)', unit: 'ms', thresholds: levelThresholds('latency_p95') },
];

export interface TableColumn {
  /** The column's alias in the query. */
  field: string;
  title: string;
  unit: string;
  thresholds?: ThresholdsConfigBuilder;
}

/** A table of one row per group, columns coloured by their thresholds, sorted worst-first by `sortBy` (highest first unless `lowIsWorse`). */
export function table(o: { title: string; description: string; query: InfluxQL<Measurement>; columns: TableColumn[]; sortBy: string; lowIsWorse?: boolean; span?: number; height?: number }) {
  let b = new TablePanel()
    .title(o.title)
    .description(o.description)
    .datasource(DS)
    .withTarget(influxTarget(o.query, { format: 'table' }))
    .span(o.span ?? 24)
    .height(o.height ?? 9)
    .thresholds(neutral())
    .withTransformation({ id: 'organize', options: { excludeByName: { Time: true }, renameByName: Object.fromEntries(o.columns.map((c) => [c.field, c.title])) } })
    .sortBy([new TableSortByFieldStateBuilder().displayName(o.columns.find((c) => c.field === o.sortBy)!.title).desc(!o.lowIsWorse)]);
  for (const c of o.columns) {
    b = b.overrideByName(c.title, [
      { id: 'unit', value: c.unit },
      ...(c.thresholds ? [{ id: 'thresholds', value: c.thresholds.build() }, { id: 'custom.cellOptions', value: { type: 'color-background' } }] : []),
    ]);
  }
  return b;
}

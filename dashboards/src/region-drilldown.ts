import { CustomVariableBuilder, DashboardLinkBuilder, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { DIMENSIONS } from '../../src/shared/labels.js';
import { DIM_MEASUREMENT, REGION_MEASUREMENT } from '../../src/storage/influx/rollup-points.js';
import { InfluxQL, variable } from '../../src/storage/influx/influxql.js';
import { QUALITY_COLUMNS, board, datasourceVariable, incidentAnnotations, levelThresholds, table, tagVariable, timeseries } from './common.js';

export const REGION_UID = 'qoswatch-region';

/**
 * A data link to this board for the clicked region — `region` is the Grafana macro naming it, e.g.
 * `__field.labels.region` — keeping the data source, the tenants and the time range of the board it is on.
 */
export function regionDrilldownLink(region: string) {
  const macro = (name: string, format?: string) => `\${${name}${format ? `:${format}` : ''}}`;
  return new DashboardLinkBuilder(`Drill down into ${macro(region)}`).url(
    `/d/${REGION_UID}?${macro('datasource', 'queryparam')}&${macro('tenant', 'queryparam')}&var-region=${macro(region, 'percentencode')}&${macro('__url_time_range')}`,
  );
}

/** The selected region's dimension rollups for one dimension (`$dim` or a fixed one). */
const dimRows = (dim: string) =>
  InfluxQL.from(DIM_MEASUREMENT)
    .where('tenant', '=', variable('tenant'))
    .where('region', '=', variable('region'))
    .where('dim', '=', dim)
    .timeFilter('$timeFilter');
const byValue = (q: InfluxQL<typeof DIM_MEASUREMENT>) => q.groupByTime('$__interval').groupBy('value').fill('none');

const summary = (dim: string) =>
  (dim === '$dim' ? dimRows(dim).where('value', '=', variable('value')) : dimRows(dim))
    .select((f) => f.div(f.sum('stall_ms'), f.add(f.sum('play_ms'), f.sum('stall_ms'))), 'stall_ratio')
    .select((f) => f.div(f.sum('packets_lost'), f.sum('packets_expected')), 'packet_loss')
    .select((f) => f.max('latency_p95'), 'latency_p95')
    .select((f) => f.sum('samples'), 'samples')
    .select((f) => f.sum('sessions'), 'sessions')
    .groupBy('value');

const summaryTable = (dim: string, title: string, span: number) =>
  table({
    title,
    description: 'One row per value over the range, worst stall ratio first; sessions are summed over windows (a session seen in two windows counts twice).',
    query: summary(dim),
    sortBy: 'stall_ratio',
    span,
    height: 8,
    columns: [
      { field: 'value', title: 'Value', unit: 'string' },
      ...QUALITY_COLUMNS,
      { field: 'samples', title: 'Samples', unit: 'short' },
      { field: 'sessions', title: 'Session-windows', unit: 'short' },
    ],
  });

export function regionDrilldown() {
  const valueFilter = (q: InfluxQL<typeof DIM_MEASUREMENT>) => q.where('value', '=', variable('value'));
  return board(REGION_UID, 'qoswatch — region drill-down', 'One region broken down by ISP, CDN, platform (and any dimension): stall, loss, latency and sample counts per value.')
    .withVariable(datasourceVariable())
    .withVariable(tagVariable('tenant', 'Tenant', REGION_MEASUREMENT, 'tenant'))
    .withVariable(tagVariable('region', 'Region', REGION_MEASUREMENT, 'region', [['tenant', variable('tenant')]], true))
    .withVariable(new CustomVariableBuilder('dim').label('Dimension').values(DIMENSIONS.join(',')).current({ text: 'isp', value: 'isp' }))
    .withVariable(tagVariable('value', 'Value', DIM_MEASUREMENT, 'value', [['tenant', variable('tenant')], ['region', variable('region')], ['dim', '$dim']]))
    .annotation(incidentAnnotations())
    .withRow(new RowBuilder('Region $region'))
    .withPanel(
      timeseries({
        title: 'Samples per interval',
        description: 'Samples received for the region in each interval (the base of every ratio below: few samples, noisy ratios).',
        unit: 'short',
        query: InfluxQL.from(REGION_MEASUREMENT).select((f) => f.sum('samples'), 'samples').where('tenant', '=', variable('tenant')).where('region', '=', variable('region')).timeFilter('$timeFilter').groupByTime('$__interval').fill('none'),
        alias: 'samples',
      }, 24),
    )
    .withRow(new RowBuilder('By $dim'))
    .withPanel(timeseries({ title: 'Stall ratio by $dim', description: 'Σstall_ms / Σ(play_ms + stall_ms) per value.', unit: 'percentunit', alias: '$tag_value', thresholds: levelThresholds('stall_ratio'), query: byValue(valueFilter(dimRows('$dim')).select((f) => f.div(f.sum('stall_ms'), f.add(f.sum('play_ms'), f.sum('stall_ms'))), 'stall_ratio')) }))
    .withPanel(timeseries({ title: 'Packet loss by $dim', description: 'Σpackets_lost / Σpackets_expected per value.', unit: 'percentunit', alias: '$tag_value', thresholds: levelThresholds('packet_loss'), query: byValue(valueFilter(dimRows('$dim')).select((f) => f.div(f.sum('packets_lost'), f.sum('packets_expected')), 'packet_loss')) }))
    .withPanel(timeseries({ title: 'Latency p95 by $dim', description: 'Highest window p95 per value and interval. Choose Dimension = protocol to compare each delivery class with its own target (RTC ≈ 0.3–1 s, LL-HLS ≈ 2–5 s, HLS/DASH ≈ 6–30 s).', unit: 'ms', alias: '$tag_value', thresholds: levelThresholds('latency_p95'), query: byValue(valueFilter(dimRows('$dim')).select((f) => f.max('latency_p95'), 'latency_p95')) }))
    .withPanel(timeseries({ title: 'Samples by $dim', description: 'Samples per value and interval.', unit: 'short', alias: '$tag_value', query: byValue(valueFilter(dimRows('$dim')).select((f) => f.sum('samples'), 'samples')) }))
    .withPanel(summaryTable('$dim', 'By $dim over the range', 24))
    .withRow(new RowBuilder('ISP, CDN and platform'))
    .withPanel(summaryTable('isp', 'By ISP', 8))
    .withPanel(summaryTable('cdn', 'By CDN', 8))
    .withPanel(summaryTable('platform', 'By platform', 8))
    .build();
}

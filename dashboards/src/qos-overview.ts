import { RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { REGION_MEASUREMENT } from '../../src/storage/influx/rollup-points.js';
import { InfluxQL, variable } from '../../src/storage/influx/influxql.js';
import { OVERVIEW_UID } from '../../src/reports/qos-report-data.js';
import { type MetricPanel, QUALITY_COLUMNS, board, datasourceVariable, incidentAnnotations, levelThresholds, stat, table, tagVariable, timeseries } from './common.js';
import { regionDrilldownLink } from './region-drilldown.js';

/** Region rollups of the selected tenants and regions over the dashboard's range. */
const regions = () =>
  InfluxQL.from(REGION_MEASUREMENT).where('tenant', '=', variable('tenant')).where('region', '=', variable('region')).timeFilter('$timeFilter');
const perRegion = (q: InfluxQL<typeof REGION_MEASUREMENT>) => q.groupByTime('$__interval').groupBy('region').fill('none');

/** The five figures of the overview; ratios are ratios of sums over each interval, never averages of ratios. */
export const OVERVIEW_METRICS: MetricPanel[] = [
  {
    title: 'Latency p95',
    description: 'End-to-end latency p95 per region: the highest 10-second-window p95 in each interval (window quantiles cannot be merged exactly). Not coloured: targets depend on the delivery class (dims.protocol) — the region drill-down shows latency by protocol.',
    unit: 'ms',
    query: perRegion(regions().select((f) => f.max('latency_p95'), 'latency_p95')),
    thresholds: levelThresholds('latency_p95'),
  },
  {
    title: 'Packet loss',
    description: 'Σpackets_lost / Σpackets_expected per region and interval.',
    unit: 'percentunit',
    query: perRegion(regions().select((f) => f.div(f.sum('packets_lost'), f.sum('packets_expected')), 'packet_loss')),
    thresholds: levelThresholds('packet_loss'),
  },
  {
    title: 'Stall ratio',
    description: 'Σstall_ms / Σ(play_ms + stall_ms) per region and interval: share of watch time spent rebuffering.',
    unit: 'percentunit',
    query: perRegion(regions().select((f) => f.div(f.sum('stall_ms'), f.add(f.sum('play_ms'), f.sum('stall_ms'))), 'stall_ratio')),
    thresholds: levelThresholds('stall_ratio'),
  },
  {
    title: 'Concurrency',
    description: 'Streams served per region as reported by edge nodes (sum of each node\'s latest gauge), highest in each interval.',
    unit: 'short',
    query: perRegion(regions().select((f) => f.max('concurrency'), 'concurrency')),
  },
  {
    title: 'Viewers',
    description: 'Distinct viewer sessions that reported within the last three intervals, highest in each interval.',
    unit: 'short',
    query: perRegion(regions().select((f) => f.max('viewers'), 'viewers')),
  },
];

const regionTable = regions()
  .select((f) => f.div(f.sum('stall_ms'), f.add(f.sum('play_ms'), f.sum('stall_ms'))), 'stall_ratio')
  .select((f) => f.div(f.sum('packets_lost'), f.sum('packets_expected')), 'packet_loss')
  .select((f) => f.max('latency_p95'), 'latency_p95')
  .select((f) => f.max('concurrency'), 'peak_concurrency')
  .select((f) => f.sum('samples'), 'samples')
  .groupBy('region');

export function qosOverview() {
  const b = board(OVERVIEW_UID, 'qoswatch — QoS overview', 'Per-region latency, loss, stall, concurrency and viewers; cells coloured at the shipped rules\' P0–P3 thresholds; incidents as annotations.')
    .withVariable(datasourceVariable())
    .withVariable(tagVariable('tenant', 'Tenant', REGION_MEASUREMENT, 'tenant'))
    .withVariable(tagVariable('region', 'Region', REGION_MEASUREMENT, 'region', [['tenant', variable('tenant')]]))
    .annotation(incidentAnnotations())
    .withRow(new RowBuilder('Now'));
  // Every figure is per region: a click on a region's value or line opens that region's drill-down.
  const toRegion = [regionDrilldownLink('__field.labels.region')];
  for (const [i, m] of OVERVIEW_METRICS.entries()) b.withPanel(stat(m, i < 4 ? 5 : 4).dataLinks(toRegion));
  b.withRow(new RowBuilder('Over time'));
  for (const [i, m] of OVERVIEW_METRICS.entries()) b.withPanel(timeseries(m, i === 4 ? 24 : 12).dataLinks(toRegion));
  return b
    .withRow(new RowBuilder('Regions, worst first'))
    .withPanel(
      table({
        title: 'Regions over the range',
        description: 'One row per region over the whole range, sorted by stall ratio (worst first); cells coloured by the P0–P3 level the shipped rules would assign.',
        query: regionTable,
        sortBy: 'stall_ratio',
        columns: [
          { field: 'region', title: 'Region', unit: 'string' },
          ...QUALITY_COLUMNS,
          { field: 'peak_concurrency', title: 'Peak concurrency', unit: 'short' },
          { field: 'samples', title: 'Samples', unit: 'short' },
        ],
      }).dataLinks([regionDrilldownLink('__data.fields.region')]),
    )
    .build();
}

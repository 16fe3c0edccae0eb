import { CustomVariableBuilder, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { INCIDENT_MEASUREMENT } from '../../src/incidents/influx-events.js';
import { InfluxQL, variable } from '../../src/storage/influx/influxql.js';
import { SLA_BREACH_MEASUREMENT, SLA_STOP_MEASUREMENT } from '../../src/tickets/sla-points.js';
import { REGION_MEASUREMENT } from '../../src/storage/influx/rollup-points.js';
import { LEVEL_COLOURS, board, datasourceVariable, incidentAnnotations, stat, table, tagVariable, timeseries } from './common.js';
import { ThresholdsConfigBuilder, ThresholdsMode } from '@grafana/grafana-foundation-sdk/dashboard';

/** The gauge is written every self-metrics interval: the highest count per interval, per tenant and priority (not a sum over time). */
const openByPriority = () =>
  InfluxQL.from('qoswatch_incidents_open').select((f) => f.max('value'), 'open').where('tenant', '=', variable('tenant')).timeFilter('$timeFilter').groupByTime('$__interval').groupBy('tenant', 'priority').fill('none');
const stops = (target: 'response' | 'restore') =>
  InfluxQL.from(SLA_STOP_MEASUREMENT).where('tenant', '=', variable('tenant')).where('tier', '=', variable('tier')).where('target', '=', target).timeFilter('$timeFilter');
const breaches = () => InfluxQL.from(SLA_BREACH_MEASUREMENT).where('tenant', '=', variable('tenant')).where('tier', '=', variable('tier')).timeFilter('$timeFilter');

/** Attainment: red under 90 %, amber under 99 %. */
const attainment = new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([{ value: null, color: LEVEL_COLOURS.P0 }, { value: 0.9, color: LEVEL_COLOURS.P2 }, { value: 0.99, color: LEVEL_COLOURS.ok }]);

export function incidentsSla() {
  return board('qoswatch-incidents-sla', 'qoswatch — incidents and SLA', 'Open incidents by priority, incidents opened, MTTA / MTTR, SLA attainment per tier and every breach.')
    .withVariable(datasourceVariable())
    .withVariable(tagVariable('tenant', 'Tenant', REGION_MEASUREMENT, 'tenant'))
    .withVariable(new CustomVariableBuilder('tier').label('Tier').values('basic,enterprise,strategic').multi(true).includeAll(true).allValue('.*').current({ text: 'All', value: '$__all' }))
    .annotation(incidentAnnotations())
    .withRow(new RowBuilder('Incidents'))
    .withPanel(stat({ title: 'Open incidents', description: 'Incidents not yet resolved, by tenant and priority (now).', unit: 'short', alias: '$tag_tenant $tag_priority', query: openByPriority() }, 8))
    .withPanel(timeseries({ title: 'Open incidents by priority', description: 'Incidents not yet resolved, by tenant and priority.', unit: 'short', alias: '$tag_tenant $tag_priority', query: openByPriority() }, 16))
    .withPanel(timeseries({ title: 'Incidents opened', description: 'Incidents opened or reopened per interval, by priority at opening.', unit: 'short', alias: '$tag_priority', query: InfluxQL.from(INCIDENT_MEASUREMENT).select((f) => f.count('incident'), 'opened').where('tenant', '=', variable('tenant')).whereIn('event', ['opened', 'reopened']).timeFilter('$timeFilter').groupByTime('$__interval').groupBy('priority').fill('none') }, 24))
    .withRow(new RowBuilder('Response and restore'))
    .withPanel(stat({ title: 'MTTA', description: 'Mean time from a ticket opening to its acknowledgement (response clock stopped), by tier.', unit: 'ms', alias: '$tag_tier', query: stops('response').select((f) => f.mean('time_to_stop_ms'), 'mtta').groupBy('tier') }, 6))
    .withPanel(stat({ title: 'MTTR (restore)', description: 'Mean time from a ticket opening to service restored (mitigated), by tier.', unit: 'ms', alias: '$tag_tier', query: stops('restore').select((f) => f.mean('time_to_stop_ms'), 'mttr').groupBy('tier') }, 6))
    .withPanel(
      table({
        title: 'SLA attainment by tier and target',
        description: 'Share of SLA clocks that stopped within their target (mean of met: 1 met, 0 breached), by tier, priority and target.',
        query: InfluxQL.from(SLA_STOP_MEASUREMENT)
          .select((f) => f.mean('met'), 'attainment')
          .select((f) => f.count('met'), 'clocks')
          .select((f) => f.mean('time_to_stop_ms'), 'mean_time')
          .where('tenant', '=', variable('tenant'))
          .where('tier', '=', variable('tier'))
          .timeFilter('$timeFilter')
          .groupBy('tier', 'priority', 'target'),
        sortBy: 'attainment',
        lowIsWorse: true,
        span: 12,
        columns: [
          { field: 'tier', title: 'Tier', unit: 'string' },
          { field: 'priority', title: 'Priority', unit: 'string' },
          { field: 'target', title: 'Target', unit: 'string' },
          { field: 'attainment', title: 'Within target', unit: 'percentunit', thresholds: attainment },
          { field: 'clocks', title: 'Clocks stopped', unit: 'short' },
          { field: 'mean_time', title: 'Mean time', unit: 'ms' },
        ],
      }),
    )
    .withRow(new RowBuilder('Breaches'))
    .withPanel(timeseries({ title: 'SLA breaches', description: 'Targets breached per interval (at the instant they were due), by tier and target.', unit: 'short', alias: '$tag_tier $tag_target', query: breaches().select((f) => f.count('ticket'), 'breaches').groupByTime('$__interval').groupBy('tier', 'target').fill('none') }, 12))
    .withPanel(
      table({
        title: 'Latest breaches',
        description: 'The most recent breaches: ticket, tier, priority, target and the target time.',
        query: breaches().select((f) => f.field('ticket'), 'ticket').select((f) => f.field('target_ms'), 'target_ms').groupBy('tier', 'priority', 'target').limit(100),
        sortBy: 'ticket',
        span: 12,
        columns: [
          { field: 'ticket', title: 'Ticket', unit: 'none' },
          { field: 'tier', title: 'Tier', unit: 'string' },
          { field: 'priority', title: 'Priority', unit: 'string' },
          { field: 'target', title: 'Target', unit: 'string' },
          { field: 'target_ms', title: 'Target time', unit: 'ms' },
        ],
      }),
    )
    .build();
}

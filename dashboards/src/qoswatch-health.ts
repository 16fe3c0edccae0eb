import { RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { InfluxQL, type Measurement, variable } from '../../src/storage/influx/influxql.js';
import { type MetricPanel, board, datasourceVariable, stat, tagVariable, timeseries } from './common.js';

/** The service's own figures (QOSWATCH_SELF_METRICS_INTERVAL), one instance or all. */
const self = <M extends Measurement>(m: M) => InfluxQL.from(m).where('instance', '=', variable('instance')).timeFilter('$timeFilter');

/** Per-second rate of a cumulative counter, per interval, by the given labels. */
const rate = (m: Measurement, by: string[], title: string, description: string, alias: string): MetricPanel => ({
  title, description, alias, unit: 'ops',
  query: self(m).select((f) => f.rate(f.max('value'), '1s'), 'rate').groupByTime('$__interval').groupBy('instance', ...by).fill('none'),
});
const gauge = (m: Measurement, title: string, description: string, unit: string): MetricPanel => ({
  title, description, unit, alias: '$tag_instance',
  query: self(m).select((f) => f.max('value'), 'value').groupByTime('$__interval').groupBy('instance').fill('none'),
});
/** p50 and p99 of each interval's observations of a histogram. */
const tail = (m: Measurement, title: string, description: string): MetricPanel => ({
  title, description, unit: 's', alias: '$tag_instance $col',
  query: self(m).select((f) => f.max('p50'), 'p50').select((f) => f.max('p99'), 'p99').groupByTime('$__interval').groupBy('instance').fill('none'),
});

export function qoswatchHealth() {
  return board('qoswatch-health', 'qoswatch — service health', 'The service itself: ingest rate, rejects, WebSocket connections, evaluation lag, InfluxDB writes and spool, paging outbox.')
    .withVariable(datasourceVariable())
    .withVariable(tagVariable('instance', 'Instance', 'qoswatch_samples_accepted_total', 'instance'))
    .withRow(new RowBuilder('Ingest'))
    .withPanel(timeseries(rate('qoswatch_samples_accepted_total', ['transport'], 'Samples accepted / s', 'Samples accepted per second, by transport (http, ws).', '$tag_transport'), 12))
    .withPanel(timeseries(rate('qoswatch_samples_rejected_total', ['reason'], 'Samples rejected / s', 'Samples rejected per second by reason (the field that failed validation).', '$tag_reason'), 12))
    .withPanel(timeseries(rate('qoswatch_requests_refused_total', ['transport', 'reason'], 'Requests refused / s', 'Requests or frames refused before validation: unauthorized, too large, rate limited, overloaded.', '$tag_transport $tag_reason'), 12))
    .withPanel(timeseries(gauge('qoswatch_ws_connections', 'WebSocket connections', 'Open telemetry WebSocket connections.', 'short'), 12))
    .withRow(new RowBuilder('Evaluation'))
    .withPanel(timeseries(tail('qoswatch_rule_evaluation_lag_seconds', 'Evaluation lag', 'From a batch being aggregated to the evaluation pass that saw it: p50 and p99 of each interval.'), 12))
    .withPanel(timeseries(tail('qoswatch_rule_evaluation_duration_seconds', 'Evaluation pass duration', 'One evaluation pass including its state commit: p50 and p99 of each interval.'), 12))
    .withRow(new RowBuilder('InfluxDB'))
    .withPanel(timeseries(tail('qoswatch_influx_write_duration_seconds', 'InfluxDB write latency', 'InfluxDB write requests: p50 and p99 of each interval.'), 8))
    .withPanel(timeseries(gauge('qoswatch_spool_depth_points', 'Spool depth', 'Points waiting in the on-disk spool for InfluxDB (grows while InfluxDB is down).', 'short'), 8))
    .withPanel(timeseries(rate('qoswatch_spool_dropped_points_total', [], 'Points dropped / s', 'Points dropped because the spool was full: anything above 0 is data lost.', '$tag_instance'), 8))
    .withRow(new RowBuilder('Paging'))
    .withPanel(stat(gauge('qoswatch_outbox_backlog', 'Outbox backlog', 'Pages waiting in the outbox (pending or being sent).', 'short'), 6))
    .withPanel(timeseries(gauge('qoswatch_outbox_backlog', 'Outbox backlog over time', 'Pages waiting in the outbox.', 'short'), 6))
    .withPanel(timeseries(rate('qoswatch_pages_total', ['channel', 'outcome'], 'Page deliveries / s by outcome', 'Page delivery attempts by channel type and outcome: delivered, retry (will be retried), failed (fallback used).', '$tag_channel $tag_outcome'), 12))
    .withRow(new RowBuilder('Process'))
    .withPanel(timeseries(gauge('process_resident_memory_bytes', 'Resident memory', 'RSS of the service process.', 'bytes'), 8))
    .withPanel(timeseries({ ...rate('process_cpu_seconds_total', [], 'CPU', 'CPU seconds per second (1 = one core).', '$tag_instance'), unit: 'percentunit' }, 8))
    .withPanel(timeseries(gauge('nodejs_eventloop_lag_p99_seconds', 'Event-loop lag p99', 'Event-loop delay p99 since start (prom-client).', 's'), 8))
    .build();
}

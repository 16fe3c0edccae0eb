import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { HEARTBEAT_OUTCOMES } from './api/heartbeat.js';
import { TIMELINE_KINDS } from './incidents/model.js';
import { PROVIDER_IDS } from './notify/registry.js';
import type { Transition } from './rules/alert-state.js';
import { CLIENT_ERRORS } from './shared/http-errors.js';
import { DIMENSIONS } from './shared/labels.js';
import { EMAIL, UNKNOWN_CHANNEL } from './shared/paging.js';
import { SOURCE_KINDS } from './sources/registry.js';
import { SOURCE_OUTCOMES, SOURCE_REFUSALS } from './sources/sources.js';
import { SINK_FAILURES } from './storage/influx/sink.js';
import { QUARANTINE_CAUSES } from './storage/ingest-log/replay.js';
import { TRANSPORTS } from './telemetry/intake.js';
import { REJECT_REASONS } from './telemetry/validate.js';
import { CLOSE } from './telemetry/ws-collector.js';
import { VERSION } from './version.js';

/** The values a label may take, per label name: the whole vocabulary of a counter whose labels form closed sets. */
type Domains = Readonly<Record<string, readonly string[]>>;

/**
 * A counter with a sample for every combination of its label values from the start, so that `absent()` and `rate()`
 * see 0 before the first event rather than nothing. `inc` takes only those values: a new one is a compile error until
 * it joins its domain (and so has its sample too).
 */
export type ClosedCounter<D extends Domains> = Omit<Counter<Extract<keyof D, string>>, 'inc'> & {
  inc(labels: { [K in keyof D]: D[K][number] }, value?: number): void;
};

/** Why telemetry was refused before validation: Node's HTTP parser, the collectors' hooks, the WebSocket handshake. */
export const REFUSAL_REASONS = [
  ...CLIENT_ERRORS,
  'overloaded',
  'unauthorized',
  'too_large',
  'unsupported_media_type',
  'rate_limited',
  'over_budget',
  'too_many_connections',
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** The dimensions whose values are capped per tenant (QOSWATCH_DIM_CAP, QOSWATCH_REGION_CAP); the caps name them as strings. */
const CAPPED_DIMS: readonly string[] = ['region', ...DIMENSIONS];

const TRANSITION_TYPES = ['fired', 'priority_changed', 'cleared'] as const satisfies readonly Transition['type'][];

/**
 * The service's own figures for /metrics. One registry per app instance (tests build several apps in one
 * process). Gauges that mirror state are read on scrape through `collect` callbacks set by their owners.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly buildInfo = this.gauge('qoswatch_build_info', 'Always 1: the running qoswatch version and Node.js version as labels', ['version', 'node_version']);
  readonly samplesAccepted = this.closedCounter('qoswatch_samples_accepted_total', 'Samples accepted', { transport: TRANSPORTS });
  readonly samplesRejected = this.closedCounter('qoswatch_samples_rejected_total', 'Samples rejected, by reason', { reason: REJECT_REASONS });
  readonly samplesAggregated = this.closedCounter(
    'qoswatch_samples_aggregated_total',
    'Accepted samples by where they went: open window, closed window inside the evaluation horizon (rewritten), or late (older than the horizon: stored, not evaluated)',
    { path: ['open', 'retained', 'late'] },
  );
  readonly batches = this.closedCounter('qoswatch_batches_total', 'Telemetry batches (HTTP requests and WebSocket frames), by outcome', {
    transport: TRANSPORTS,
    outcome: ['accepted', 'partial', 'rejected', 'error'],
  });
  readonly refused = this.closedCounter('qoswatch_requests_refused_total', 'Telemetry requests or frames refused before validation', {
    transport: TRANSPORTS,
    reason: REFUSAL_REASONS,
  });
  readonly shed = this.closedCounter(
    'qoswatch_requests_shed_total',
    'Requests refused as overload (telemetry 429 and WebSocket 1013, tenant view 503), by cause: event_loop (every event-loop turn over QOSWATCH_MAX_EVENT_LOOP_DELAY for a second), inflight (QOSWATCH_MAX_INFLIGHT), pending_bytes (QOSWATCH_MAX_PENDING_BYTES)',
    { cause: ['event_loop', 'inflight', 'pending_bytes'] },
  );
  /** What a log line per telemetry request would tell (status, time), without writing one per viewer beacon. */
  readonly telemetryRequestDuration = new Histogram({
    name: 'qoswatch_telemetry_request_duration_seconds',
    help: 'HTTP telemetry requests (POST /v1/telemetry), from arrival to response, by status code',
    labelNames: ['code'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly cmcdReports = this.closedCounter(
    'qoswatch_cmcd_reports_total',
    'CMCD event reports (lines of POST /v1/cmcd), by outcome: accepted, rejected (a bad line, named in the answer), untracked (the CMCD sessions budget was full) or late (older than what its session had accounted)',
    { outcome: ['accepted', 'rejected', 'untracked', 'late'] },
  );
  readonly cmcdSessions = this.gauge('qoswatch_cmcd_sessions', 'CMCD sessions whose player state is held (forgotten QOSWATCH_MAX_LIVE after their last report)');
  readonly wsConnections = new Gauge({ name: 'qoswatch_ws_connections', help: 'Open telemetry WebSocket connections', registers: [this.registry] });
  readonly wsCloses = this.closedCounter('qoswatch_ws_closes_total', 'Telemetry WebSocket closes by the server, by close code', {
    code: Object.values(CLOSE).map(String),
  });
  readonly windowSeries = this.gauge('qoswatch_window_series', 'Series held by the window store');
  readonly liveSessions = this.gauge('qoswatch_live_sessions', 'Viewer sessions reported within 3 intervals');
  readonly liveNodes = this.gauge('qoswatch_live_nodes', 'Nodes reported within 3 intervals');
  readonly dimFolded = this.closedCounter('qoswatch_dim_values_folded_total', 'Samples whose dimension value went over the cardinality cap and was folded into "other"', {
    dim: CAPPED_DIMS,
  });
  readonly geoipLookups = this.closedCounter(
    'qoswatch_geoip_lookups_total',
    'Telemetry batches by ISP/country enrichment outcome: found, not_found (no database knows the address), no_address (none usable)',
    { result: ['found', 'not_found', 'no_address'] },
  );
  readonly dimReleased = this.closedCounter('qoswatch_dim_values_released_total', 'Dimension values (and regions) not seen for QOSWATCH_DIM_TTL whose cap slot was released', {
    dim: CAPPED_DIMS,
  });
  readonly budget = this.gauge('qoswatch_budget', 'Global ceilings over all tenants: series held, live sessions and nodes', ['budget']);
  readonly tenantBudget = this.gauge('qoswatch_tenant_budget', 'Budgets in force per tenant: series, points per window, live sessions and nodes', ['tenant', 'budget']);
  readonly tenantSeries = this.gauge('qoswatch_tenant_series', 'Series held by the window store, per tenant', ['tenant']);
  readonly tenantLiveSessions = this.gauge('qoswatch_tenant_live_sessions', 'Live sessions and nodes tracked, per tenant', ['tenant']);
  readonly tenantPoints = this.gauge('qoswatch_tenant_points', 'Points counted against the budget in the current window, per tenant', ['tenant']);
  readonly tenantBudgetExceeded = this.counter(
    'qoswatch_tenant_budget_exceeded_total',
    'Excess over a budget, per tenant: budget (series, global_series, points, sessions, global_sessions) and action (folded, raw_skipped, refused, untracked, evicted)',
    ['tenant', 'budget', 'action'],
  );
  readonly tickDuration = new Histogram({
    name: 'qoswatch_window_tick_duration_seconds',
    help: 'Time to close windows and commit their points to the spool',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly journalPendingBytes = this.gauge('qoswatch_journal_pending_bytes', 'Accepted bytes waiting for the journal commit');
  readonly journalQuarantined = this.closedCounter(
    'qoswatch_journal_quarantined_total',
    'Journal rows moved to quarantine at start, by cause: error (replaying the row threw) or crash (the process died replaying it)',
    { cause: QUARANTINE_CAUSES },
  );
  readonly journalQuarantineRows = this.gauge('qoswatch_journal_quarantine_rows', 'Journal rows kept in quarantine (ingest.db, table journal_quarantine)');
  readonly journalSegments = this.gauge('qoswatch_journal_segments', 'Journal segment files (one per window not yet stored)');
  readonly journalBytes = this.gauge('qoswatch_journal_bytes', 'Bytes in journal segment files');
  readonly journalDamaged = this.counter('qoswatch_journal_damaged_records_total', 'Damaged journal records skipped at start (length or CRC wrong, whole records after them)');
  readonly influxWriteDuration = new Histogram({
    name: 'qoswatch_influx_write_duration_seconds',
    help: 'InfluxDB write request latency',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly influxWriteErrors = this.closedCounter('qoswatch_influx_write_errors_total', 'Failed InfluxDB writes, by kind (retry, reject, too_large)', { failure: SINK_FAILURES });
  readonly influxPointsWritten = this.counter('qoswatch_influx_points_written_total', 'Points written to InfluxDB');
  readonly influxPointsRejected = this.counter('qoswatch_influx_points_rejected_total', 'Points InfluxDB refused for good (bad point)');
  readonly spoolDepthPoints = this.gauge('qoswatch_spool_depth_points', 'Points waiting in the spool for InfluxDB');
  readonly spoolDepthBytes = this.gauge('qoswatch_spool_depth_bytes', 'Bytes waiting in the spool for InfluxDB');
  readonly spoolDropped = this.counter('qoswatch_spool_dropped_points_total', 'Points dropped because the spool was full');
  readonly tenantSpoolBytes = this.gauge('qoswatch_tenant_spool_bytes', 'Bytes waiting in the spool, per tenant ("(service)": incident events and self metrics)', ['tenant']);
  readonly tenantSpoolDropped = this.counter('qoswatch_tenant_spool_dropped_points_total', 'Points dropped from the full spool, per tenant (whoever holds the most loses first)', ['tenant']);
  readonly evaluations = this.counter('qoswatch_rule_evaluations_total', 'Evaluation passes of the rule engine');
  readonly evalDuration = new Histogram({
    name: 'qoswatch_rule_evaluation_duration_seconds',
    help: 'Time of one evaluation pass (dirty groups, due timers, window sweeps) including its state commit',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly evalLag = new Histogram({
    name: 'qoswatch_rule_evaluation_lag_seconds',
    help: 'From a batch being aggregated to the evaluation that saw it',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly alertTransitions = this.closedCounter('qoswatch_alert_transitions_total', 'Alert transitions, by type (fired, priority_changed, cleared)', { type: TRANSITION_TYPES });
  readonly alertGroups = this.gauge('qoswatch_alert_groups', 'Rule groups tracked by the engine');
  readonly alertsActive = this.gauge('qoswatch_alerts', 'Alerts not inactive, by status', ['status']);
  readonly incidentsOpen = this.gauge('qoswatch_incidents_open', 'Incidents not yet resolved, by tenant and priority', ['tenant', 'priority']);
  readonly incidentEvents = this.closedCounter('qoswatch_incident_events_total', 'Incident timeline events, by kind', { kind: TIMELINE_KINDS });
  readonly rulesLoaded = this.gauge('qoswatch_rules_loaded', 'Rules in force');
  readonly ruleReloads = this.closedCounter('qoswatch_rule_reloads_total', 'Rule reloads, by outcome', { outcome: ['ok', 'rejected'] });
  readonly pages = this.closedCounter(
    'qoswatch_pages_total',
    'Page delivery attempts, by channel type (email, a chat provider, or unknown: a channel no longer configured) and outcome (delivered, retry, failed)',
    { channel: [EMAIL, ...PROVIDER_IDS, UNKNOWN_CHANNEL], outcome: ['delivered', 'retry', 'failed'] },
  );
  readonly outboxBacklog = this.gauge('qoswatch_outbox_backlog', 'Pages waiting in the outbox (pending or being sent)');
  readonly outboxClaims = this.closedCounter(
    'qoswatch_outbox_claims_total',
    'Pages this node claimed to send: due ones, and ones whose earlier sender\'s claim had run out (it died or hung mid-send; sent again with the same key)',
    { claim: ['due', 'expired'] },
  );
  readonly pageStorms = this.counter('qoswatch_page_storms_total', 'Storms: many incidents of one tenant at once, paged as one, by tenant', ['tenant']);
  readonly incidentsGrouped = this.counter('qoswatch_incidents_grouped_total', "Incidents paged as part of their tenant's storm instead of on their own, by tenant", ['tenant']);
  readonly pagesHeld = this.counter('qoswatch_pages_held_total', 'Pages held back because their tenant was over its page budget (each sent later, counted once), by tenant', ['tenant']);
  readonly alertsOverBudget = this.counter('qoswatch_alerts_over_budget_total', 'Alert groups that fired while their tenant had its most open incidents, collected into one incident, by tenant', ['tenant']);
  readonly leader = this.gauge('qoswatch_leader', '1 when this process runs the singleton duties (escalations, outbox, SLA watch, reports, readiness reports); always 1 in the embedded mode');
  readonly leaderChanges = this.closedCounter('qoswatch_leader_changes_total', 'Times this process gained (to="leader") or lost (to="standby") the lead of a cluster', {
    to: ['leader', 'standby'],
  });
  readonly followerLag = this.gauge('qoswatch_timeline_follower_lag', 'Incident timeline entries a follower (pager, tickets) has not handled yet', ['consumer']);
  readonly pointsDiscarded = this.counter('qoswatch_points_discarded_total', 'Points not stored because no InfluxDB is configured');
  readonly partitionsOwned = this.gauge('qoswatch_partitions_owned', 'Partitions of the raw log this cluster node owns now (evaluates)');
  readonly partitionEpoch = this.gauge('qoswatch_partition_epoch', "The lease epoch (fencing token) of each partition this node owns", ['partition']);
  readonly partitionLag = this.gauge('qoswatch_partition_lag_seconds', 'How long the last batch a partition owner applied had waited since its collector stored it (ingest to evaluation)', ['partition']);
  readonly partitionTakeovers = this.closedCounter(
    'qoswatch_partition_takeovers_total',
    'Partitions this node took over (acquired) and gave up (released: handed over; lost: its lease went first)',
    { event: ['acquired', 'released', 'lost'] },
  );
  readonly partitionReplayed = this.counter('qoswatch_partition_replayed_batches_total', 'Raw-log batches a partition owner read again from its checkpoint at a takeover');
  readonly fenceRejections = this.counter('qoswatch_fence_rejections_total', "Writes of a partition owner refused because a newer owner's epoch had written: a stale owner stopped");
  readonly rawBatchesDamaged = this.counter('qoswatch_raw_batches_damaged_total', 'Raw-log messages a partition owner could not read (skipped: their samples are lost)');
  readonly partitionPointsDropped = this.counter('qoswatch_partition_points_dropped_total', "Points a partition owner dropped because InfluxDB was away longer than its backlog holds (the oldest first)");

  readonly sourceAlerts = this.closedCounter(
    'qoswatch_source_alerts_total',
    'Alerts from alert sources (Alertmanager, Grafana, PagerDuty Events v2, webhooks, heartbeats), by kind and outcome',
    { kind: SOURCE_KINDS, outcome: SOURCE_OUTCOMES },
  );
  readonly sourceRefused = this.closedCounter('qoswatch_source_requests_refused_total', 'Requests to alert source endpoints refused, by reason', { reason: SOURCE_REFUSALS });
  readonly heartbeatPings = this.closedCounter('qoswatch_heartbeat_pings_total', 'Own heartbeats to QOSWATCH_HEARTBEAT_URL: sent (answered 2xx), failed, or skipped (this node not ready)', { outcome: HEARTBEAT_OUTCOMES });

  constructor() {
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
    // prom-client names these gauges `_total`, a suffix that promtool (and OpenMetrics) keeps for counters; counts of
    // Node's internal handles are not worth a renamed copy beside the event-loop, heap and qoswatch's own gauges.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name);
    this.buildInfo.set({ version: VERSION, node_version: process.version }, 1);
  }

  /** A counter of closed label sets (see ClosedCounter), each combination at 0 until its first event. */
  private closedCounter<const D extends Domains>(name: string, help: string, domains: D): ClosedCounter<D> {
    const names = Object.keys(domains);
    const counter = this.counter(name, help, names);
    const combinations = names.reduce<Record<string, string>[]>((all, n) => all.flatMap((labels) => domains[n]!.map((v) => ({ ...labels, [n]: v }))), [{}]);
    for (const labels of combinations) counter.inc(labels, 0);
    return counter;
  }

  private counter(name: string, help: string, labelNames: string[] = []) {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private gauge(name: string, help: string, labelNames: string[] = []) {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }
}

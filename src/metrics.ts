import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The service's own figures for /metrics. One registry per app instance (tests build several apps in one
 * process). Gauges that mirror state are read on scrape through `collect` callbacks set by their owners.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly samplesAccepted = this.counter('qoswatch_samples_accepted_total', 'Samples accepted', ['transport']);
  readonly samplesRejected = this.counter('qoswatch_samples_rejected_total', 'Samples rejected, by reason', ['reason']);
  readonly samplesAggregated = this.counter(
    'qoswatch_samples_aggregated_total',
    'Accepted samples by where they went: open window, closed window inside the evaluation horizon (rewritten), or late (older than the horizon: stored, not evaluated)',
    ['path'],
  );
  readonly batches = this.counter('qoswatch_batches_total', 'Telemetry batches (HTTP requests and WebSocket frames), by outcome', ['transport', 'outcome']);
  readonly refused = this.counter('qoswatch_requests_refused_total', 'Telemetry requests or frames refused before validation', ['transport', 'reason']);
  readonly shed = this.counter(
    'qoswatch_requests_shed_total',
    'Requests refused as overload (telemetry 429 and WebSocket 1013, tenant view 503), by cause: event_loop (every event-loop turn over QOSWATCH_MAX_EVENT_LOOP_DELAY for a second), inflight (QOSWATCH_MAX_INFLIGHT), pending_bytes (QOSWATCH_MAX_PENDING_BYTES)',
    ['cause'],
  );
  /** What a log line per telemetry request would tell (status, time), without writing one per viewer beacon. */
  readonly telemetryRequestDuration = new Histogram({
    name: 'qoswatch_telemetry_request_duration_seconds',
    help: 'HTTP telemetry requests (POST /v1/telemetry), from arrival to response, by status code',
    labelNames: ['code'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly cmcdReports = this.counter(
    'qoswatch_cmcd_reports_total',
    'CMCD event reports (lines of POST /v1/cmcd), by outcome: accepted, rejected (a bad line, named in the answer), untracked (the CMCD sessions budget was full) or late (older than what its session had accounted)',
    ['outcome'],
  );
  readonly cmcdSessions = this.gauge('qoswatch_cmcd_sessions', 'CMCD sessions whose player state is held (forgotten QOSWATCH_MAX_LIVE after their last report)');
  readonly wsConnections = new Gauge({ name: 'qoswatch_ws_connections', help: 'Open telemetry WebSocket connections', registers: [this.registry] });
  readonly wsCloses = this.counter('qoswatch_ws_closes_total', 'Telemetry WebSocket closes by the server, by close code', ['code']);
  readonly windowSeries = this.gauge('qoswatch_window_series', 'Series held by the window store');
  readonly liveSessions = this.gauge('qoswatch_live_sessions', 'Viewer sessions reported within 3 intervals');
  readonly liveNodes = this.gauge('qoswatch_live_nodes', 'Nodes reported within 3 intervals');
  readonly dimFolded = this.counter('qoswatch_dim_values_folded_total', 'Samples whose dimension value went over the cardinality cap and was folded into "other"', ['dim']);
  readonly geoipLookups = this.counter(
    'qoswatch_geoip_lookups_total',
    'Telemetry batches by ISP/country enrichment outcome: found, not_found (no database knows the address), no_address (none usable)',
    ['result'],
  );
  readonly dimReleased = this.counter('qoswatch_dim_values_released_total', 'Dimension values (and regions) not seen for QOSWATCH_DIM_TTL whose cap slot was released', ['dim']);
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
  readonly journalQuarantined = this.counter(
    'qoswatch_journal_quarantined_total',
    'Journal rows moved to quarantine at start, by cause: error (replaying the row threw) or crash (the process died replaying it)',
    ['cause'],
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
  readonly influxWriteErrors = this.counter('qoswatch_influx_write_errors_total', 'Failed InfluxDB writes, by kind (retry, reject, too_large)', ['failure']);
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
  readonly alertTransitions = this.counter('qoswatch_alert_transitions_total', 'Alert transitions, by type (fired, priority_changed, cleared)', ['type']);
  readonly alertGroups = this.gauge('qoswatch_alert_groups', 'Rule groups tracked by the engine');
  readonly alertsActive = this.gauge('qoswatch_alerts', 'Alerts not inactive, by status', ['status']);
  readonly incidentsOpen = this.gauge('qoswatch_incidents_open', 'Incidents not yet resolved, by tenant and priority', ['tenant', 'priority']);
  readonly incidentEvents = this.counter('qoswatch_incident_events_total', 'Incident timeline events, by kind', ['kind']);
  readonly rulesLoaded = this.gauge('qoswatch_rules_loaded', 'Rules in force');
  readonly ruleReloads = this.counter('qoswatch_rule_reloads_total', 'Rule reloads, by outcome', ['outcome']);
  readonly pages = this.counter('qoswatch_pages_total', 'Page delivery attempts, by channel type (email or chat provider) and outcome (delivered, retry, failed)', ['channel', 'outcome']);
  readonly outboxBacklog = this.gauge('qoswatch_outbox_backlog', 'Pages waiting in the outbox (pending or being sent)');
  readonly outboxClaims = this.counter('qoswatch_outbox_claims_total', 'Pages this node claimed to send: due ones, and ones whose earlier sender\'s claim had run out (it died or hung mid-send; sent again with the same key)', ['claim']);
  readonly pageStorms = this.counter('qoswatch_page_storms_total', 'Storms: many incidents of one tenant at once, paged as one, by tenant', ['tenant']);
  readonly incidentsGrouped = this.counter('qoswatch_incidents_grouped_total', "Incidents paged as part of their tenant's storm instead of on their own, by tenant", ['tenant']);
  readonly pagesHeld = this.counter('qoswatch_pages_held_total', 'Pages held back because their tenant was over its page budget (each sent later, counted once), by tenant', ['tenant']);
  readonly alertsOverBudget = this.counter('qoswatch_alerts_over_budget_total', 'Alert groups that fired while their tenant had its most open incidents, collected into one incident, by tenant', ['tenant']);
  readonly leader = this.gauge('qoswatch_leader', '1 when this process runs the singleton duties (escalations, outbox, SLA watch, reports, readiness reports); always 1 in the embedded mode');
  readonly leaderChanges = this.counter('qoswatch_leader_changes_total', 'Times this process gained (to="leader") or lost (to="standby") the lead of a cluster', ['to']);
  readonly followerLag = this.gauge('qoswatch_timeline_follower_lag', 'Incident timeline entries a follower (pager, tickets) has not handled yet', ['consumer']);
  readonly pointsDiscarded = this.counter('qoswatch_points_discarded_total', 'Points not stored because no InfluxDB is configured');
  readonly partitionsOwned = this.gauge('qoswatch_partitions_owned', 'Partitions of the raw log this cluster node owns now (evaluates)');
  readonly partitionEpoch = this.gauge('qoswatch_partition_epoch', "The lease epoch (fencing token) of each partition this node owns", ['partition']);
  readonly partitionLag = this.gauge('qoswatch_partition_lag_seconds', 'How long the last batch a partition owner applied had waited since its collector stored it (ingest to evaluation)', ['partition']);
  readonly partitionTakeovers = this.counter('qoswatch_partition_takeovers_total', 'Partitions this node took over (acquired) and gave up (released: handed over; lost: its lease went first)', ['event']);
  readonly partitionReplayed = this.counter('qoswatch_partition_replayed_batches_total', 'Raw-log batches a partition owner read again from its checkpoint at a takeover');
  readonly fenceRejections = this.counter('qoswatch_fence_rejections_total', "Writes of a partition owner refused because a newer owner's epoch had written: a stale owner stopped");
  readonly rawBatchesDamaged = this.counter('qoswatch_raw_batches_damaged_total', 'Raw-log messages a partition owner could not read (skipped: their samples are lost)');
  readonly partitionPointsDropped = this.counter('qoswatch_partition_points_dropped_total', "Points a partition owner dropped because InfluxDB was away longer than its backlog holds (the oldest first)");

  constructor() {
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
  }

  private counter(name: string, help: string, labelNames: string[] = []) {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private gauge(name: string, help: string, labelNames: string[] = []) {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }
}

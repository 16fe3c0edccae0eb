import { type Db, openDb } from './sqlite.js';

/** Durable service state (keys, admitted dimension values, alert state, incidents, silences, on-call overrides; later tickets, outbox). */
export const MIGRATIONS = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE ingest_keys (
     id TEXT PRIMARY KEY,
     tenant TEXT NOT NULL,
     name TEXT,
     sha256 TEXT NOT NULL UNIQUE,
     rate_limit TEXT,
     created_at INTEGER NOT NULL,
     revoked_at INTEGER
   );
   CREATE TABLE dim_values (
     tenant TEXT NOT NULL,
     dim TEXT NOT NULL,
     value TEXT NOT NULL,
     first_seen INTEGER NOT NULL,
     PRIMARY KEY (tenant, dim, value)
   ) WITHOUT ROWID;`,
  // Alerting: the durable part of each (rule, group), incidents with their alerts and timeline, silences.
  `CREATE TABLE alerts (
     rule_id TEXT NOT NULL,
     group_key TEXT NOT NULL,
     labels TEXT NOT NULL,
     state TEXT NOT NULL,
     last_seen INTEGER,
     baseline TEXT,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (rule_id, group_key)
   ) WITHOUT ROWID;
   CREATE TABLE incidents (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     group_key TEXT NOT NULL,
     tenant TEXT NOT NULL,
     region TEXT,
     title TEXT NOT NULL,
     state TEXT NOT NULL,
     priority TEXT NOT NULL,
     silenced INTEGER NOT NULL DEFAULT 0,
     opened_at INTEGER NOT NULL,
     acknowledged_at INTEGER,
     acknowledged_by TEXT,
     mitigated_at INTEGER,
     mitigated_by TEXT,
     resolved_at INTEGER,
     resolved_by TEXT,
     reopened INTEGER NOT NULL DEFAULT 0,
     updated_at INTEGER NOT NULL
   );
   CREATE INDEX incidents_group ON incidents (group_key, state);
   CREATE INDEX incidents_opened ON incidents (opened_at);
   CREATE TABLE incident_alerts (
     incident_id INTEGER NOT NULL REFERENCES incidents (id),
     rule_id TEXT NOT NULL,
     group_key TEXT NOT NULL,
     labels TEXT NOT NULL,
     priority TEXT NOT NULL,
     firing INTEGER NOT NULL,
     silenced INTEGER NOT NULL,
     fired_at INTEGER NOT NULL,
     cleared_at INTEGER,
     trigger TEXT,
     PRIMARY KEY (incident_id, rule_id, group_key)
   ) WITHOUT ROWID;
   CREATE INDEX incident_alerts_firing ON incident_alerts (rule_id, group_key) WHERE firing = 1;
   CREATE TABLE timeline (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     incident_id INTEGER NOT NULL REFERENCES incidents (id),
     at INTEGER NOT NULL,
     actor TEXT NOT NULL,
     kind TEXT NOT NULL,
     data TEXT
   );
   CREATE INDEX timeline_incident ON timeline (incident_id, id);
   CREATE TABLE silences (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     matchers TEXT NOT NULL,
     starts_at INTEGER NOT NULL,
     ends_at INTEGER,
     recurrence TEXT,
     comment TEXT NOT NULL,
     created_by TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     updated_by TEXT,
     updated_at INTEGER,
     deleted_by TEXT,
     deleted_at INTEGER
   );`,
  // On-call overrides made through the API (those in the on-call file live there).
  `CREATE TABLE oncall_overrides (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     schedule TEXT NOT NULL,
     person TEXT NOT NULL,
     start_at INTEGER NOT NULL,
     end_at INTEGER NOT NULL,
     comment TEXT,
     created_by TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     deleted_by TEXT,
     deleted_at INTEGER
   );
   CREATE INDEX oncall_overrides_schedule ON oncall_overrides (schedule, end_at);`,
  // The paging outbox: every notification is a row before it is sent (idempotency key unique).
  `CREATE TABLE outbox (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     key TEXT NOT NULL UNIQUE,
     incident_id INTEGER NOT NULL,
     kind TEXT NOT NULL,
     recipient TEXT NOT NULL,
     channel TEXT NOT NULL,
     payload TEXT NOT NULL,
     state TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_at INTEGER NOT NULL,
     last_error TEXT,
     created_at INTEGER NOT NULL,
     sent_at INTEGER,
     updated_at INTEGER NOT NULL
   );
   CREATE INDEX outbox_due ON outbox (state, next_at);
   CREATE INDEX outbox_incident ON outbox (incident_id);
   CREATE TABLE escalations (
     incident_id INTEGER PRIMARY KEY,
     policy TEXT NOT NULL,
     generation INTEGER NOT NULL,
     started_at INTEGER NOT NULL,
     next_step INTEGER NOT NULL,
     stopped_at INTEGER
   );`,
  // Tickets: one per affected tenant of an incident, or opened by hand; SLA clocks are computed from the events.
  `CREATE TABLE tickets (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     tenant TEXT NOT NULL,
     incident_id INTEGER,
     title TEXT NOT NULL,
     priority TEXT NOT NULL,
     state TEXT NOT NULL,
     resume_state TEXT,
     assignee TEXT,
     root_cause TEXT,
     opened_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     UNIQUE (incident_id, tenant)
   );
   CREATE INDEX tickets_tenant ON tickets (tenant, id);
   CREATE TABLE ticket_events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     ticket_id INTEGER NOT NULL REFERENCES tickets (id),
     at INTEGER NOT NULL,
     actor TEXT NOT NULL,
     kind TEXT NOT NULL,
     visibility TEXT NOT NULL,
     data TEXT
   );
   CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);`,
  // Tenants created through the admin API (the config file's live there); `spec` is the request body as given.
  `CREATE TABLE tenants (
     id TEXT PRIMARY KEY,
     spec TEXT NOT NULL,
     created_by TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     updated_by TEXT,
     updated_at INTEGER
   );`,
  // Scheduled reports: when each schedule was first seen (a run missed before that is not caught up) and each
  // run by the instant it was due, so a period is reported once however often the service restarts.
  `CREATE TABLE report_schedules (
     tenant TEXT NOT NULL,
     kind TEXT NOT NULL,
     first_seen INTEGER NOT NULL,
     PRIMARY KEY (tenant, kind)
   );
   CREATE TABLE report_runs (
     tenant TEXT NOT NULL,
     kind TEXT NOT NULL,
     due_at INTEGER NOT NULL,
     status TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     error TEXT,
     sent_at INTEGER,
     PRIMARY KEY (tenant, kind, due_at)
   );`,
  // Planned high-traffic events: a readiness report before, tighter thresholds during.
  `CREATE TABLE events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     tenant TEXT NOT NULL,
     name TEXT NOT NULL,
     regions TEXT NOT NULL,
     starts_at INTEGER NOT NULL,
     ends_at INTEGER NOT NULL,
     spec TEXT NOT NULL,
     readiness_at INTEGER NOT NULL,
     readiness_sent_at INTEGER,
     readiness_attempts INTEGER NOT NULL DEFAULT 0,
     readiness_error TEXT,
     created_by TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     cancelled_at INTEGER
   );
   CREATE INDEX events_window ON events (ends_at);`,
  // An escalation remembers the timeline entry that started its generation: handling that entry again (a replay)
  // does not start it again.
  `ALTER TABLE escalations ADD COLUMN started_by_entry INTEGER;`,
  // A page being sent is claimed by one sender until claim_until; rows left sending by an older version have no
  // claim (0): they are sent again at once, as that version did after a restart.
  `ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
   ALTER TABLE outbox ADD COLUMN claim_until INTEGER NOT NULL DEFAULT 0;`,
  // At most one active (open or acknowledged) incident per group, held by the schema. An older version could leave
  // two (a hand-mitigated incident reopened beside a newer one): all but the newest are mitigated, saying why.
  `INSERT INTO timeline (incident_id, at, actor, kind, data)
     SELECT id, updated_at, 'qoswatch', 'mitigated', '{"reason":"a newer incident of its group is active (one active incident per group)","auto":true}'
     FROM incidents i WHERE state IN ('open', 'acknowledged')
       AND EXISTS (SELECT 1 FROM incidents j WHERE j.group_key = i.group_key AND j.state IN ('open', 'acknowledged') AND j.id > i.id);
   UPDATE incidents SET state = 'mitigated', mitigated_at = updated_at, mitigated_by = 'qoswatch'
     WHERE state IN ('open', 'acknowledged')
       AND EXISTS (SELECT 1 FROM incidents j WHERE j.group_key = incidents.group_key AND j.state IN ('open', 'acknowledged') AND j.id > incidents.id);
   CREATE UNIQUE INDEX incidents_active ON incidents (group_key) WHERE state IN ('open', 'acknowledged');`,
  // A report run is claimed by one runner until claim_until before it is built and sent; runs left pending by an
  // older version have no claim (0) and are taken up at once.
  `ALTER TABLE report_runs ADD COLUMN claimed_by TEXT;
   ALTER TABLE report_runs ADD COLUMN claim_until INTEGER NOT NULL DEFAULT 0;`,
  // SLA warnings and breaches raised, unique per ticket, kind, target and priority (so each is raised once whoever
  // checks); those recorded as ticket events by older versions are carried over.
  `CREATE TABLE sla_marks (
     ticket_id INTEGER NOT NULL REFERENCES tickets (id),
     kind TEXT NOT NULL,
     target TEXT NOT NULL,
     priority TEXT NOT NULL,
     at INTEGER NOT NULL,
     PRIMARY KEY (ticket_id, kind, target, priority)
   ) WITHOUT ROWID;
   INSERT OR IGNORE INTO sla_marks (ticket_id, kind, target, priority, at)
     SELECT ticket_id, kind, json_extract(data, '$.target'), json_extract(data, '$.priority'), at FROM ticket_events
     WHERE kind IN ('sla_warning', 'sla_breach') AND json_extract(data, '$.target') IS NOT NULL AND json_extract(data, '$.priority') IS NOT NULL;`,
  // Paging lanes: each outbox row knows its priority and tenant (a lane sends the most urgent first, tenants taking
  // turns), read back from the rendered page for rows already there.
  `ALTER TABLE outbox ADD COLUMN priority TEXT NOT NULL DEFAULT 'P2';
   ALTER TABLE outbox ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
   UPDATE outbox SET priority = coalesce(json_extract(payload, '$.priority'), 'P2'), tenant = coalesce(json_extract(payload, '$.tenant'), '');`,
  // Floods: a storm groups many incidents of one tenant (and escalation policy) into one page; its outbox rows carry
  // storm_id and incident 0. It escalates like an incident while any member is open, and tells what changed at
  // most once per interval (told_*). Pages count against their tenant's budget (outbox_tenant_sent); a tenant's
  // open incidents are counted against its open-incident budget (incidents_tenant).
  `ALTER TABLE outbox ADD COLUMN storm_id INTEGER;
   CREATE INDEX outbox_tenant_sent ON outbox (tenant, sent_at) WHERE state = 'delivered';
   CREATE INDEX outbox_storm ON outbox (storm_id) WHERE storm_id IS NOT NULL;
   CREATE TABLE storms (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     tenant TEXT NOT NULL,
     policy TEXT NOT NULL,
     opened_at INTEGER NOT NULL,
     closed_at INTEGER,
     generation INTEGER NOT NULL DEFAULT 0,
     started_at INTEGER,
     next_step INTEGER NOT NULL DEFAULT 0,
     version INTEGER NOT NULL DEFAULT 0,
     told_version INTEGER NOT NULL DEFAULT 0,
     told_at INTEGER,
     told_priority TEXT,
     notes TEXT NOT NULL DEFAULT '[]'
   );
   CREATE INDEX storms_open ON storms (tenant, policy) WHERE closed_at IS NULL;
   CREATE TABLE storm_members (
     storm_id INTEGER NOT NULL REFERENCES storms (id),
     incident_id INTEGER NOT NULL,
     joined_at INTEGER NOT NULL,
     PRIMARY KEY (storm_id, incident_id)
   ) WITHOUT ROWID;
   CREATE INDEX storm_members_incident ON storm_members (incident_id);
   CREATE INDEX incidents_tenant ON incidents (tenant, state);`,
  // Dimension values age out: a value not seen for QOSWATCH_DIM_TTL releases its slot. Values admitted before get
  // a full TTL from the upgrade.
  `ALTER TABLE dim_values ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0;
   UPDATE dim_values SET last_seen = CAST(strftime('%s', 'now') AS INTEGER) * 1000;`,
  // Tenant API tokens (read the tenant's tickets; ingest keys are public and only ingest), and tickets' public ids:
  // random, so that the tenant view does not reveal the global sequence. Existing tickets get theirs here.
  `CREATE TABLE tenant_tokens (
     id TEXT PRIMARY KEY,
     tenant TEXT NOT NULL,
     name TEXT,
     sha256 TEXT NOT NULL UNIQUE,
     rate_limit TEXT,
     created_at INTEGER NOT NULL,
     revoked_at INTEGER
   );
   ALTER TABLE tickets ADD COLUMN public_id TEXT;
   UPDATE tickets SET public_id = 'tk_' || lower(hex(randomblob(8)));
   CREATE UNIQUE INDEX tickets_public_id ON tickets (public_id);`,
  // A readiness report is claimed by the runner sending it (events.ts claimReadiness), so that runners over one
  // state db never both send it; a claim that runs out (its runner died mid-send) makes it due again.
  `ALTER TABLE events ADD COLUMN readiness_claim_until INTEGER;`,
  // Fencing tokens of partition owners (cluster mode; storage/state/fences.ts): kept here too, so the state store's
  // contract is the same on both databases.
  `CREATE TABLE fences (kind TEXT NOT NULL, partition INTEGER NOT NULL, epoch INTEGER NOT NULL, PRIMARY KEY (kind, partition)) WITHOUT ROWID;`,
  // Accounts (accounts/): people who sign in to the console, their sessions (only the cookie's SHA-256) and personal
  // API tokens (only their SHA-256), tenants' status page share links (only their SHA-256), and the audit log of
  // configuration changes with before and after.
  `CREATE TABLE users (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     email TEXT,
     role TEXT NOT NULL,
     tenant TEXT,
     password TEXT,
     source TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     disabled_at INTEGER
   );
   CREATE TABLE user_sessions (
     sha256 TEXT PRIMARY KEY,
     user_id TEXT NOT NULL,
     csrf TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     seen_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX user_sessions_user ON user_sessions (user_id);
   CREATE TABLE user_tokens (
     id TEXT PRIMARY KEY,
     user_id TEXT NOT NULL,
     name TEXT,
     sha256 TEXT NOT NULL UNIQUE,
     created_at INTEGER NOT NULL,
     used_at INTEGER,
     revoked_at INTEGER
   );
   CREATE TABLE share_links (
     id TEXT PRIMARY KEY,
     tenant TEXT NOT NULL,
     name TEXT,
     sha256 TEXT NOT NULL UNIQUE,
     summary_only INTEGER NOT NULL,
     created_by TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     revoked_at INTEGER
   );
   CREATE TABLE audit_log (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     at INTEGER NOT NULL,
     actor TEXT NOT NULL,
     action TEXT NOT NULL,
     target TEXT NOT NULL,
     before TEXT,
     after TEXT
   );`,
  // Alert sources (Alertmanager, Grafana, PagerDuty Events v2, generic webhooks, heartbeats): only the secret's
  // SHA-256 is kept; a deleted source keeps its row (its alerts' history names it).
  `CREATE TABLE alert_sources (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     kind TEXT NOT NULL,
     config TEXT NOT NULL,
     sha256 TEXT NOT NULL UNIQUE,
     created_by TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     seen_at INTEGER,
     deleted_at INTEGER
   );
   CREATE UNIQUE INDEX alert_sources_name ON alert_sources (name) WHERE deleted_at IS NULL;`,
  // Calendar feeds of on-call shifts (oncall/calendar-routes.ts): a schedule's or a person's, opened by a secret in
  // the URL (calendar apps send no headers), of which only the SHA-256 is kept; a revoked feed keeps its row.
  `CREATE TABLE calendar_feeds (
     id TEXT PRIMARY KEY,
     kind TEXT NOT NULL,
     target TEXT NOT NULL,
     name TEXT,
     sha256 TEXT NOT NULL UNIQUE,
     created_by TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     revoked_at INTEGER
   );`,
];

export function openStateDb(path: string): Db {
  return openDb(path, MIGRATIONS);
}

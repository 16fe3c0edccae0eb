import type { Labels } from '../../shared/labels.js';
import type { Priority } from '../../shared/priority.js';
import type { Db } from '../sqlite.js';

/** An incident as stored; its state is the incidents area's (incidents/model.ts). */
export interface IncidentRecord {
  id: number;
  tenant: string;
  region: string | undefined;
  group_key: string;
  title: string;
  state: string;
  priority: Priority;
  silenced: boolean;
  opened_at: number;
  acknowledged_at: number | undefined;
  acknowledged_by: string | undefined;
  mitigated_at: number | undefined;
  mitigated_by: string | undefined;
  resolved_at: number | undefined;
  resolved_by: string | undefined;
  /** How many times a recurrence within the reopen window brought it back (flapping). */
  reopened: number;
  updated_at: number;
}

/** An alert group attached to an incident; `trigger` is the values that fired it (the rules area's, as JSON). */
export interface IncidentAlertRecord {
  rule_id: string;
  group_key: string;
  labels: Labels;
  priority: Priority;
  firing: boolean;
  silenced: boolean;
  fired_at: number;
  cleared_at: number | undefined;
  trigger: unknown;
}

/** A timeline entry; its kind is the incidents area's. */
export interface TimelineRecord {
  id: number;
  at: number;
  actor: string;
  kind: string;
  data: Record<string, unknown> | undefined;
}

export interface IncidentQuery {
  state?: readonly string[];
  priority?: readonly Priority[];
  tenant?: string;
  region?: string;
  from?: number;
  to?: number;
  /** Incidents with a smaller id (newest first). */
  before?: number;
  limit: number;
}

type Nullable<T> = { [K in keyof T]: undefined extends T[K] ? Exclude<T[K], undefined> | null : T[K] };
type IncidentRow = Omit<Nullable<IncidentRecord>, 'silenced'> & { silenced: number };
type AlertRow = Omit<Nullable<IncidentAlertRecord>, 'labels' | 'firing' | 'silenced' | 'trigger'> & { labels: string; firing: number; silenced: number; trigger: string | null };

const orUndef = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

const toIncident = (r: IncidentRow): IncidentRecord => ({
  ...r, silenced: r.silenced === 1, region: orUndef(r.region),
  acknowledged_at: orUndef(r.acknowledged_at), acknowledged_by: orUndef(r.acknowledged_by),
  mitigated_at: orUndef(r.mitigated_at), mitigated_by: orUndef(r.mitigated_by),
  resolved_at: orUndef(r.resolved_at), resolved_by: orUndef(r.resolved_by),
});

const toAlert = (r: AlertRow): IncidentAlertRecord => ({
  rule_id: r.rule_id, group_key: r.group_key, labels: JSON.parse(r.labels) as Labels, priority: r.priority, firing: r.firing === 1, silenced: r.silenced === 1,
  fired_at: r.fired_at, cleared_at: orUndef(r.cleared_at), trigger: r.trigger ? (JSON.parse(r.trigger) as unknown) : undefined,
});

/** The incidents, incident_alerts and timeline tables. */
export class IncidentRepo {
  private statements: ReturnType<IncidentRepo['prepare']> | undefined;

  constructor(private readonly db: Db) {}

  /** Prepared at first use, not with the repositories: a state db is opened at older schema versions too (upgrades). */
  private get q() {
    return (this.statements ??= this.prepare());
  }

  private prepare() {
    const p = (sql: string) => this.db.prepare(sql);
    return {
      get: p('SELECT * FROM incidents WHERE id = ?'),
      active: p("SELECT * FROM incidents WHERE group_key = ? AND state IN ('open', 'acknowledged') ORDER BY id DESC LIMIT 1"),
      recent: p("SELECT * FROM incidents WHERE group_key = ? AND state = 'mitigated' AND mitigated_at >= ? ORDER BY id DESC LIMIT 1"),
      openOfTenant: p("SELECT count(*) AS n FROM incidents WHERE tenant = ? AND state IN ('open', 'acknowledged')"),
      insert: p(`INSERT INTO incidents (group_key, tenant, region, title, state, priority, silenced, opened_at, updated_at)
                 VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?)`),
      reopen: p("UPDATE incidents SET state = 'open', mitigated_at = NULL, mitigated_by = NULL, reopened = reopened + 1, updated_at = ? WHERE id = ?"),
      setPriority: p('UPDATE incidents SET priority = ?, updated_at = ? WHERE id = ?'),
      setSilenced: p('UPDATE incidents SET silenced = ?, updated_at = ? WHERE id = ?'),
      firingOf: p('SELECT incident_id FROM incident_alerts WHERE rule_id = ? AND group_key = ? AND firing = 1'),
      upsertAlert: p(`INSERT INTO incident_alerts (incident_id, rule_id, group_key, labels, priority, firing, silenced, fired_at, trigger)
                      VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)
                      ON CONFLICT (incident_id, rule_id, group_key) DO UPDATE SET priority = excluded.priority, firing = 1,
                        silenced = excluded.silenced, fired_at = excluded.fired_at, cleared_at = NULL, trigger = excluded.trigger`),
      alertPriority: p('UPDATE incident_alerts SET priority = ?, trigger = ? WHERE incident_id = ? AND rule_id = ? AND group_key = ?'),
      clearAlert: p('UPDATE incident_alerts SET firing = 0, cleared_at = ? WHERE incident_id = ? AND rule_id = ? AND group_key = ?'),
      alertSilenced: p('UPDATE incident_alerts SET silenced = ? WHERE incident_id = ? AND rule_id = ? AND group_key = ?'),
      alertsOf: p('SELECT * FROM incident_alerts WHERE incident_id = ? ORDER BY fired_at, rule_id, group_key'),
      firingAlertsOf: p('SELECT * FROM incident_alerts WHERE incident_id = ? AND firing = 1'),
      timeline: p('INSERT INTO timeline (incident_id, at, actor, kind, data) VALUES (?, ?, ?, ?, ?)'),
      timelineOf: p('SELECT id, at, actor, kind, data FROM timeline WHERE incident_id = ? ORDER BY id'),
      // Only incidents with firing alerts can change silence; the partial index holds just the firing alerts.
      withFiring: p("SELECT * FROM incidents WHERE state != 'resolved' AND id IN (SELECT incident_id FROM incident_alerts WHERE firing = 1)"),
    };
  }

  get(id: number): IncidentRecord | undefined {
    const r = this.q.get.get(id) as IncidentRow | undefined;
    return r && toIncident(r);
  }

  /** The open or acknowledged incident of an alert group (at most one). */
  active(groupKey: string): IncidentRecord | undefined {
    const r = this.q.active.get(groupKey) as IncidentRow | undefined;
    return r && toIncident(r);
  }

  /** The group's latest incident mitigated at or after `since`. */
  recentlyMitigated(groupKey: string, since: number): IncidentRecord | undefined {
    const r = this.q.recent.get(groupKey, since) as IncidentRow | undefined;
    return r && toIncident(r);
  }

  /** A tenant's open or acknowledged incidents. */
  openOf(tenant: string): number {
    return (this.q.openOfTenant.get(tenant) as { n: number }).n;
  }

  list(f: IncidentQuery): IncidentRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    const inList = (col: string, values: readonly string[] | undefined) => {
      if (!values?.length) return;
      where.push(`${col} IN (${values.map(() => '?').join(', ')})`);
      args.push(...values);
    };
    inList('state', f.state);
    inList('priority', f.priority);
    if (f.tenant !== undefined) (where.push('tenant = ?'), args.push(f.tenant));
    if (f.region !== undefined) (where.push('region = ?'), args.push(f.region));
    if (f.from !== undefined) (where.push('opened_at >= ?'), args.push(f.from));
    if (f.to !== undefined) (where.push('opened_at < ?'), args.push(f.to));
    if (f.before !== undefined) (where.push('id < ?'), args.push(f.before));
    const sql = `SELECT * FROM incidents ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, f.limit) as IncidentRow[]).map(toIncident);
  }

  /** Incidents not yet resolved, counted by tenant and priority. */
  openCounts(): { tenant: string; priority: Priority; n: number }[] {
    return this.db.prepare("SELECT tenant, priority, COUNT(*) AS n FROM incidents WHERE state != 'resolved' GROUP BY tenant, priority").all() as { tenant: string; priority: Priority; n: number }[];
  }

  /** Incidents of a tenant opened in [from, to), counted by region and (current) priority. */
  openedBetween(tenant: string, from: number, to: number): { region: string | null; priority: Priority; n: number }[] {
    return this.db
      .prepare('SELECT region, priority, COUNT(*) AS n FROM incidents WHERE tenant = ? AND opened_at >= ? AND opened_at < ? GROUP BY region, priority')
      .all(tenant, from, to) as { region: string | null; priority: Priority; n: number }[];
  }

  /** Unresolved incidents with a firing alert. */
  withFiring(): IncidentRecord[] {
    return (this.q.withFiring.all() as IncidentRow[]).map(toIncident);
  }

  /** Opens an incident; its id. */
  insert(i: { groupKey: string; tenant: string; region: string | undefined; title: string; priority: Priority; silenced: boolean; at: number }): number {
    return Number(this.q.insert.run(i.groupKey, i.tenant, i.region ?? null, i.title, i.priority, i.silenced ? 1 : 0, i.at, i.at).lastInsertRowid);
  }

  reopen(id: number, at: number): void {
    this.q.reopen.run(at, id);
  }

  setPriority(id: number, priority: Priority, at: number): void {
    this.q.setPriority.run(priority, at, id);
  }

  setSilenced(id: number, silenced: boolean, at: number): void {
    this.q.setSilenced.run(silenced ? 1 : 0, at, id);
  }

  /**
   * Moves an incident to `to` (recording who and when in `<column>_at/_by`) only from one of `from`: false when
   * its state is none of them.
   */
  transition(id: number, from: readonly string[], to: string, column: 'acknowledged' | 'mitigated' | 'resolved', actor: string, at: number): boolean {
    return (
      this.db
        .prepare(`UPDATE incidents SET state = ?, ${column}_at = ?, ${column}_by = ?, updated_at = ? WHERE id = ? AND state IN (${from.map(() => '?').join(', ')})`)
        .run(to, at, actor, at, id, ...from).changes > 0
    );
  }

  touch(id: number, at: number): void {
    this.db.prepare('UPDATE incidents SET updated_at = ? WHERE id = ?').run(at, id);
  }

  /** The incidents an alert group is firing in. */
  firingIn(ruleId: string, groupKey: string): number[] {
    return (this.q.firingOf.all(ruleId, groupKey) as { incident_id: number }[]).map((r) => r.incident_id);
  }

  /** Attaches a firing alert group to an incident, or refreshes it there. */
  upsertAlert(id: number, a: { ruleId: string; groupKey: string; labels: Labels; priority: Priority; silenced: boolean; at: number; trigger: unknown }): void {
    this.q.upsertAlert.run(id, a.ruleId, a.groupKey, JSON.stringify(a.labels), a.priority, a.silenced ? 1 : 0, a.at, JSON.stringify(a.trigger));
  }

  setAlertPriority(id: number, ruleId: string, groupKey: string, priority: Priority, trigger: unknown): void {
    this.q.alertPriority.run(priority, JSON.stringify(trigger), id, ruleId, groupKey);
  }

  setAlertSilenced(id: number, ruleId: string, groupKey: string, silenced: boolean): void {
    this.q.alertSilenced.run(silenced ? 1 : 0, id, ruleId, groupKey);
  }

  clearAlert(id: number, ruleId: string, groupKey: string, at: number): void {
    this.q.clearAlert.run(at, id, ruleId, groupKey);
  }

  alerts(id: number): IncidentAlertRecord[] {
    return (this.q.alertsOf.all(id) as AlertRow[]).map(toAlert);
  }

  firingAlerts(id: number): IncidentAlertRecord[] {
    return (this.q.firingAlertsOf.all(id) as AlertRow[]).map(toAlert);
  }

  timeline(id: number): TimelineRecord[] {
    return (this.q.timelineOf.all(id) as { id: number; at: number; actor: string; kind: string; data: string | null }[]).map((r) => ({
      ...r, data: r.data ? (JSON.parse(r.data) as Record<string, unknown>) : undefined,
    }));
  }

  /** Appends a timeline entry; its id. */
  addEntry(id: number, at: number, actor: string, kind: string, data: Record<string, unknown> | undefined): number {
    return Number(this.q.timeline.run(id, at, actor, kind, data === undefined ? null : JSON.stringify(data)).lastInsertRowid);
  }
}

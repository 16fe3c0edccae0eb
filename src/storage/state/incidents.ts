import type { Labels } from '../../shared/labels.js';
import type { Priority } from '../../shared/priority.js';
import { marks, type Sql } from './sql.js';

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

/** A value as JSON text; null for undefined (JSON.stringify(undefined) is undefined, not a value to bind). */
const jsonOrNull = (v: unknown): string | null => JSON.stringify(v) ?? null;

/** The advisory lock that orders timeline writers on PostgreSQL (any fixed number of ours). */
const TIMELINE_LOCK = 7_301_424_213;

/** The incidents, incident_alerts and timeline tables. */
export class IncidentRepo {
  constructor(private readonly sql: Sql) {}

  async get(id: number): Promise<IncidentRecord | undefined> {
    const r = await this.sql.get<IncidentRow>('SELECT * FROM incidents WHERE id = ?', id);
    return r && toIncident(r);
  }

  /** The open or acknowledged incident of an alert group (at most one). */
  async active(groupKey: string): Promise<IncidentRecord | undefined> {
    const r = await this.sql.get<IncidentRow>("SELECT * FROM incidents WHERE group_key = ? AND state IN ('open', 'acknowledged') ORDER BY id DESC LIMIT 1", groupKey);
    return r && toIncident(r);
  }

  /** The group's latest incident mitigated at or after `since`. */
  async recentlyMitigated(groupKey: string, since: number): Promise<IncidentRecord | undefined> {
    const r = await this.sql.get<IncidentRow>("SELECT * FROM incidents WHERE group_key = ? AND state = 'mitigated' AND mitigated_at >= ? ORDER BY id DESC LIMIT 1", groupKey, since);
    return r && toIncident(r);
  }

  /** A tenant's open or acknowledged incidents. */
  async openOf(tenant: string): Promise<number> {
    return (await this.sql.get<{ n: number }>("SELECT count(*) AS n FROM incidents WHERE tenant = ? AND state IN ('open', 'acknowledged')", tenant))!.n;
  }

  async list(f: IncidentQuery): Promise<IncidentRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const inList = (col: string, values: readonly string[] | undefined) => {
      if (!values?.length) return;
      where.push(`${col} IN (${marks(values)})`);
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
    return (await this.sql.all<IncidentRow>(sql, ...args, f.limit)).map(toIncident);
  }

  /** Incidents not yet resolved, counted by tenant and priority. */
  openCounts(): Promise<{ tenant: string; priority: Priority; n: number }[]> {
    return this.sql.all<{ tenant: string; priority: Priority; n: number }>("SELECT tenant, priority, COUNT(*) AS n FROM incidents WHERE state != 'resolved' GROUP BY tenant, priority");
  }

  /** Incidents of a tenant opened in [from, to), counted by region and (current) priority. */
  openedBetween(tenant: string, from: number, to: number): Promise<{ region: string | null; priority: Priority; n: number }[]> {
    return this.sql.all<{ region: string | null; priority: Priority; n: number }>(
      'SELECT region, priority, COUNT(*) AS n FROM incidents WHERE tenant = ? AND opened_at >= ? AND opened_at < ? GROUP BY region, priority',
      tenant, from, to,
    );
  }

  /** Unresolved incidents with a firing alert, oldest first. */
  async withFiring(): Promise<IncidentRecord[]> {
    // Only incidents with firing alerts can change silence; the partial index holds just the firing alerts.
    return (await this.sql.all<IncidentRow>("SELECT * FROM incidents WHERE state != 'resolved' AND id IN (SELECT incident_id FROM incident_alerts WHERE firing = 1) ORDER BY id")).map(toIncident);
  }

  /** Opens an incident; its id. */
  async insert(i: { groupKey: string; tenant: string; region: string | undefined; title: string; priority: Priority; silenced: boolean; at: number }): Promise<number> {
    const r = await this.sql.get<{ id: number }>(
      `INSERT INTO incidents (group_key, tenant, region, title, state, priority, silenced, opened_at, updated_at)
       VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?) RETURNING id`,
      i.groupKey, i.tenant, i.region ?? null, i.title, i.priority, i.silenced ? 1 : 0, i.at, i.at,
    );
    return r!.id;
  }

  async reopen(id: number, at: number): Promise<void> {
    await this.sql.run("UPDATE incidents SET state = 'open', mitigated_at = NULL, mitigated_by = NULL, reopened = reopened + 1, updated_at = ? WHERE id = ?", at, id);
  }

  async setPriority(id: number, priority: Priority, at: number): Promise<void> {
    await this.sql.run('UPDATE incidents SET priority = ?, updated_at = ? WHERE id = ?', priority, at, id);
  }

  async setSilenced(id: number, silenced: boolean, at: number): Promise<void> {
    await this.sql.run('UPDATE incidents SET silenced = ?, updated_at = ? WHERE id = ?', silenced ? 1 : 0, at, id);
  }

  /**
   * Moves an incident to `to` (recording who and when in `<column>_at/_by`) only from one of `from`: false when
   * its state is none of them.
   */
  async transition(id: number, from: readonly string[], to: string, column: 'acknowledged' | 'mitigated' | 'resolved', actor: string, at: number): Promise<boolean> {
    const changed = await this.sql.run(
      `UPDATE incidents SET state = ?, ${column}_at = ?, ${column}_by = ?, updated_at = ? WHERE id = ? AND state IN (${marks(from)})`,
      to, at, actor, at, id, ...from,
    );
    return changed > 0;
  }

  async touch(id: number, at: number): Promise<void> {
    await this.sql.run('UPDATE incidents SET updated_at = ? WHERE id = ?', at, id);
  }

  /** The incidents an alert group is firing in, oldest first. */
  async firingIn(ruleId: string, groupKey: string): Promise<number[]> {
    const rows = await this.sql.all<{ incident_id: number }>('SELECT incident_id FROM incident_alerts WHERE rule_id = ? AND group_key = ? AND firing = 1 ORDER BY incident_id', ruleId, groupKey);
    return rows.map((r) => r.incident_id);
  }

  /** The firing alerts of a rule (or an alert source), with their incidents; of one group when `groupKey` is given. */
  async firingOf(ruleId: string, groupKey?: string): Promise<(IncidentAlertRecord & { incident_id: number })[]> {
    const rows = groupKey === undefined
      ? await this.sql.all<AlertRow & { incident_id: number }>('SELECT * FROM incident_alerts WHERE rule_id = ? AND firing = 1 ORDER BY incident_id, group_key', ruleId)
      : await this.sql.all<AlertRow & { incident_id: number }>('SELECT * FROM incident_alerts WHERE rule_id = ? AND group_key = ? AND firing = 1 ORDER BY incident_id', ruleId, groupKey);
    return rows.map((r) => ({ ...toAlert(r), incident_id: Number(r.incident_id) }));
  }

  /** Attaches a firing alert group to an incident, or refreshes it there. */
  async upsertAlert(id: number, a: { ruleId: string; groupKey: string; labels: Labels; priority: Priority; silenced: boolean; at: number; trigger: unknown }): Promise<void> {
    await this.sql.run(
      `INSERT INTO incident_alerts (incident_id, rule_id, group_key, labels, priority, firing, silenced, fired_at, trigger)
       VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)
       ON CONFLICT (incident_id, rule_id, group_key) DO UPDATE SET priority = excluded.priority, firing = 1,
         silenced = excluded.silenced, fired_at = excluded.fired_at, cleared_at = NULL, trigger = excluded.trigger`,
      id, a.ruleId, a.groupKey, JSON.stringify(a.labels), a.priority, a.silenced ? 1 : 0, a.at, jsonOrNull(a.trigger),
    );
  }

  async setAlertPriority(id: number, ruleId: string, groupKey: string, priority: Priority, trigger: unknown): Promise<void> {
    await this.sql.run('UPDATE incident_alerts SET priority = ?, trigger = ? WHERE incident_id = ? AND rule_id = ? AND group_key = ?', priority, jsonOrNull(trigger), id, ruleId, groupKey);
  }

  async setAlertSilenced(id: number, ruleId: string, groupKey: string, silenced: boolean): Promise<void> {
    await this.sql.run('UPDATE incident_alerts SET silenced = ? WHERE incident_id = ? AND rule_id = ? AND group_key = ?', silenced ? 1 : 0, id, ruleId, groupKey);
  }

  async clearAlert(id: number, ruleId: string, groupKey: string, at: number): Promise<void> {
    await this.sql.run('UPDATE incident_alerts SET firing = 0, cleared_at = ? WHERE incident_id = ? AND rule_id = ? AND group_key = ?', at, id, ruleId, groupKey);
  }

  async alerts(id: number): Promise<IncidentAlertRecord[]> {
    return (await this.sql.all<AlertRow>('SELECT * FROM incident_alerts WHERE incident_id = ? ORDER BY fired_at, rule_id, group_key', id)).map(toAlert);
  }

  /** The firing alerts of an incident, by rule and group (the order SQLite's primary key gave them). */
  async firingAlerts(id: number): Promise<IncidentAlertRecord[]> {
    return (await this.sql.all<AlertRow>('SELECT * FROM incident_alerts WHERE incident_id = ? AND firing = 1 ORDER BY rule_id, group_key', id)).map(toAlert);
  }

  async timeline(id: number): Promise<TimelineRecord[]> {
    const rows = await this.sql.all<{ id: number; at: number; actor: string; kind: string; data: string | null }>('SELECT id, at, actor, kind, data FROM timeline WHERE incident_id = ? ORDER BY id', id);
    return rows.map((r) => ({ ...r, data: r.data ? (JSON.parse(r.data) as Record<string, unknown>) : undefined }));
  }

  /**
   * Appends a timeline entry; its id. Followers read the timeline in id order from a cursor, so ids must become
   * visible in order: on PostgreSQL two transactions could take ids 10 and 11 and commit 11 first, and a follower
   * reading then would move past 10 for good. The insert takes a transaction-scoped advisory lock first (in the same
   * statement), so writers of the timeline commit one after the other. SQLite has one writer.
   */
  async addEntry(id: number, at: number, actor: string, kind: string, data: Record<string, unknown> | undefined): Promise<number> {
    const json = data === undefined ? null : JSON.stringify(data);
    const r =
      this.sql.dialect === 'postgres'
        ? await this.sql.get<{ id: number }>(
            `WITH ordered AS (SELECT pg_advisory_xact_lock(${TIMELINE_LOCK}))
             INSERT INTO timeline (incident_id, at, actor, kind, data) SELECT ?, ?, ?, ?, ? FROM ordered RETURNING id`,
            id, at, actor, kind, json,
          )
        : await this.sql.get<{ id: number }>('INSERT INTO timeline (incident_id, at, actor, kind, data) VALUES (?, ?, ?, ?, ?) RETURNING id', id, at, actor, kind, json);
    return r!.id;
  }
}

import type { Statement } from 'better-sqlite3';
import type { AlertEvent } from '../rules/engine.js';
import { AppError, conflict, notFound } from '../shared/http-errors.js';
import type { GroupField, Labels } from '../shared/labels.js';
import { type Priority, rank } from '../shared/priority.js';
import type { Db } from '../storage/sqlite.js';
import { alertSummary } from './describe.js';
import { type Incident, type IncidentAlert, type IncidentEvent, type IncidentState, SYSTEM_ACTOR, type TimelineEntry, type TimelineKind } from './model.js';
import type { AlertSubject } from './silence-match.js';

export interface IncidentOptions {
  /** Alert labels that make an incident's group (default tenant, region). */
  groupBy: readonly GroupField[];
  /** A firing within this long after auto-mitigation reopens the incident (flap) instead of opening a new one. */
  reopenMs: number;
  /** Whether an active silence covers this alert now. */
  silenced(subject: AlertSubject, now: number): boolean;
  /**
   * Most incidents a tenant may have open or acknowledged at once (telemetry is hostile: one request can name
   * hundreds of regions). Alert groups beyond it join one incident of the tenant that collects them. No limit when
   * absent.
   */
  maxOpenPerTenant?: number;
}

export type Action = 'ack' | 'mitigate' | 'resolve';

/** Which states each action starts from, and where it goes. */
const ACTIONS: Record<Action, { from: readonly IncidentState[]; to: IncidentState; kind: TimelineKind; column: 'acknowledged' | 'mitigated' | 'resolved' }> = {
  ack: { from: ['open'], to: 'acknowledged', kind: 'acknowledged', column: 'acknowledged' },
  mitigate: { from: ['open', 'acknowledged'], to: 'mitigated', kind: 'mitigated', column: 'mitigated' },
  resolve: { from: ['open', 'acknowledged', 'mitigated'], to: 'resolved', kind: 'resolved', column: 'resolved' },
};

/** Whether `action` can be taken on an incident in `state` (a link page offers its button only then). */
export const canAct = (action: Action, state: IncidentState): boolean => ACTIONS[action].from.includes(state);

export interface IncidentFilter {
  state?: readonly IncidentState[];
  priority?: readonly Priority[];
  tenant?: string;
  region?: string;
  from?: number;
  to?: number;
  /** Paging: incidents with a smaller id (newest first). */
  before?: number;
  limit: number;
}

interface IncidentRow extends Omit<Incident, 'silenced' | 'region' | 'acknowledged_at' | 'acknowledged_by' | 'mitigated_at' | 'mitigated_by' | 'resolved_at' | 'resolved_by'> {
  silenced: number;
  region: string | null;
  acknowledged_at: number | null;
  acknowledged_by: string | null;
  mitigated_at: number | null;
  mitigated_by: string | null;
  resolved_at: number | null;
  resolved_by: string | null;
}

const orUndef = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

function toIncident(r: IncidentRow): Incident {
  return {
    ...r, silenced: r.silenced === 1, region: orUndef(r.region),
    acknowledged_at: orUndef(r.acknowledged_at), acknowledged_by: orUndef(r.acknowledged_by),
    mitigated_at: orUndef(r.mitigated_at), mitigated_by: orUndef(r.mitigated_by),
    resolved_at: orUndef(r.resolved_at), resolved_by: orUndef(r.resolved_by),
  };
}

/**
 * Incidents in SQLite: alerts group into incidents, priorities follow the firing alerts, every change is a timeline
 * entry. Writers return the events to publish; callers publish them after the surrounding transaction commits.
 */
export class Incidents {
  private readonly q: Record<string, Statement>;

  constructor(
    private readonly db: Db,
    private readonly opts: IncidentOptions,
  ) {
    const p = (sql: string) => db.prepare(sql);
    this.q = {
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
      alertsOf: p('SELECT * FROM incident_alerts WHERE incident_id = ? ORDER BY fired_at, rule_id, group_key'),
      firingAlertsOf: p('SELECT * FROM incident_alerts WHERE incident_id = ? AND firing = 1'),
      timeline: p('INSERT INTO timeline (incident_id, at, actor, kind, data) VALUES (?, ?, ?, ?, ?)'),
      timelineOf: p('SELECT id, at, actor, kind, data FROM timeline WHERE incident_id = ? ORDER BY id'),
      // Only incidents with firing alerts can change silence; the partial index holds just the firing alerts.
      withFiring: p("SELECT * FROM incidents WHERE state != 'resolved' AND id IN (SELECT incident_id FROM incident_alerts WHERE firing = 1)"),
    };
  }

  get(id: number): Incident | undefined {
    const r = this.q.get!.get(id) as IncidentRow | undefined;
    return r && toIncident(r);
  }

  require(id: number): Incident {
    const i = this.get(id);
    if (!i) throw notFound(`no incident ${id}`);
    return i;
  }

  list(f: IncidentFilter): Incident[] {
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

  /** Incidents not yet resolved, counted by tenant and priority (the health and SLA boards' gauge). */
  openCounts(): { tenant: string; priority: Priority; n: number }[] {
    return this.db.prepare("SELECT tenant, priority, COUNT(*) AS n FROM incidents WHERE state != 'resolved' GROUP BY tenant, priority").all() as { tenant: string; priority: Priority; n: number }[];
  }

  /** Incidents of a tenant opened in [from, to), counted by region and (current) priority — for reports. */
  openedBetween(tenant: string, from: number, to: number): { region: string | null; priority: Priority; n: number }[] {
    return this.db
      .prepare('SELECT region, priority, COUNT(*) AS n FROM incidents WHERE tenant = ? AND opened_at >= ? AND opened_at < ? GROUP BY region, priority')
      .all(tenant, from, to) as { region: string | null; priority: Priority; n: number }[];
  }

  alerts(id: number): IncidentAlert[] {
    return (this.q.alertsOf!.all(id) as Record<string, unknown>[]).map((r) => ({
      rule_id: r.rule_id as string,
      group_key: r.group_key as string,
      labels: JSON.parse(r.labels as string) as Labels,
      priority: r.priority as Priority,
      firing: r.firing === 1,
      silenced: r.silenced === 1,
      fired_at: r.fired_at as number,
      cleared_at: orUndef(r.cleared_at as number | null),
      trigger: r.trigger ? JSON.parse(r.trigger as string) : undefined,
    }));
  }

  timeline(id: number): TimelineEntry[] {
    return (this.q.timelineOf!.all(id) as { id: number; at: number; actor: string; kind: TimelineKind; data: string | null }[]).map((r) => ({
      ...r, data: r.data ? JSON.parse(r.data) : undefined,
    }));
  }

  /** Applies alert transitions (call inside the transaction that stores the alert states). */
  applyAlertEvents(events: readonly AlertEvent[]): IncidentEvent[] {
    const out: IncidentEvent[] = [];
    for (const e of events) {
      if (e.type === 'fired') this.fired(e, out);
      else if (e.type === 'priority_changed') this.alertChanged(e, out);
      else this.cleared(e, out);
    }
    return out;
  }

  /**
   * ack / mitigate / resolve: a conditional update, so a second ack (or any out-of-order action) is a 409. With
   * `reopened` (a signed link), it acts only while the incident has not reopened since: otherwise 410.
   */
  act(id: number, action: Action, actor: string, note: string | undefined, now: number, reopened?: number): IncidentEvent {
    const a = ACTIONS[action];
    return this.db.transaction(() => {
      const before = this.require(id);
      if (reopened !== undefined && before.reopened !== reopened) throw new AppError(410, 'gone', `incident ${id} has reopened since`);
      const changed = this.db
        .prepare(`UPDATE incidents SET state = ?, ${a.column}_at = ?, ${a.column}_by = ?, updated_at = ? WHERE id = ? AND state IN (${a.from.map(() => '?').join(', ')})`)
        .run(a.to, now, actor, now, id, ...a.from).changes;
      if (changed === 0) throw conflict(`incident ${id} is ${before.state}: cannot ${action} it`);
      return this.record(id, now, actor, a.kind, note ? { note } : undefined);
    })();
  }

  comment(id: number, actor: string, text: string, now: number): IncidentEvent {
    return this.db.transaction(() => {
      this.require(id);
      this.db.prepare('UPDATE incidents SET updated_at = ? WHERE id = ?').run(now, id);
      return this.record(id, now, actor, 'commented', { text });
    })();
  }

  /** Adds a timeline entry of the system or a person (paging records every attempt here). */
  note(id: number, kind: TimelineKind, actor: string, data: Record<string, unknown> | undefined, now: number): IncidentEvent {
    return this.record(id, now, actor, kind, data);
  }

  /** Re-checks the silenced flag of every unresolved incident (silences start, end and get edited). */
  refreshSilences(now: number): IncidentEvent[] {
    return this.db.transaction(() => {
      const out: IncidentEvent[] = [];
      for (const r of this.q.withFiring!.all() as IncidentRow[]) this.updateSilenced(toIncident(r), now, out);
      return out;
    })();
  }

  private fired(e: AlertEvent & { type: 'fired' }, out: IncidentEvent[]): void {
    const own = this.groupOf(e.labels);
    const overBudget = this.overBudget(own, e.at);
    const group = overBudget ? { key: `tenant=${own.tenant},over_budget`, tenant: own.tenant, region: undefined } : own;
    const extra = overBudget ? { over_budget: this.opts.maxOpenPerTenant } : undefined;
    const firing = this.firing(e);
    const silenced = firing.silenced;
    const alertData = { ...firing.data, ...extra };
    // After a crash between the engine's state and this write both are rolled back together, so an alert is never
    // attached twice; re-firing an alert still attached (reload edge) just refreshes it.
    let inc = this.activeFor(group.key);
    if (!inc) {
      const flap = this.q.recent!.get(group.key, e.at - this.opts.reopenMs) as IncidentRow | undefined;
      if (flap) {
        this.q.reopen!.run(e.at, flap.id);
        inc = this.get(flap.id)!;
        out.push(this.record(inc.id, e.at, SYSTEM_ACTOR, 'reopened', { reason: 'recurred within the reopen window (flapping)', ...alertData }));
      } else {
        // The partial unique index allows one active incident per group: a second writer's insert fails its pass,
        // which is retried and then finds this one.
        const title = overBudget ? `alert groups beyond the tenant's ${this.opts.maxOpenPerTenant} open incidents` : alertData.summary;
        const id = Number(this.q.insert!.run(group.key, group.tenant, group.region ?? null, title, e.priority, silenced ? 1 : 0, e.at, e.at).lastInsertRowid);
        inc = this.get(id)!;
        out.push(this.record(id, e.at, SYSTEM_ACTOR, 'opened', alertData));
      }
    }
    this.attach(inc.id, e, out, extra);
  }

  /** What a firing alert records: its values, summary and whether a silence covers it now. */
  private firing(e: AlertEvent & { type: 'fired' | 'priority_changed' }) {
    const silenced = this.opts.silenced({ rule: e.rule.id, ...e.labels }, e.at);
    const summary = alertSummary(e.rule, e.labels, e.values);
    return { silenced, data: { rule: e.rule.id, group: e.key, labels: e.labels, priority: e.priority, values: e.values, summary, silenced } };
  }

  /**
   * Attaches a firing alert to an incident (or refreshes it there); the incident's priority and silence follow.
   * `extra` goes on its alert_fired entry (over_budget: collected beyond the tenant's open incidents).
   */
  private attach(id: number, e: AlertEvent & { type: 'fired' | 'priority_changed' }, out: IncidentEvent[], extra?: Record<string, unknown>): void {
    const { data, silenced } = this.firing(e);
    this.q.upsertAlert!.run(id, e.rule.id, e.key, JSON.stringify(e.labels), e.priority, silenced ? 1 : 0, e.at, JSON.stringify(e.values));
    out.push(this.record(id, e.at, SYSTEM_ACTOR, 'alert_fired', { ...data, ...extra }));
    this.updatePriority(id, e.at, out);
    this.updateSilenced(this.get(id)!, e.at, out);
  }

  private alertChanged(e: AlertEvent & { type: 'priority_changed' }, out: IncidentEvent[]): void {
    for (const { incident_id } of this.q.firingOf!.all(e.rule.id, e.key) as { incident_id: number }[]) {
      this.q.alertPriority!.run(e.priority, JSON.stringify(e.values), incident_id, e.rule.id, e.key);
      const inc = this.get(incident_id)!;
      const data = { rule: e.rule.id, group: e.key, priority: e.priority, previous: e.previous, values: e.values, summary: alertSummary(e.rule, e.labels, e.values) };
      out.push(this.record(incident_id, e.at, SYSTEM_ACTOR, 'alert_priority_changed', data));
      // A rise while mitigated by hand means it got worse again: reopen — unless a newer incident of the group is
      // active (one active incident per group), which the alert then joins.
      if (inc.state === 'mitigated' && rank(e.priority) < rank(e.previous)) {
        const active = this.activeFor(inc.group_key);
        if (active) {
          this.q.clearAlert!.run(e.at, incident_id, e.rule.id, e.key);
          out.push(this.record(incident_id, e.at, SYSTEM_ACTOR, 'alert_cleared', { rule: e.rule.id, group: e.key, moved_to: active.id, reason: `worse again while incident #${active.id} of the group is active: moved there` }));
          this.attach(active.id, e, out);
          continue;
        }
        this.q.reopen!.run(e.at, incident_id);
        out.push(this.record(incident_id, e.at, SYSTEM_ACTOR, 'reopened', { reason: 'priority rose while mitigated', ...data }));
      }
      if (inc.state !== 'resolved') this.updatePriority(incident_id, e.at, out);
    }
  }

  private cleared(e: AlertEvent & { type: 'cleared' }, out: IncidentEvent[]): void {
    for (const { incident_id } of this.q.firingOf!.all(e.rule.id, e.key) as { incident_id: number }[]) {
      this.q.clearAlert!.run(e.at, incident_id, e.rule.id, e.key);
      out.push(this.record(incident_id, e.at, SYSTEM_ACTOR, 'alert_cleared', { rule: e.rule.id, group: e.key, previous: e.previous, values: e.values }));
      const inc = this.get(incident_id)!;
      if (inc.state !== 'resolved') {
        this.updatePriority(incident_id, e.at, out);
        // The alerts left may all be silenced now.
        this.updateSilenced(inc, e.at, out);
      }
      if ((inc.state === 'open' || inc.state === 'acknowledged') && this.q.firingAlertsOf!.all(incident_id).length === 0) {
        this.db.prepare("UPDATE incidents SET state = 'mitigated', mitigated_at = ?, mitigated_by = ?, updated_at = ? WHERE id = ?").run(e.at, SYSTEM_ACTOR, e.at, incident_id);
        out.push(this.record(incident_id, e.at, SYSTEM_ACTOR, 'mitigated', { reason: 'every alert cleared (metrics recovered)', auto: true }));
      }
    }
  }

  /** Incident priority = the most severe firing alert; a change is a timeline entry. */
  private updatePriority(id: number, now: number, out: IncidentEvent[]): void {
    const firing = this.q.firingAlertsOf!.all(id) as { priority: Priority }[];
    if (firing.length === 0) return;
    const top = firing.map((a) => a.priority).sort((a, b) => rank(a) - rank(b))[0]!;
    const inc = this.get(id)!;
    if (top === inc.priority) return;
    this.q.setPriority!.run(top, now, id);
    out.push(this.record(id, now, SYSTEM_ACTOR, 'priority_changed', { priority: top, previous: inc.priority }));
  }

  /** An incident is silenced while every firing alert of it is covered by an active silence. */
  private updateSilenced(inc: Incident, now: number, out: IncidentEvent[]): void {
    const firing = this.q.firingAlertsOf!.all(inc.id) as { rule_id: string; group_key: string; labels: string; silenced: number }[];
    if (firing.length === 0) return;
    let all = true;
    for (const a of firing) {
      const s = this.opts.silenced({ rule: a.rule_id, ...(JSON.parse(a.labels) as Labels) }, now);
      if (s !== (a.silenced === 1)) this.db.prepare('UPDATE incident_alerts SET silenced = ? WHERE incident_id = ? AND rule_id = ? AND group_key = ?').run(s ? 1 : 0, inc.id, a.rule_id, a.group_key);
      all &&= s;
    }
    if (all === inc.silenced) return;
    this.q.setSilenced!.run(all ? 1 : 0, now, inc.id);
    out.push(this.record(inc.id, now, SYSTEM_ACTOR, all ? 'silenced' : 'unsilenced', undefined));
  }

  /** Whether this alert group would open a new incident while its tenant already has its most open ones. */
  private overBudget(group: { key: string; tenant: string }, at: number): boolean {
    const max = this.opts.maxOpenPerTenant;
    if (max === undefined || this.activeFor(group.key) || this.q.recent!.get(group.key, at - this.opts.reopenMs)) return false;
    return (this.q.openOfTenant!.get(group.tenant) as { n: number }).n >= max;
  }

  private activeFor(groupKey: string): Incident | undefined {
    const r = this.q.active!.get(groupKey) as IncidentRow | undefined;
    return r && toIncident(r);
  }

  private groupOf(labels: Labels): { key: string; tenant: string; region: string | undefined } {
    const key = this.opts.groupBy.map((f) => `${f}=${labels[f] ?? '*'}`).join(',');
    // An incident spans regions unless its group includes the region.
    return { key, tenant: labels.tenant!, region: this.opts.groupBy.includes('region') ? labels.region : undefined };
  }

  private record(id: number, at: number, actor: string, kind: TimelineKind, data: Record<string, unknown> | undefined): IncidentEvent {
    const entryId = Number(this.q.timeline!.run(id, at, actor, kind, data === undefined ? null : JSON.stringify(data)).lastInsertRowid);
    return { type: kind, incident: this.get(id)!, entry: { id: entryId, at, actor, kind, data } };
  }
}

import type { AlertEvent } from '../rules/engine.js';
import { AppError, conflict, notFound } from '../shared/http-errors.js';
import type { GroupField, Labels } from '../shared/labels.js';
import { type Priority, rank } from '../shared/priority.js';
import type { IncidentQuery, IncidentRepo } from '../storage/state/incidents.js';
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

export type IncidentFilter = Omit<IncidentQuery, 'state'> & { state?: readonly IncidentState[] };

/**
 * Incidents in the state db (storage/state/incidents.ts, whose rows this class wrote: their states and kinds are
 * this area's): alerts group into incidents, priorities follow the firing alerts, every change is a timeline
 * entry. Writers return the events to publish; callers publish them after the surrounding transaction commits.
 */
export class Incidents {
  constructor(
    private readonly rows: IncidentRepo,
    private readonly tx: <T>(fn: () => T) => T,
    private readonly opts: IncidentOptions,
  ) {}

  get(id: number): Incident | undefined {
    return this.rows.get(id) as Incident | undefined;
  }

  require(id: number): Incident {
    const i = this.get(id);
    if (!i) throw notFound(`no incident ${id}`);
    return i;
  }

  list(f: IncidentFilter): Incident[] {
    return this.rows.list(f) as Incident[];
  }

  /** Incidents not yet resolved, counted by tenant and priority (the health and SLA boards' gauge). */
  openCounts(): { tenant: string; priority: Priority; n: number }[] {
    return this.rows.openCounts();
  }

  /** Incidents of a tenant opened in [from, to), counted by region and (current) priority — for reports. */
  openedBetween(tenant: string, from: number, to: number): { region: string | null; priority: Priority; n: number }[] {
    return this.rows.openedBetween(tenant, from, to);
  }

  alerts(id: number): IncidentAlert[] {
    return this.rows.alerts(id) as IncidentAlert[];
  }

  timeline(id: number): TimelineEntry[] {
    return this.rows.timeline(id) as TimelineEntry[];
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
    return this.tx(() => {
      const before = this.require(id);
      if (reopened !== undefined && before.reopened !== reopened) throw new AppError(410, 'gone', `incident ${id} has reopened since`);
      if (!this.rows.transition(id, a.from, a.to, a.column, actor, now)) throw conflict(`incident ${id} is ${before.state}: cannot ${action} it`);
      return this.record(id, now, actor, a.kind, note ? { note } : undefined);
    });
  }

  comment(id: number, actor: string, text: string, now: number): IncidentEvent {
    return this.tx(() => {
      this.require(id);
      this.rows.touch(id, now);
      return this.record(id, now, actor, 'commented', { text });
    });
  }

  /** Adds a timeline entry of the system or a person (paging records every attempt here). */
  note(id: number, kind: TimelineKind, actor: string, data: Record<string, unknown> | undefined, now: number): IncidentEvent {
    return this.record(id, now, actor, kind, data);
  }

  /** Re-checks the silenced flag of every unresolved incident (silences start, end and get edited). */
  refreshSilences(now: number): IncidentEvent[] {
    return this.tx(() => {
      const out: IncidentEvent[] = [];
      for (const inc of this.rows.withFiring() as Incident[]) this.updateSilenced(inc, now, out);
      return out;
    });
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
      const flap = this.rows.recentlyMitigated(group.key, e.at - this.opts.reopenMs);
      if (flap) {
        this.rows.reopen(flap.id, e.at);
        inc = this.get(flap.id)!;
        out.push(this.record(inc.id, e.at, SYSTEM_ACTOR, 'reopened', { reason: 'recurred within the reopen window (flapping)', ...alertData }));
      } else {
        // The partial unique index allows one active incident per group: a second writer's insert fails its pass,
        // which is retried and then finds this one.
        const title = overBudget ? `alert groups beyond the tenant's ${this.opts.maxOpenPerTenant} open incidents` : alertData.summary;
        const id = this.rows.insert({ groupKey: group.key, tenant: group.tenant, region: group.region, title, priority: e.priority, silenced, at: e.at });
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
    this.rows.upsertAlert(id, { ruleId: e.rule.id, groupKey: e.key, labels: e.labels, priority: e.priority, silenced, at: e.at, trigger: e.values });
    out.push(this.record(id, e.at, SYSTEM_ACTOR, 'alert_fired', { ...data, ...extra }));
    this.updatePriority(id, e.at, out);
    this.updateSilenced(this.get(id)!, e.at, out);
  }

  private alertChanged(e: AlertEvent & { type: 'priority_changed' }, out: IncidentEvent[]): void {
    for (const incident_id of this.rows.firingIn(e.rule.id, e.key)) {
      this.rows.setAlertPriority(incident_id, e.rule.id, e.key, e.priority, e.values);
      const inc = this.get(incident_id)!;
      const data = { rule: e.rule.id, group: e.key, priority: e.priority, previous: e.previous, values: e.values, summary: alertSummary(e.rule, e.labels, e.values) };
      out.push(this.record(incident_id, e.at, SYSTEM_ACTOR, 'alert_priority_changed', data));
      // A rise while mitigated by hand means it got worse again: reopen — unless a newer incident of the group is
      // active (one active incident per group), which the alert then joins.
      if (inc.state === 'mitigated' && rank(e.priority) < rank(e.previous)) {
        const active = this.activeFor(inc.group_key);
        if (active) {
          this.rows.clearAlert(incident_id, e.rule.id, e.key, e.at);
          out.push(this.record(incident_id, e.at, SYSTEM_ACTOR, 'alert_cleared', { rule: e.rule.id, group: e.key, moved_to: active.id, reason: `worse again while incident #${active.id} of the group is active: moved there` }));
          this.attach(active.id, e, out);
          continue;
        }
        this.rows.reopen(incident_id, e.at);
        out.push(this.record(incident_id, e.at, SYSTEM_ACTOR, 'reopened', { reason: 'priority rose while mitigated', ...data }));
      }
      if (inc.state !== 'resolved') this.updatePriority(incident_id, e.at, out);
    }
  }

  private cleared(e: AlertEvent & { type: 'cleared' }, out: IncidentEvent[]): void {
    for (const incident_id of this.rows.firingIn(e.rule.id, e.key)) {
      this.rows.clearAlert(incident_id, e.rule.id, e.key, e.at);
      out.push(this.record(incident_id, e.at, SYSTEM_ACTOR, 'alert_cleared', { rule: e.rule.id, group: e.key, previous: e.previous, values: e.values }));
      const inc = this.get(incident_id)!;
      if (inc.state !== 'resolved') {
        this.updatePriority(incident_id, e.at, out);
        // The alerts left may all be silenced now.
        this.updateSilenced(inc, e.at, out);
      }
      if ((inc.state === 'open' || inc.state === 'acknowledged') && this.rows.firingAlerts(incident_id).length === 0) {
        this.rows.transition(incident_id, ['open', 'acknowledged'], 'mitigated', 'mitigated', SYSTEM_ACTOR, e.at);
        out.push(this.record(incident_id, e.at, SYSTEM_ACTOR, 'mitigated', { reason: 'every alert cleared (metrics recovered)', auto: true }));
      }
    }
  }

  /** Incident priority = the most severe firing alert; a change is a timeline entry. */
  private updatePriority(id: number, now: number, out: IncidentEvent[]): void {
    const firing = this.rows.firingAlerts(id);
    if (firing.length === 0) return;
    const top = firing.map((a) => a.priority).sort((a, b) => rank(a) - rank(b))[0]!;
    const inc = this.get(id)!;
    if (top === inc.priority) return;
    this.rows.setPriority(id, top, now);
    out.push(this.record(id, now, SYSTEM_ACTOR, 'priority_changed', { priority: top, previous: inc.priority }));
  }

  /** An incident is silenced while every firing alert of it is covered by an active silence. */
  private updateSilenced(inc: Incident, now: number, out: IncidentEvent[]): void {
    const firing = this.rows.firingAlerts(inc.id);
    if (firing.length === 0) return;
    let all = true;
    for (const a of firing) {
      const s = this.opts.silenced({ rule: a.rule_id, ...a.labels }, now);
      if (s !== a.silenced) this.rows.setAlertSilenced(inc.id, a.rule_id, a.group_key, s);
      all &&= s;
    }
    if (all === inc.silenced) return;
    this.rows.setSilenced(inc.id, all, now);
    out.push(this.record(inc.id, now, SYSTEM_ACTOR, all ? 'silenced' : 'unsilenced', undefined));
  }

  /** Whether this alert group would open a new incident while its tenant already has its most open ones. */
  private overBudget(group: { key: string; tenant: string }, at: number): boolean {
    const max = this.opts.maxOpenPerTenant;
    if (max === undefined || this.activeFor(group.key) || this.rows.recentlyMitigated(group.key, at - this.opts.reopenMs)) return false;
    return this.rows.openOf(group.tenant) >= max;
  }

  private activeFor(groupKey: string): Incident | undefined {
    return this.rows.active(groupKey) as Incident | undefined;
  }

  private groupOf(labels: Labels): { key: string; tenant: string; region: string | undefined } {
    const key = this.opts.groupBy.map((f) => `${f}=${labels[f] ?? '*'}`).join(',');
    // An incident spans regions unless its group includes the region.
    return { key, tenant: labels.tenant!, region: this.opts.groupBy.includes('region') ? labels.region : undefined };
  }

  private record(id: number, at: number, actor: string, kind: TimelineKind, data: Record<string, unknown> | undefined): IncidentEvent {
    const entryId = this.rows.addEntry(id, at, actor, kind, data);
    return { type: kind, incident: this.get(id)!, entry: { id: entryId, at, actor, kind, data } };
  }
}

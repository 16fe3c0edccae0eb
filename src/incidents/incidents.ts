import { AppError, conflict, notFound } from '../shared/http-errors.js';
import type { GroupField, Labels } from '../shared/labels.js';
import { type Priority, rank } from '../shared/priority.js';
import type { IncidentQuery } from '../storage/state/incidents.js';
import type { StateStore } from '../storage/state/store.js';
import { alertSummary } from './describe.js';
import { type AnyAlertEvent, type Incident, type IncidentAlert, type IncidentEvent, type IncidentState, SYSTEM_ACTOR, type TimelineEntry, type TimelineKind } from './model.js';
import type { AlertSubject } from './silence-match.js';
import type { Silences } from './silences.js';

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

type Rows = StateStore['incidents'];

/**
 * Incidents in the state store (storage/state/incidents.ts, whose rows this class wrote: their states and kinds are
 * this area's): alerts group into incidents, priorities follow the firing alerts, every change is a timeline
 * entry. Writers return the events to publish; callers publish them after the surrounding transaction commits.
 * Writers that take a transaction's store (`t`) write in it; the others open their own.
 */
export class Incidents {
  constructor(
    private readonly state: Pick<StateStore, 'incidents' | 'tx'>,
    private readonly opts: IncidentOptions,
  ) {}

  async get(id: number, t: Pick<StateStore, 'incidents'> = this.state): Promise<Incident | undefined> {
    return (await t.incidents.get(id)) as Incident | undefined;
  }

  async require(id: number, t: Pick<StateStore, 'incidents'> = this.state): Promise<Incident> {
    const i = await this.get(id, t);
    if (!i) throw notFound(`no incident ${id}`);
    return i;
  }

  async list(f: IncidentFilter): Promise<Incident[]> {
    return (await this.state.incidents.list(f)) as Incident[];
  }

  /** Incidents not yet resolved, counted by tenant and priority (the health and SLA boards' gauge). */
  openCounts(): Promise<{ tenant: string; priority: Priority; n: number }[]> {
    return this.state.incidents.openCounts();
  }

  /** Incidents of a tenant opened in [from, to), counted by region and (current) priority — for reports. */
  openedBetween(tenant: string, from: number, to: number): Promise<{ region: string | null; priority: Priority; n: number }[]> {
    return this.state.incidents.openedBetween(tenant, from, to);
  }

  async alerts(id: number, t: Pick<StateStore, 'incidents'> = this.state): Promise<IncidentAlert[]> {
    return (await t.incidents.alerts(id)) as IncidentAlert[];
  }

  async timeline(id: number, t: Pick<StateStore, 'incidents'> = this.state): Promise<TimelineEntry[]> {
    return (await t.incidents.timeline(id)) as TimelineEntry[];
  }

  /** Applies alert transitions in `t`, the transaction that stores the alert states. */
  async applyAlertEvents(events: readonly AnyAlertEvent[], t: Pick<StateStore, 'incidents'>): Promise<IncidentEvent[]> {
    const out: IncidentEvent[] = [];
    const rows = t.incidents;
    for (const e of events) {
      if (e.type === 'fired') await this.fired(rows, e, out);
      else if (e.type === 'priority_changed') await this.alertChanged(rows, e, out);
      else await this.cleared(rows, e, out);
    }
    return out;
  }

  /**
   * ack / mitigate / resolve: a conditional update, so a second ack (or any out-of-order action) is a 409. With
   * `reopened` (a signed link), it acts only while the incident has not reopened since: otherwise 410.
   */
  act(id: number, action: Action, actor: string, note: string | undefined, now: number, reopened?: number): Promise<IncidentEvent> {
    const a = ACTIONS[action];
    return this.state.tx(async (t) => {
      const before = await this.require(id, t);
      if (reopened !== undefined && before.reopened !== reopened) throw new AppError(410, 'gone', `incident ${id} has reopened since`);
      if (!(await t.incidents.transition(id, a.from, a.to, a.column, actor, now))) throw conflict(`incident ${id} is ${before.state}: cannot ${action} it`);
      return this.record(t.incidents, id, now, actor, a.kind, note ? { note } : undefined);
    });
  }

  comment(id: number, actor: string, text: string, now: number): Promise<IncidentEvent> {
    return this.state.tx(async (t) => {
      await this.require(id, t);
      await t.incidents.touch(id, now);
      return this.record(t.incidents, id, now, actor, 'commented', { text });
    });
  }

  /** Adds a timeline entry of the system or a person (paging records every attempt here), in `t` when given. */
  note(id: number, kind: TimelineKind, actor: string, data: Record<string, unknown> | undefined, now: number, t: Pick<StateStore, 'incidents'> = this.state): Promise<IncidentEvent> {
    return this.record(t.incidents, id, now, actor, kind, data);
  }

  /** Re-checks the silenced flags only when a silence can have started or ended: not a read of every incident each time. */
  async refreshSilencesIfDue(silences: Pick<Silences, 'checkDue' | 'checked'>, now: number): Promise<IncidentEvent[]> {
    if (!silences.checkDue(now)) return [];
    const events = await this.refreshSilences(now);
    silences.checked(now);
    return events;
  }

  /** Re-checks the silenced flag of every unresolved incident (silences start, end and get edited). */
  refreshSilences(now: number): Promise<IncidentEvent[]> {
    return this.state.tx(async (t) => {
      const out: IncidentEvent[] = [];
      for (const inc of (await t.incidents.withFiring()) as Incident[]) await this.updateSilenced(t.incidents, inc, now, out);
      return out;
    });
  }

  private async fired(rows: Rows, e: AnyAlertEvent & { type: 'fired' }, out: IncidentEvent[]): Promise<void> {
    const own = this.groupOf(e.labels);
    const overBudget = await this.overBudget(rows, own, e.at);
    const group = overBudget ? { key: `tenant=${own.tenant},over_budget`, tenant: own.tenant, region: undefined } : own;
    const extra = overBudget ? { over_budget: this.opts.maxOpenPerTenant } : undefined;
    const firing = this.firing(e);
    const silenced = firing.silenced;
    const alertData = { ...firing.data, ...extra };
    // After a crash between the engine's state and this write both are rolled back together, so an alert is never
    // attached twice; re-firing an alert still attached (reload edge) just refreshes it.
    let inc = await activeFor(rows, group.key);
    if (!inc) {
      const flap = await rows.recentlyMitigated(group.key, e.at - this.opts.reopenMs);
      if (flap) {
        await rows.reopen(flap.id, e.at);
        inc = (await getIn(rows, flap.id))!;
        out.push(await this.record(rows, inc.id, e.at, SYSTEM_ACTOR, 'reopened', { reason: 'recurred within the reopen window (flapping)', ...alertData }));
      } else {
        // The partial unique index allows one active incident per group: a second writer's insert fails its pass,
        // which is retried and then finds this one.
        const title = overBudget ? `alert groups beyond the tenant's ${this.opts.maxOpenPerTenant} open incidents` : alertData.summary;
        const id = await rows.insert({ groupKey: group.key, tenant: group.tenant, region: group.region, title, priority: e.priority, silenced, at: e.at });
        inc = (await getIn(rows, id))!;
        out.push(await this.record(rows, id, e.at, SYSTEM_ACTOR, 'opened', alertData));
      }
    }
    await this.attach(rows, inc.id, e, out, extra);
  }

  /** What a firing alert records: its values, summary and whether a silence covers it now. */
  private firing(e: AnyAlertEvent & { type: 'fired' | 'priority_changed' }) {
    const silenced = this.opts.silenced({ rule: e.rule.id, ...e.labels }, e.at);
    const summary = alertSummary(e.rule, e.labels, e.values);
    return { silenced, data: { rule: e.rule.id, group: e.key, labels: e.labels, priority: e.priority, values: e.values, summary, silenced } };
  }

  /**
   * Attaches a firing alert to an incident (or refreshes it there); the incident's priority and silence follow.
   * `extra` goes on its alert_fired entry (over_budget: collected beyond the tenant's open incidents).
   */
  private async attach(rows: Rows, id: number, e: AnyAlertEvent & { type: 'fired' | 'priority_changed' }, out: IncidentEvent[], extra?: Record<string, unknown>): Promise<void> {
    const { data, silenced } = this.firing(e);
    await rows.upsertAlert(id, { ruleId: e.rule.id, groupKey: e.key, labels: e.labels, priority: e.priority, silenced, at: e.at, trigger: e.values });
    out.push(await this.record(rows, id, e.at, SYSTEM_ACTOR, 'alert_fired', { ...data, ...extra }));
    await this.updatePriority(rows, id, e.at, out);
    await this.updateSilenced(rows, (await getIn(rows, id))!, e.at, out);
  }

  private async alertChanged(rows: Rows, e: AnyAlertEvent & { type: 'priority_changed' }, out: IncidentEvent[]): Promise<void> {
    for (const incident_id of await rows.firingIn(e.rule.id, e.key)) {
      await rows.setAlertPriority(incident_id, e.rule.id, e.key, e.priority, e.values);
      const inc = (await getIn(rows, incident_id))!;
      const data = { rule: e.rule.id, group: e.key, priority: e.priority, previous: e.previous, values: e.values, summary: alertSummary(e.rule, e.labels, e.values) };
      out.push(await this.record(rows, incident_id, e.at, SYSTEM_ACTOR, 'alert_priority_changed', data));
      // A rise while mitigated by hand means it got worse again: reopen — unless a newer incident of the group is
      // active (one active incident per group), which the alert then joins.
      if (inc.state === 'mitigated' && rank(e.priority) < rank(e.previous)) {
        const active = await activeFor(rows, inc.group_key);
        if (active) {
          await rows.clearAlert(incident_id, e.rule.id, e.key, e.at);
          out.push(await this.record(rows, incident_id, e.at, SYSTEM_ACTOR, 'alert_cleared', { rule: e.rule.id, group: e.key, moved_to: active.id, reason: `worse again while incident #${active.id} of the group is active: moved there` }));
          await this.attach(rows, active.id, e, out);
          continue;
        }
        await rows.reopen(incident_id, e.at);
        out.push(await this.record(rows, incident_id, e.at, SYSTEM_ACTOR, 'reopened', { reason: 'priority rose while mitigated', ...data }));
      }
      if (inc.state !== 'resolved') await this.updatePriority(rows, incident_id, e.at, out);
    }
  }

  private async cleared(rows: Rows, e: AnyAlertEvent & { type: 'cleared' }, out: IncidentEvent[]): Promise<void> {
    for (const incident_id of await rows.firingIn(e.rule.id, e.key)) {
      await rows.clearAlert(incident_id, e.rule.id, e.key, e.at);
      out.push(await this.record(rows, incident_id, e.at, SYSTEM_ACTOR, 'alert_cleared', { rule: e.rule.id, group: e.key, previous: e.previous, values: e.values }));
      const inc = (await getIn(rows, incident_id))!;
      if (inc.state !== 'resolved') {
        await this.updatePriority(rows, incident_id, e.at, out);
        // The alerts left may all be silenced now.
        await this.updateSilenced(rows, inc, e.at, out);
      }
      if ((inc.state === 'open' || inc.state === 'acknowledged') && (await rows.firingAlerts(incident_id)).length === 0) {
        await rows.transition(incident_id, ['open', 'acknowledged'], 'mitigated', 'mitigated', SYSTEM_ACTOR, e.at);
        out.push(await this.record(rows, incident_id, e.at, SYSTEM_ACTOR, 'mitigated', { reason: 'every alert cleared (metrics recovered)', auto: true }));
      }
    }
  }

  /** Incident priority = the most severe firing alert; a change is a timeline entry. */
  private async updatePriority(rows: Rows, id: number, now: number, out: IncidentEvent[]): Promise<void> {
    const firing = await rows.firingAlerts(id);
    if (firing.length === 0) return;
    const top = firing.map((a) => a.priority).sort((a, b) => rank(a) - rank(b))[0]!;
    const inc = (await getIn(rows, id))!;
    if (top === inc.priority) return;
    await rows.setPriority(id, top, now);
    out.push(await this.record(rows, id, now, SYSTEM_ACTOR, 'priority_changed', { priority: top, previous: inc.priority }));
  }

  /** An incident is silenced while every firing alert of it is covered by an active silence. */
  private async updateSilenced(rows: Rows, inc: Incident, now: number, out: IncidentEvent[]): Promise<void> {
    const firing = await rows.firingAlerts(inc.id);
    if (firing.length === 0) return;
    let all = true;
    for (const a of firing) {
      const s = this.opts.silenced({ rule: a.rule_id, ...a.labels }, now);
      if (s !== a.silenced) await rows.setAlertSilenced(inc.id, a.rule_id, a.group_key, s);
      all &&= s;
    }
    if (all === inc.silenced) return;
    await rows.setSilenced(inc.id, all, now);
    out.push(await this.record(rows, inc.id, now, SYSTEM_ACTOR, all ? 'silenced' : 'unsilenced', undefined));
  }

  /** Whether this alert group would open a new incident while its tenant already has its most open ones. */
  private async overBudget(rows: Rows, group: { key: string; tenant: string }, at: number): Promise<boolean> {
    const max = this.opts.maxOpenPerTenant;
    if (max === undefined || (await activeFor(rows, group.key)) || (await rows.recentlyMitigated(group.key, at - this.opts.reopenMs))) return false;
    return (await rows.openOf(group.tenant)) >= max;
  }

  private groupOf(labels: Labels): { key: string; tenant: string; region: string | undefined } {
    const key = this.opts.groupBy.map((f) => `${f}=${labels[f] ?? '*'}`).join(',');
    // An incident spans regions unless its group includes the region.
    return { key, tenant: labels.tenant!, region: this.opts.groupBy.includes('region') ? labels.region : undefined };
  }

  private async record(rows: Rows, id: number, at: number, actor: string, kind: TimelineKind, data: Record<string, unknown> | undefined): Promise<IncidentEvent> {
    const entryId = await rows.addEntry(id, at, actor, kind, data);
    return { type: kind, incident: (await getIn(rows, id))!, entry: { id: entryId, at, actor, kind, data } };
  }
}

const getIn = async (rows: Rows, id: number) => (await rows.get(id)) as Incident | undefined;
const activeFor = async (rows: Rows, groupKey: string) => (await rows.active(groupKey)) as Incident | undefined;

import type { FastifyBaseLogger as Logger } from 'fastify';
import type { EventBus } from '../incidents/bus.js';
import { TimelineFollower } from '../incidents/follower.js';
import type { Incidents } from '../incidents/incidents.js';
import { INCIDENT_STATES, type Incident, type IncidentEvent, type TimelineKind } from '../incidents/model.js';
import type { Metrics } from '../metrics.js';
import { EMAIL, type EscalationPolicy, policyFor } from '../oncall/config.js';
import { dueSteps, escalationSteps, recipients } from '../oncall/escalation.js';
import type { OnCallService } from '../oncall/oncall.js';
import { rank } from '../shared/priority.js';
import type { Db } from '../storage/sqlite.js';
import { type Rate, formatDuration } from '../util/units.js';
import { TokenBucket } from '../telemetry/token-bucket.js';
import type { PageKind, PageMessage, StormIncident, Verdict } from './channel.js';
import { deliver } from './deliver.js';
import type { EmailSender } from './email.js';
import { signLink } from './links.js';
import { DEFAULT_RETRY, Outbox, type OutboxItem, type OutboxRow, laneOf } from './outbox.js';
import { PROVIDERS } from './registry.js';
import { type Storm, type StormOptions, Storms, stormState, topPriority, updateKind } from './storms.js';

export interface PagerDeps {
  db: Db;
  incidents: Incidents;
  oncall: OnCallService;
  bus: EventBus<IncidentEvent>;
  email: EmailSender | undefined;
  /** A rule's runbook, for the page. */
  runbookOf(ruleId: string): string | undefined;
  metrics: Metrics;
  log: Logger;
  clock: () => number;
}

export interface PagerOptions {
  /** Base URL of this service as recipients reach it (signed links point here). */
  publicUrl: string;
  linkSecret: string;
  linkTtlMs: number;
  tickMs: number;
  sendTimeoutMs: number;
  /** Per chat endpoint and for email: `max` pages per `windowMs`, with bursts of three windows' worth. */
  chatRate: Rate;
  emailRate: Rate;
  /** Pages per tenant per period; beyond it a tenant's pages wait (in priority order) and its new incidents storm. */
  pageBudget: Rate;
  storm: StormOptions;
}

const SYSTEM = 'qoswatch';
/** The incident events the pager acts on. */
const HANDLED = new Set<TimelineKind>(['opened', 'reopened', 'unsilenced', 'priority_changed', 'acknowledged', 'mitigated', 'resolved']);
/** Team channels are recipients too, named "#<channel id>". */
export const TEAM = '#';
/** A plain address (a customer contact), not a person of the on-call file. */
export const MAILTO = 'mailto:';

interface EscalationRow {
  incident_id: number;
  policy: string;
  generation: number;
  started_at: number;
  next_step: number;
  /** The timeline entry (opened, reopened, …) that started this generation. */
  started_by_entry: number | null;
}

/**
 * Pages people about incidents. Incident events start, stop and update escalations; each page is a row of the
 * outbox before anything is sent; a sender loop delivers due rows (email or chat), retries with backoff, falls back
 * to a person's next channel when one fails for good, and records every attempt on the incident's timeline.
 *
 * Sending goes by lanes (one per chat endpoint, one per email recipient: outbox.laneOf): each lane sends one page
 * at a time, the most urgent first and tenants taking turns, and a pass never waits for a lane — a hung endpoint
 * holds up only the pages behind it on its own lane. Many incidents of one tenant at once page as one storm
 * (storms.ts), and a tenant over its page budget waits while other tenants' pages go out.
 */
export class Pager {
  readonly outbox: Outbox;
  readonly storms: Storms;
  private timer: NodeJS.Timeout | undefined;
  private readonly follower: TimelineFollower;
  /** Lanes with a page in flight, and that send. */
  private readonly lanes = new Map<string, Promise<void>>();
  private stopped = true;
  private nudged = false;
  private readonly buckets = new Map<string, TokenBucket>();
  /** Rows recorded as held by their tenant's page budget (once each), and whose they are. */
  private readonly held = new Map<number, string>();

  constructor(
    private readonly deps: PagerDeps,
    private readonly opts: PagerOptions,
  ) {
    // A send takes at most the timeout per phase (an email: connect, greeting, exchange); a claim outlasts that.
    this.outbox = new Outbox(deps.db, DEFAULT_RETRY, 3 * opts.sendTimeoutMs);
    this.storms = new Storms(deps.db, opts.storm);
    this.follower = new TimelineFollower('pager', deps, HANDLED, (e) => this.handle(e));
    const m = deps.metrics;
    (m.outboxBacklog as unknown as { collect: () => void }).collect = () => m.outboxBacklog.set(this.outbox.backlog());
  }

  start(): void {
    const cut = this.outbox.inFlight();
    if (cut.rows) {
      this.deps.log.warn({ pages: cut.rows, claimed_until: new Date(cut.until!).toISOString() }, 'pages interrupted by a restart are sent again (same idempotency keys) once their claim runs out');
    }
    this.stopped = false;
    this.follower.start();
    this.timer = setInterval(() => this.pass(), this.opts.tickMs);
    this.pass();
  }

  /** Stops taking events and waits for the sends in flight (their rows are retried after the next start if cut). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.follower.stop();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.allSettled(this.lanes.values());
  }

  /**
   * One pass, then until every send it started (and the passes those bring on: fallbacks, next pages of a lane) is
   * done. Tests call it with an injected clock; the service's loop only runs passes.
   */
  async tick(): Promise<void> {
    this.pass();
    while (this.lanes.size || this.nudged) {
      if (this.lanes.size) await Promise.allSettled([...this.lanes.values()]);
      else await new Promise((r) => setImmediate(r));
    }
  }

  /** Advances escalations and storms, then gives each idle lane its next due page. Never waits for a send. */
  private pass(): void {
    this.nudged = false;
    const now = this.deps.clock();
    try {
      this.advance(now);
      this.advanceStorms(now);
      this.dispatch(now);
    } catch (err) {
      this.deps.log.error({ err }, 'paging pass failed');
    }
  }

  /** Handles one incident event (tests call it directly). */
  onEvent(e: IncidentEvent): void {
    this.handle(e);
  }

  private handle(e: IncidentEvent): void {
    const inc = e.incident;
    const now = e.entry.at;
    switch (e.type) {
      case 'opened':
      case 'reopened':
        this.begin(inc, e.entry.id, now);
        break;
      case 'unsilenced':
        if (inc.state === 'open' && !this.escalation(inc.id)) this.begin(inc, e.entry.id, now);
        break;
      case 'priority_changed': {
        const previous = e.entry.data?.previous as Incident['priority'] | undefined;
        if (previous && rank(inc.priority) < rank(previous)) {
          if (!this.escalation(inc.id) && inc.state === 'open') this.begin(inc, e.entry.id, now);
          else this.notifyPaged(inc, 'priority_changed', e, now);
        }
        break;
      }
      case 'acknowledged':
      case 'mitigated':
      case 'resolved':
        this.deps.db.prepare('UPDATE escalations SET stopped_at = ? WHERE incident_id = ? AND stopped_at IS NULL').run(now, inc.id);
        this.outbox.cancel(inc.id, ['opened', 'escalated', 'priority_changed'], now);
        this.notifyPaged(inc, e.type, e, now);
        break;
      default:
        return;
    }
    // A storm's member changed: the people the storm paged hear of it in the storm's next update.
    const storm = this.storms.of(inc.id);
    if (storm) this.storms.changed(storm.id);
    this.nudge();
  }

  /**
   * Starts (or, after a reopen, restarts) the escalation of an incident, unless it must not page. Idempotent per
   * triggering timeline entry: the same entry handled again (a replay) neither bumps the generation nor pages anew.
   */
  private begin(inc: Incident, entry: number, now: number): void {
    const policy = policyFor(this.deps.oncall.config, inc);
    const why = inc.silenced ? 'silenced: recorded, not paged' : inc.priority === 'P3' ? 'P3 pages nobody (ticket only)' : !policy ? 'no escalation policy matches' : undefined;
    if (why || !policy) {
      this.note(inc.id, 'not_paged', { reason: why }, now);
      return;
    }
    if (this.grouped(inc, policy, now)) return;
    const started = this.deps.db
      .prepare(`INSERT INTO escalations (incident_id, policy, generation, started_at, next_step, started_by_entry) VALUES (?, ?, 0, ?, 0, ?)
        ON CONFLICT (incident_id) DO UPDATE SET policy = excluded.policy, generation = generation + 1, started_at = excluded.started_at, next_step = 0, stopped_at = NULL,
          started_by_entry = excluded.started_by_entry
        WHERE started_by_entry IS NOT excluded.started_by_entry`)
      .run(inc.id, policy.id, now, entry).changes;
    if (started) this.advance(now, inc.id);
  }

  /**
   * Whether the incident pages as part of its tenant's storm — the storm going on, or a new one when this is the
   * threshold-th incident of the tenant (and policy) within the storm window, or the tenant is over its page
   * budget — rather than with an escalation of its own. The storm's page goes out in the next pass.
   */
  private grouped(inc: Incident, policy: EscalationPolicy, now: number): boolean {
    const { storms } = this;
    let storm = storms.current(inc.tenant, policy.id);
    let reason = `storm #${storm?.id} of tenant ${inc.tenant} is going on`;
    if (!storm) {
      const recent = storms.recentlyPaged(inc.tenant, policy.id, now - storms.opts.windowMs, inc.id) + 1;
      const over = this.overBudget(inc.tenant, now);
      if (recent < storms.opts.threshold && !over) return false;
      storm = storms.open(inc.tenant, policy.id, now);
      this.deps.metrics.pageStorms.inc({ tenant: inc.tenant });
      reason = over ? `tenant ${inc.tenant} is over its page budget` : `${recent} incidents of tenant ${inc.tenant} within ${formatDuration(storms.opts.windowMs)}`;
    }
    if (storms.join(storm.id, inc.id, now)) {
      this.deps.metrics.incidentsGrouped.inc({ tenant: inc.tenant });
      this.note(inc.id, 'grouped', { storm: storm.id, policy: policy.id, reason }, now);
    }
    // A reopened incident paged on its own before is now the storm's to escalate.
    this.deps.db.prepare('UPDATE escalations SET stopped_at = ? WHERE incident_id = ? AND stopped_at IS NULL').run(now, inc.id);
    return true;
  }

  private escalation(id: number): EscalationRow | undefined {
    return this.deps.db.prepare('SELECT * FROM escalations WHERE incident_id = ? AND stopped_at IS NULL').get(id) as EscalationRow | undefined;
  }

  /** Enqueues the escalation steps that have come due (all running escalations, or one incident's). */
  private advance(now: number, only?: number): void {
    const rows = (only === undefined
      ? this.deps.db.prepare('SELECT * FROM escalations WHERE stopped_at IS NULL').all()
      : this.deps.db.prepare('SELECT * FROM escalations WHERE stopped_at IS NULL AND incident_id = ?').all(only)) as EscalationRow[];
    for (const esc of rows) {
      const inc = this.deps.incidents.get(esc.incident_id);
      const policy = this.deps.oncall.config.policies.get(esc.policy);
      if (!inc || inc.state !== 'open' || !policy) {
        this.deps.db.prepare('UPDATE escalations SET stopped_at = ? WHERE incident_id = ?').run(now, esc.incident_id);
        continue;
      }
      if (inc.silenced) continue;
      const due = dueSteps(policy, inc.priority, esc.started_at, now).filter((s) => s.index >= esc.next_step);
      if (due.length === 0) continue;
      this.deps.db.transaction(() => {
        // Conditional on the step this pass read: whoever moved it first enqueues the pages, once.
        const moved = this.deps.db
          .prepare('UPDATE escalations SET next_step = ? WHERE incident_id = ? AND generation = ? AND next_step = ?')
          .run(due.at(-1)!.index + 1, inc.id, esc.generation, esc.next_step).changes;
        if (!moved) return;
        for (const step of due) {
          const who = recipients(step, (id) => this.deps.oncall.schedule(id));
          const kind: PageKind = step.index === 0 ? 'opened' : 'escalated';
          const items = [
            ...who.people.flatMap((p) => this.personItems(inc, kind, p, `${inc.id}:g${esc.generation}:s${step.index}`, now)),
            ...who.channels.map((c) => this.item(inc, kind, `${TEAM}${c}`, c, `${inc.id}:g${esc.generation}:s${step.index}`, now)),
          ];
          this.outbox.enqueue(items, now);
          this.note(inc.id, step.index === 0 ? 'paged' : 'escalated', { step: step.index, round: step.round, level: step.level, people: who.people, channels: who.channels, pages: items.length }, now);
        }
      })();
    }
  }

  /** A person's pages for one step: P0/P1 on every channel of theirs at once, P2 on the first (fallback later). */
  private personItems(inc: Incident, kind: PageKind, person: string, base: string, now: number, e?: IncidentEvent | string): OutboxItem[] {
    const channels = this.deps.oncall.config.notify.get(person) ?? [];
    const picked = inc.priority === 'P0' || inc.priority === 'P1' ? channels : channels.slice(0, 1);
    return picked.map((c) => this.item(inc, kind, person, c, base, now, e));
  }

  /**
   * An SLA warning (80 %) or breach (100 %) of a ticket of this incident: the next escalation level is paged (the
   * level after the last one paged; the last level when all were), once per ticket, target, priority and kind.
   */
  slaAlert(inc: Incident, o: { ticket: number; target: string; breach: boolean; dueAt: number }, now: number): void {
    const policy = policyFor(this.deps.oncall.config, inc);
    if (!policy || inc.silenced) return;
    const steps = escalationSteps(policy, inc.priority, now);
    if (steps.length === 0) return;
    const headline = `SLA ${o.breach ? 'BREACHED' : 'warning (80 %)'}: ${o.target} for ticket #${o.ticket} ${o.breach ? 'was' : 'is'} due ${new Date(o.dueAt).toISOString()}`;
    // A storm's incident: its people hear of it in the storm's next update, not in a page per ticket.
    const storm = this.storms.of(inc.id);
    if (storm) {
      this.storms.changed(storm.id, `#${inc.id} ${headline}`);
      this.note(inc.id, 'paged', { sla: o.breach ? 'breach' : 'warning', ticket: o.ticket, target: o.target, storm: storm.id }, now);
      this.nudge();
      return;
    }
    const row = this.deps.db.prepare('SELECT next_step FROM escalations WHERE incident_id = ?').get(inc.id) as { next_step: number } | undefined;
    const step = steps[Math.min(row?.next_step ?? 0, steps.length - 1)]!;
    const who = recipients(step, (id) => this.deps.oncall.schedule(id));
    const base = `${inc.id}:sla:${o.ticket}:${o.target}:${inc.priority}:${o.breach ? 'breach' : 'warn'}`;
    const items = [
      ...who.people.flatMap((p) => this.personItems(inc, 'sla_warning', p, base, now, headline)),
      ...who.channels.map((c) => this.item(inc, 'sla_warning', `${TEAM}${c}`, c, base, now, headline)),
    ];
    if (this.outbox.enqueue(items, now).length) this.note(inc.id, 'paged', { sla: o.breach ? 'breach' : 'warning', ticket: o.ticket, target: o.target, level: step.level, people: who.people, channels: who.channels }, now);
    this.nudge();
  }

  /**
   * Tells everyone already paged about an ack, mitigation, resolution, or a rise in priority — which reaches each
   * person on the channels the new priority pages (a P2 that becomes P1 now goes to every channel of theirs).
   */
  private notifyPaged(inc: Incident, kind: PageKind, e: IncidentEvent, now: number): void {
    const base = `${inc.id}:${kind}:${e.entry.id}`;
    let items: OutboxItem[];
    if (kind === 'priority_changed') {
      this.deps.db.prepare("UPDATE outbox SET state = 'cancelled', updated_at = ? WHERE incident_id = ? AND kind = 'priority_changed' AND state = 'pending'").run(now, inc.id);
      const paged = [...new Map(this.outbox.deliveredTo(inc.id).map((t) => [t.recipient, t])).values()];
      items = paged.flatMap((t) => (t.recipient.startsWith(TEAM) ? [this.item(inc, kind, t.recipient, t.channel, base, now, e)] : this.personItems(inc, kind, t.recipient, base, now, e)));
    } else {
      items = this.outbox.deliveredTo(inc.id).map((t) => this.item(inc, kind, t.recipient, t.channel, base, now, e));
    }
    this.outbox.enqueue(items, now);
  }

  /** One page; `e` is the event it reports (who acted), or a headline of its own (SLA warnings). */
  private item(inc: Incident, kind: PageKind, recipient: string, channel: string, base: string, now: number, e?: IncidentEvent | string): OutboxItem {
    const key = `${base}:${recipient}:${channel}`;
    return { key, incidentId: inc.id, kind, recipient, channel, priority: inc.priority, tenant: inc.tenant, payload: JSON.stringify(this.render(inc, kind, recipient, channel, key, now, e)) };
  }

  private render(inc: Incident, kind: PageKind, recipient: string, channel: string, key: string, now: number, e?: IncidentEvent | string): PageMessage {
    const alerts = this.deps.incidents.alerts(inc.id);
    const firing = alerts.filter((a) => a.firing);
    const lines = (firing.length ? firing : alerts).map((a) => `${a.rule_id}: ${a.trigger ? `${a.trigger.metric} ${+a.trigger.value.toFixed(4)} (${a.trigger.threshold ?? ''}, window ${a.trigger.window_ms ?? '-'} ms, ${a.trigger.samples ?? '-'} samples, ${a.trigger.sessions ?? '-'} sessions)` : 'no values'}`);
    const by = typeof e === 'string' ? [e] : e && kind !== 'priority_changed' ? [`${kind[0]!.toUpperCase()}${kind.slice(1)} by ${e.entry.actor}${e.entry.data?.note ? `: ${String(e.entry.data.note)}` : ''}`] : [];
    const timeline = this.deps.incidents
      .timeline(inc.id)
      .filter((t) => !t.kind.startsWith('page_') && t.kind !== 'paged' && t.kind !== 'not_paged')
      .slice(-5)
      .map((t) => `${new Date(t.at).toISOString().slice(11, 19)} ${t.actor} ${t.kind}${typeof t.data?.summary === 'string' ? `: ${t.data.summary}` : ''}`);
    const link = (action: 'ack' | 'resolve') =>
      `${this.opts.publicUrl}/v1/links/${signLink(this.opts.linkSecret, { incident: inc.id, reopened: inc.reopened, action, recipient, expires: now + this.opts.linkTtlMs })}`;
    const open = inc.state === 'open' || inc.state === 'acknowledged';
    return {
      kind, incidentId: inc.id, priority: inc.priority, tenant: inc.tenant, region: inc.region, state: inc.state,
      title: `${inc.priority} ${inc.region ?? inc.tenant}: ${inc.title}`,
      text: [...by, ...lines].join('\n'),
      runbook: firing.map((a) => this.deps.runbookOf(a.rule_id)).find((r) => r !== undefined),
      timeline,
      ackUrl: inc.state === 'open' ? link('ack') : undefined,
      resolveUrl: open ? link('resolve') : undefined,
      incidentUrl: undefined,
      mention: this.mention(recipient, channel),
      key,
    };
  }

  /** The recipient's handle on the channel's provider (team channels and email have none). */
  private mention(recipient: string, channel: string): string | undefined {
    const person = recipient.startsWith(TEAM) ? undefined : this.deps.oncall.person(recipient);
    const provider = channel === EMAIL ? undefined : this.deps.oncall.config.channels.get(channel)?.provider;
    return person && provider ? person.chat[provider] : undefined;
  }

  /**
   * Escalates the storms going on (a step pages the level's people with the whole list) and sends each storm's
   * update to the people it paged once something changed: at once when it got more urgent or everyone is on it,
   * else at most once per storm interval. A storm ends when none of its incidents is open or acknowledged.
   */
  private advanceStorms(now: number): void {
    for (const storm of this.storms.active()) {
      const members = this.storms.members(storm.id).flatMap((id) => this.deps.incidents.get(id) ?? []);
      const open = members.filter((m) => m.state === 'open' && !m.silenced);
      const policy = this.deps.oncall.config.policies.get(storm.policy);
      this.deps.db.transaction(() => {
        if (storm.closed_at === null && !members.some((m) => m.state === 'open' || m.state === 'acknowledged')) this.storms.close(storm.id, now);
        if (open.length === 0 || !policy) {
          if (storm.started_at !== null) {
            this.storms.stopEscalation(storm.id);
            this.outbox.cancelStorm(storm.id, ['opened', 'escalated'], now);
          }
        } else {
          if (storm.started_at === null) this.storms.startEscalation(storm.id, now);
          this.stormSteps(this.storms.get(storm.id)!, policy, members, open, now);
        }
        const s = this.storms.get(storm.id)!;
        if (s.version <= s.told_version) return;
        const notes = JSON.parse(s.notes) as string[];
        const kind = updateKind(s, members);
        const urgent = kind === 'priority_changed' || kind === 'acknowledged';
        if (!urgent && s.told_at !== null && now < s.told_at + this.storms.opts.intervalMs) return;
        const items = this.outbox.pagedByStorm(s.id).map((t) => this.stormItem(s, members, kind, t.recipient, t.channel, `storm:${s.id}:v${s.version}`, now, notes));
        this.outbox.enqueue(items, now);
        this.storms.told(s.id, s.version, topPriority(open.length ? open : members), now);
      })();
    }
  }

  /** Enqueues the storm's escalation steps that have come due; each open incident records the step. */
  private stormSteps(storm: Storm, policy: EscalationPolicy, members: readonly Incident[], open: readonly Incident[], now: number): void {
    const priority = topPriority(open);
    const due = dueSteps(policy, priority, storm.started_at!, now).filter((s) => s.index >= storm.next_step);
    if (due.length === 0) return;
    for (const step of due) {
      const who = recipients(step, (id) => this.deps.oncall.schedule(id));
      const kind: PageKind = step.index === 0 ? 'opened' : 'escalated';
      const base = `storm:${storm.id}:g${storm.generation}:s${step.index}`;
      const picked = (person: string) => {
        const channels = this.deps.oncall.config.notify.get(person) ?? [];
        return priority === 'P0' || priority === 'P1' ? channels : channels.slice(0, 1);
      };
      const items = [
        ...who.people.flatMap((p) => picked(p).map((c) => this.stormItem(storm, members, kind, p, c, base, now))),
        ...who.channels.map((c) => this.stormItem(storm, members, kind, `${TEAM}${c}`, c, base, now)),
      ];
      this.outbox.enqueue(items, now);
      for (const m of open) this.note(m.id, step.index === 0 ? 'paged' : 'escalated', { storm: storm.id, step: step.index, round: step.round, level: step.level, people: who.people, channels: who.channels, pages: items.length }, now);
    }
    this.storms.stepped(storm.id, due.at(-1)!.index + 1);
    this.storms.told(storm.id, storm.version, priority, now);
  }

  /** One storm page: the storm's incidents, most urgent first, with one link acknowledging every open one. */
  private stormItem(storm: Storm, members: readonly Incident[], kind: PageKind, recipient: string, channel: string, base: string, now: number, headlines: readonly string[] = []): OutboxItem {
    const key = `${base}:${recipient}:${channel}`;
    const active = members.filter((m) => m.state === 'open' || m.state === 'acknowledged');
    const priority = topPriority(active.length ? active : members);
    const order = (m: Incident) => INCIDENT_STATES.indexOf(m.state) * 10 + rank(m.priority);
    const listed = [...members].sort((a, b) => order(a) - order(b) || a.id - b.id).map((m) => this.stormIncident(m));
    const counts = INCIDENT_STATES.map((s) => [s, members.filter((m) => m.state === s).length] as const).filter(([, n]) => n > 0);
    const anyOpen = members.some((m) => m.state === 'open');
    const page: PageMessage = {
      kind, incidentId: 0, priority, tenant: storm.tenant, region: undefined, state: stormState(members),
      title: `${priority} ${storm.tenant}: storm #${storm.id}, ${members.length} incident${members.length === 1 ? '' : 's'} at once`,
      text: [
        ...headlines,
        `${counts.map(([s, n]) => `${n} ${s}`).join(', ')}.`,
        ...listed.map((i) => `#${i.id} ${i.priority} ${i.state}: ${i.title}${i.regions.length > 1 ? ` — ${i.regions.length} regions: ${i.regions.join(', ')}` : ''}`),
      ].join('\n'),
      runbook: members.flatMap((m) => this.deps.incidents.alerts(m.id).filter((a) => a.firing)).map((a) => this.deps.runbookOf(a.rule_id)).find((r) => r !== undefined),
      timeline: [],
      ackUrl: anyOpen ? `${this.opts.publicUrl}/v1/links/${signLink(this.opts.linkSecret, { incident: 0, reopened: 0, action: 'ack', recipient, expires: now + this.opts.linkTtlMs, storm: storm.id })}` : undefined,
      resolveUrl: undefined,
      incidentUrl: undefined,
      mention: this.mention(recipient, channel),
      key,
      storm: { id: storm.id, incidents: listed },
    };
    return { key, incidentId: 0, stormId: storm.id, kind, recipient, channel, priority, tenant: storm.tenant, payload: JSON.stringify(page) };
  }

  private stormIncident(m: Incident): StormIncident {
    const regions = m.region !== undefined ? [m.region] : [...new Set(this.deps.incidents.alerts(m.id).filter((a) => a.firing).flatMap((a) => a.labels.region ?? []))];
    return { id: m.id, priority: m.priority, state: `${m.state}${m.silenced ? ' (silenced)' : ''}`, title: m.title, regions };
  }

  /** A storm and its incidents (for its link's page). */
  storm(id: number): { storm: Storm; incidents: Incident[] } | undefined {
    const storm = this.storms.get(id);
    return storm && { storm, incidents: this.storms.members(id).flatMap((m) => this.deps.incidents.get(m) ?? []) };
  }

  /**
   * Acknowledges every open incident of a storm as `actor` (its signed link); returns the events to publish. The
   * storm's next update says who did it.
   */
  ackStorm(id: number, actor: string, note: string, now: number): IncidentEvent[] {
    const found = this.storm(id);
    if (!found) return [];
    const events = found.incidents.filter((i) => i.state === 'open').map((i) => this.deps.incidents.act(i.id, 'ack', actor, note, now));
    if (events.length) this.storms.changed(id, `Acknowledged by ${actor}: ${events.length} incident${events.length === 1 ? '' : 's'}`);
    return events;
  }

  /** Rows were enqueued elsewhere (customer updates): deliver them soon. */
  wake(): void {
    this.nudge();
  }

  private nudge(): void {
    if (this.nudged || this.stopped) return;
    this.nudged = true;
    setImmediate(() => this.pass());
  }

  /**
   * Gives each idle lane its next due page (outbox.claimDue: most urgent first, tenants in turn) and starts sending
   * it without waiting; when a send ends its lane is idle again and a pass follows. A lane sends one page at a time,
   * so two updates to one recipient on one channel (mitigated, then resolved) never overtake each other.
   */
  private dispatch(now: number): void {
    const left = new Map<string, number>();
    const admit = (tenant: string) => {
      const n = left.get(tenant) ?? this.opts.pageBudget.max - this.outbox.sentBy(tenant, now - this.opts.pageBudget.windowMs);
      left.set(tenant, Math.max(0, n - 1));
      return n > 0;
    };
    for (const row of this.outbox.claimDue(now, { busy: new Set(this.lanes.keys()), admit })) {
      const lane = laneOf(row.channel, row.recipient);
      this.held.delete(row.id);
      const sending = this.sendOne(row, now)
        .catch((err: unknown) => this.deps.log.error({ err, page: row.key }, 'sending a page failed'))
        .finally(() => {
          this.lanes.delete(lane);
          this.nudge();
        });
      this.lanes.set(lane, sending);
    }
    for (const [tenant, n] of left) if (n === 0 && this.overBudget(tenant, now)) this.recordHeld(tenant, now);
  }

  /** Whether a tenant has sent its page budget within the budget's period. */
  private overBudget(tenant: string, now: number): boolean {
    return this.outbox.sentBy(tenant, now - this.opts.pageBudget.windowMs) >= this.opts.pageBudget.max;
  }

  /** Records (once per page) the due pages a tenant's budget holds back: on their timelines and in /metrics. */
  private recordHeld(tenant: string, now: number): void {
    const pending = this.outbox.pendingOf(tenant, now);
    const ids = new Set(pending.map((r) => r.id));
    for (const [id, t] of this.held) if (t === tenant && !ids.has(id)) this.held.delete(id);
    for (const row of pending) {
      if (this.held.has(row.id)) continue;
      this.held.set(row.id, tenant);
      this.deps.metrics.pagesHeld.inc({ tenant });
      const budget = `${this.opts.pageBudget.max} per ${formatDuration(this.opts.pageBudget.windowMs)}`;
      this.noteRow(row, 'page_held', { recipient: row.recipient, channel: row.channel, kind: row.kind, reason: `tenant ${tenant} has sent its page budget (${budget}); sent as the budget allows` }, now);
    }
  }

  private async sendOne(row: OutboxRow, now: number): Promise<void> {
    const { metrics } = this.deps;
    const bucket = this.bucket(row.channel);
    if (!bucket.take(now)) {
      this.outbox.defer(row.id, now + bucket.msUntilNext(now), now);
      return;
    }
    const page = JSON.parse(row.payload) as PageMessage;
    const verdict = await this.send(row, page);
    const at = this.deps.clock();
    const who = { recipient: row.recipient, channel: row.channel, kind: row.kind, attempt: row.attempts };
    if (verdict.ok) {
      this.outbox.delivered(row.id, at);
      metrics.pages.inc({ channel: this.channelType(row.channel), outcome: 'delivered' });
      this.noteRow(row, 'page_delivered', who, at);
      return;
    }
    const state = this.outbox.failed(row.id, verdict.reason, verdict.retryable, at);
    metrics.pages.inc({ channel: this.channelType(row.channel), outcome: state === 'pending' ? 'retry' : 'failed' });
    this.noteRow(row, 'page_failed', { ...who, reason: verdict.reason, retrying: state === 'pending', next_at: state === 'pending' ? this.outbox.get(row.id)?.nextAt : undefined }, at);
    // The first failure of a channel already brings in the person's next one (a page must not wait out a retry
    // schedule); the failing channel keeps retrying, so the email still arrives once SMTP is back.
    this.fallBack(row, page, at);
  }

  private async send(row: OutboxRow, page: PageMessage): Promise<Verdict> {
    if (row.channel === EMAIL) {
      const to = row.recipient.startsWith(MAILTO) ? row.recipient.slice(MAILTO.length) : this.deps.oncall.person(row.recipient)?.email;
      if (!this.deps.email) return { ok: false, retryable: false, reason: 'email is not configured (SMTP_URL)' };
      if (!to) return { ok: false, retryable: false, reason: `${row.recipient} has no email address` };
      return this.deps.email.send(to, page);
    }
    const ch = this.deps.oncall.config.channels.get(row.channel);
    if (!ch) return { ok: false, retryable: false, reason: `channel ${row.channel} is no longer configured` };
    return deliver(PROVIDERS[ch.provider], ch.config, page, this.deps.clock(), this.opts.sendTimeoutMs);
  }

  /** A page that failed goes to the person's next channel not tried for it yet (once per channel). */
  private fallBack(row: OutboxRow, page: PageMessage, now: number): void {
    if (row.recipient.startsWith(TEAM) || row.recipient.startsWith(MAILTO)) return;
    const channels = this.deps.oncall.config.notify.get(row.recipient) ?? [];
    const base = row.key.slice(0, row.key.length - `:${row.recipient}:${row.channel}`.length);
    const thread = row.stormId === undefined ? this.outbox.ofIncident(row.incidentId) : this.outbox.ofStorm(row.stormId);
    const tried = new Set(thread.filter((r) => r.key.startsWith(`${base}:${row.recipient}:`)).map((r) => r.channel));
    const next = channels.find((c) => !tried.has(c));
    if (!next) return;
    // The same message (who acted, the values at the time), addressed to the next channel.
    const key = `${base}:${row.recipient}:${next}`;
    const payload = JSON.stringify({ ...page, key, mention: this.mention(row.recipient, next) } satisfies PageMessage);
    this.outbox.enqueue([{ key, incidentId: row.incidentId, stormId: row.stormId, kind: row.kind, recipient: row.recipient, channel: next, priority: row.priority, tenant: row.tenant, payload }], now);
    this.noteRow(row, 'page_fallback', { recipient: row.recipient, from: row.channel, to: next, kind: page.kind }, now);
    this.nudge();
  }

  private bucket(channel: string): TokenBucket {
    let b = this.buckets.get(channel);
    if (!b) {
      const rate = channel === EMAIL ? this.opts.emailRate : this.opts.chatRate;
      this.buckets.set(channel, (b = new TokenBucket(rate.max * 3, rate.windowMs * 3)));
    }
    return b;
  }

  private channelType(channel: string): string {
    return channel === EMAIL ? EMAIL : (this.deps.oncall.config.channels.get(channel)?.provider ?? 'unknown');
  }

  /** Records on the incident's timeline (customer updates of tickets without an incident have none: id 0). */
  private note(id: number, kind: TimelineKind, data: Record<string, unknown>, now: number): void {
    if (id > 0) this.deps.incidents.note(id, kind, SYSTEM, data, now);
  }

  /** Records what happened to a page on its incident's timeline, or on every incident of its storm. */
  private noteRow(row: OutboxRow, kind: TimelineKind, data: Record<string, unknown>, now: number): void {
    if (row.stormId === undefined) return this.note(row.incidentId, kind, data, now);
    for (const id of this.storms.members(row.stormId)) this.note(id, kind, { ...data, storm: row.stormId }, now);
  }
}

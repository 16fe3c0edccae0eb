import type { FastifyBaseLogger as Logger } from 'fastify';
import type { EventBus } from '../incidents/bus.js';
import { TimelineFollower } from '../incidents/follower.js';
import type { Incidents } from '../incidents/incidents.js';
import type { Incident, IncidentEvent, TimelineKind } from '../incidents/model.js';
import type { Metrics } from '../metrics.js';
import { type EscalationPolicy, policyFor } from '../oncall/config.js';
import { dueSteps, escalationSteps, recipients } from '../oncall/escalation.js';
import type { OnCallService } from '../oncall/oncall.js';
import { type Priority, rank } from '../shared/priority.js';
import type { StateRepos } from '../storage/state/index.js';
import type { EscalationRepo } from '../storage/state/escalations.js';
import type { OutboxItem } from '../storage/state/outbox.js';
import type { Storm, StormRepo } from '../storage/state/storms.js';
import { type Rate, formatDuration } from '../util/units.js';
import type { PageKind } from '../shared/paging.js';
import { Composer, type Draft, type LinkOptions, TEAM } from './compose.js';
import type { EmailSender } from './email.js';
import { DEFAULT_RETRY, Outbox } from './outbox.js';
import { BudgetStage } from './send/budget.js';
import { Notes } from './send/notes.js';
import { RateStage } from './send/rate.js';
import { PageSender } from './send/sender.js';
import { type StormOptions, topPriority, updateKind } from './storms.js';

export interface PagerDeps {
  state: StateRepos;
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

export interface PagerOptions extends LinkOptions {
  tickMs: number;
  sendTimeoutMs: number;
  /** Per chat endpoint and for email: `max` pages per `windowMs`, with bursts of three windows' worth. */
  chatRate: Rate;
  emailRate: Rate;
  /** Pages per tenant per period; beyond it a tenant's pages wait (in priority order) and its new incidents storm. */
  pageBudget: Rate;
  storm: StormOptions;
}

/** The incident events the pager acts on. */
const HANDLED = new Set<TimelineKind>(['opened', 'reopened', 'unsilenced', 'priority_changed', 'acknowledged', 'mitigated', 'resolved']);

/**
 * Pages people about incidents. Incident events start, stop and update escalations; due steps are composed once
 * per event (compose.ts) and addressed to each recipient and channel as rows of the outbox before anything is
 * sent; the sender (send/sender.ts) delivers them in stages — dispatch, rate, deliver, retry, fallback — and every
 * attempt is recorded on the incident's timeline. Many incidents of one tenant at once page as one storm
 * (storms.ts), and a tenant over its page budget waits while other tenants' pages go out.
 */
export class Pager {
  readonly outbox: Outbox;
  readonly storms: StormRepo;
  private timer: NodeJS.Timeout | undefined;
  private readonly follower: TimelineFollower;
  private readonly escalations: EscalationRepo;
  private readonly compose: Composer;
  private readonly notes: Notes;
  private readonly budget: BudgetStage;
  private readonly sender: PageSender;
  private stopped = true;
  private nudged = false;

  constructor(
    private readonly deps: PagerDeps,
    private readonly opts: PagerOptions,
  ) {
    // A send takes at most the timeout per phase (an email: connect, greeting, exchange); a claim outlasts that.
    this.outbox = new Outbox(deps.state.outbox, deps.state.tx, DEFAULT_RETRY, 3 * opts.sendTimeoutMs);
    this.storms = deps.state.storms;
    this.escalations = deps.state.escalations;
    this.compose = new Composer(deps, opts);
    this.notes = new Notes(deps.incidents, this.storms);
    this.budget = new BudgetStage({ outbox: this.outbox, metrics: deps.metrics, notes: this.notes }, opts.pageBudget);
    this.sender = new PageSender({
      ...deps, timeoutMs: opts.sendTimeoutMs, outbox: this.outbox, budget: this.budget, notes: this.notes,
      rate: new RateStage({ chat: opts.chatRate, email: opts.emailRate }),
      mention: (recipient, channel) => this.compose.mention(recipient, channel),
      wake: () => this.nudge(),
    });
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
    await Promise.allSettled(this.sender.inFlight());
  }

  /**
   * One pass, then until every send it started (and the passes those bring on: fallbacks, next pages of a lane) is
   * done. Tests call it with an injected clock; the service's loop only runs passes.
   */
  async tick(): Promise<void> {
    this.pass();
    for (let sending = this.sender.inFlight(); sending.length || this.nudged; sending = this.sender.inFlight()) {
      if (sending.length) await Promise.allSettled(sending);
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
      this.sender.dispatch(now);
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
        if (inc.state === 'open' && !this.escalations.running(inc.id).length) this.begin(inc, e.entry.id, now);
        break;
      case 'priority_changed': {
        const previous = e.entry.data?.previous as Incident['priority'] | undefined;
        if (previous && rank(inc.priority) < rank(previous)) {
          if (!this.escalations.running(inc.id).length && inc.state === 'open') this.begin(inc, e.entry.id, now);
          else this.notifyPaged(inc, 'priority_changed', e, now);
        }
        break;
      }
      case 'acknowledged':
      case 'mitigated':
      case 'resolved':
        this.escalations.stop(inc.id, now);
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
      this.notes.incident(inc.id, 'not_paged', { reason: why }, now);
      return;
    }
    if (this.grouped(inc, policy, now)) return;
    if (this.escalations.begin(inc.id, policy.id, entry, now)) this.advance(now, inc.id);
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
      const recent = storms.recentlyPaged(inc.tenant, policy.id, now - this.opts.storm.windowMs, inc.id) + 1;
      const over = this.budget.over(inc.tenant, now);
      if (recent < this.opts.storm.threshold && !over) return false;
      storm = storms.open(inc.tenant, policy.id, now);
      this.deps.metrics.pageStorms.inc({ tenant: inc.tenant });
      reason = over ? `tenant ${inc.tenant} is over its page budget` : `${recent} incidents of tenant ${inc.tenant} within ${formatDuration(this.opts.storm.windowMs)}`;
    }
    if (storms.join(storm.id, inc.id, now)) {
      this.deps.metrics.incidentsGrouped.inc({ tenant: inc.tenant });
      this.notes.incident(inc.id, 'grouped', { storm: storm.id, policy: policy.id, reason }, now);
    }
    // A reopened incident paged on its own before is now the storm's to escalate.
    this.escalations.stop(inc.id, now);
    return true;
  }

  /** Enqueues the escalation steps that have come due (all running escalations, or one incident's). */
  private advance(now: number, only?: number): void {
    for (const esc of this.escalations.running(only)) {
      const inc = this.deps.incidents.get(esc.incidentId);
      const policy = this.deps.oncall.config.policies.get(esc.policy);
      if (!inc || inc.state !== 'open' || !policy) {
        this.escalations.stop(esc.incidentId, now);
        continue;
      }
      if (inc.silenced) continue;
      const due = dueSteps(policy, inc.priority, esc.startedAt, now).filter((s) => s.index >= esc.nextStep);
      if (due.length === 0) continue;
      this.deps.state.tx(() => {
        if (!this.escalations.step(esc, due.at(-1)!.index + 1)) return;
        for (const step of due) {
          const who = recipients(step, (id) => this.deps.oncall.schedule(id));
          const draft = this.compose.incident(inc, step.index === 0 ? 'opened' : 'escalated', now);
          const items = this.addressed(draft, inc.priority, who.people, who.channels, `${inc.id}:g${esc.generation}:s${step.index}`);
          this.outbox.enqueue(items, now);
          this.notes.incident(inc.id, step.index === 0 ? 'paged' : 'escalated', { step: step.index, round: step.round, level: step.level, people: who.people, channels: who.channels, pages: items.length }, now);
        }
      });
    }
  }

  /** A person's channels for a page of this priority: P0/P1 every channel of theirs at once, P2 the first (fallback later). */
  private channelsOf(person: string, priority: Priority): readonly string[] {
    const channels = this.deps.oncall.config.notify.get(person) ?? [];
    return priority === 'P0' || priority === 'P1' ? channels : channels.slice(0, 1);
  }

  /** A draft addressed to the people of a step (on their channels for `priority`) and to its team channels. */
  private addressed(draft: Draft, priority: Priority, people: readonly string[], channels: readonly string[], base: string): OutboxItem[] {
    return [
      ...people.flatMap((p) => this.channelsOf(p, priority).map((c) => draft.address(p, c, base))),
      ...channels.map((c) => draft.address(`${TEAM}${c}`, c, base)),
    ];
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
      this.notes.incident(inc.id, 'paged', { sla: o.breach ? 'breach' : 'warning', ticket: o.ticket, target: o.target, storm: storm.id }, now);
      this.nudge();
      return;
    }
    const step = steps[Math.min(this.escalations.nextStep(inc.id), steps.length - 1)]!;
    const who = recipients(step, (id) => this.deps.oncall.schedule(id));
    const base = `${inc.id}:sla:${o.ticket}:${o.target}:${inc.priority}:${o.breach ? 'breach' : 'warn'}`;
    const items = this.addressed(this.compose.incident(inc, 'sla_warning', now, headline), inc.priority, who.people, who.channels, base);
    if (this.outbox.enqueue(items, now).length) this.notes.incident(inc.id, 'paged', { sla: o.breach ? 'breach' : 'warning', ticket: o.ticket, target: o.target, level: step.level, people: who.people, channels: who.channels }, now);
    this.nudge();
  }

  /**
   * Tells everyone already paged about an ack, mitigation, resolution, or a rise in priority — which reaches each
   * person on the channels the new priority pages (a P2 that becomes P1 now goes to every channel of theirs).
   */
  private notifyPaged(inc: Incident, kind: PageKind, e: IncidentEvent, now: number): void {
    const base = `${inc.id}:${kind}:${e.entry.id}`;
    // A rise before the last one's notices went out: only the latest is sent.
    if (kind === 'priority_changed') this.outbox.cancel(inc.id, ['priority_changed'], now);
    const paged = this.outbox.deliveredTo(inc.id);
    if (paged.length === 0) return;
    const draft = this.compose.incident(inc, kind, now, e);
    let items: OutboxItem[];
    if (kind === 'priority_changed') {
      const people = [...new Map(paged.map((t) => [t.recipient, t])).values()];
      items = people.flatMap((t) => (t.recipient.startsWith(TEAM) ? [draft.address(t.recipient, t.channel, base)] : this.channelsOf(t.recipient, inc.priority).map((c) => draft.address(t.recipient, c, base))));
    } else {
      items = paged.map((t) => draft.address(t.recipient, t.channel, base));
    }
    this.outbox.enqueue(items, now);
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
      this.deps.state.tx(() => {
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
        if (!urgent && s.told_at !== null && now < s.told_at + this.opts.storm.intervalMs) return;
        const draft = this.compose.storm(s, members, kind, now, notes);
        const items = this.outbox.pagedByStorm(s.id).map((t) => draft.address(t.recipient, t.channel, `storm:${s.id}:v${s.version}`));
        this.outbox.enqueue(items, now);
        this.storms.told(s.id, s.version, topPriority(open.length ? open : members), now);
      });
    }
  }

  /** Enqueues the storm's escalation steps that have come due; each open incident records the step. */
  private stormSteps(storm: Storm, policy: EscalationPolicy, members: readonly Incident[], open: readonly Incident[], now: number): void {
    const priority = topPriority(open);
    const due = dueSteps(policy, priority, storm.started_at!, now).filter((s) => s.index >= storm.next_step);
    if (due.length === 0) return;
    for (const step of due) {
      const who = recipients(step, (id) => this.deps.oncall.schedule(id));
      const draft = this.compose.storm(storm, members, step.index === 0 ? 'opened' : 'escalated', now);
      const items = this.addressed(draft, priority, who.people, who.channels, `storm:${storm.id}:g${storm.generation}:s${step.index}`);
      this.outbox.enqueue(items, now);
      for (const m of open) this.notes.incident(m.id, step.index === 0 ? 'paged' : 'escalated', { storm: storm.id, step: step.index, round: step.round, level: step.level, people: who.people, channels: who.channels, pages: items.length }, now);
    }
    this.storms.stepped(storm.id, due.at(-1)!.index + 1);
    this.storms.told(storm.id, storm.version, priority, now);
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
}

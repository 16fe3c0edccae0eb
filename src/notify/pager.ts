import type { FastifyBaseLogger as Logger } from 'fastify';
import type { EventBus } from '../incidents/bus.js';
import { TimelineFollower } from '../incidents/follower.js';
import type { Incidents } from '../incidents/incidents.js';
import type { Incident, IncidentEvent, TimelineKind } from '../incidents/model.js';
import type { Metrics } from '../metrics.js';
import { type EscalationPolicy, policyFor } from '../oncall/config.js';
import { dueSteps, escalationSteps, recipients } from '../oncall/escalation.js';
import type { OnCallService } from '../oncall/oncall.js';
import { badRequest, conflict } from '../shared/http-errors.js';
import { type Priority, rank } from '../shared/priority.js';
import type { OutboxItem } from '../storage/state/outbox.js';
import type { StateStore } from '../storage/state/store.js';
import type { Storm } from '../storage/state/storms.js';
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
  state: StateStore;
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
  private timer: NodeJS.Timeout | undefined;
  private readonly follower: TimelineFollower;
  private readonly compose: Composer;
  private readonly notes: Notes;
  private readonly budget: BudgetStage;
  private readonly sender: PageSender;
  private stopped = true;
  private nudged = false;
  /** The pass running, if any: passes never overlap (a lane must not be claimed twice). */
  private passing: Promise<void> | undefined;
  /** A pass was asked for while one ran: run another after it. */
  private again = false;

  constructor(
    private readonly deps: PagerDeps,
    private readonly opts: PagerOptions,
  ) {
    // A send takes at most the timeout per phase (an email: connect, greeting, exchange); a claim outlasts that.
    this.outbox = new Outbox(deps.state, DEFAULT_RETRY, 3 * opts.sendTimeoutMs);
    this.compose = new Composer(deps, opts);
    this.notes = new Notes(deps.incidents, deps.state);
    this.budget = new BudgetStage({ outbox: this.outbox, metrics: deps.metrics, notes: this.notes }, opts.pageBudget);
    this.sender = new PageSender({
      ...deps, timeoutMs: opts.sendTimeoutMs, outbox: this.outbox, budget: this.budget, notes: this.notes,
      rate: new RateStage({ chat: opts.chatRate, email: opts.emailRate }),
      mention: (recipient, channel) => this.compose.mention(recipient, channel),
      wake: () => this.nudge(),
    });
    this.follower = new TimelineFollower('pager', deps, HANDLED, (e, t) => this.handle(e, t));
    const m = deps.metrics;
    (m.outboxBacklog as unknown as { collect: () => Promise<void> }).collect = async () => m.outboxBacklog.set(await this.outbox.backlog());
    (m.outboxClaims as unknown as { collect: () => void }).collect = () => {
      m.outboxClaims.reset();
      m.outboxClaims.inc({ claim: 'due' }, this.outbox.claims.fresh);
      m.outboxClaims.inc({ claim: 'expired' }, this.outbox.claims.expired);
    };
  }

  async start(): Promise<void> {
    const cut = await this.outbox.inFlight();
    if (cut.rows) {
      this.deps.log.warn({ pages: cut.rows, claimed_until: new Date(cut.until!).toISOString() }, 'pages interrupted by a restart are sent again (same idempotency keys) once their claim runs out');
    }
    this.stopped = false;
    await this.follower.start();
    this.timer = setInterval(() => void this.pass(), this.opts.tickMs);
    void this.pass();
  }

  /** Stops taking events and waits for the pass and the sends in flight (their rows are retried after the next start if cut). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.follower.stop();
    await this.passing;
    await Promise.allSettled(this.sender.inFlight());
  }

  /**
   * Handles the incident events published so far, runs one pass, then waits until every send it started (and the
   * passes those bring on: fallbacks, next pages of a lane) is done. Tests call it with an injected clock; the
   * service's loop only runs passes.
   */
  async tick(): Promise<void> {
    await this.follower.idle();
    await this.pass();
    for (let sending = this.sender.inFlight(); sending.length || this.nudged || this.passing; sending = this.sender.inFlight()) {
      if (sending.length) await Promise.allSettled(sending);
      else if (this.passing) await this.passing;
      else await new Promise((r) => setImmediate(r));
    }
  }

  /**
   * Advances escalations and storms, then gives each idle lane its next due page. Never waits for a send; a pass
   * asked for while one runs follows it.
   */
  private pass(): Promise<void> {
    this.nudged = false;
    if (this.passing) {
      this.again = true;
      return this.passing;
    }
    const run = async () => {
      do {
        this.again = false;
        const now = this.deps.clock();
        try {
          await this.advance(now);
          await this.advanceStorms(now);
          await this.sender.dispatch(now);
        } catch (err) {
          this.deps.log.error({ err }, 'paging pass failed');
        }
      } while (this.again && !this.stopped);
    };
    this.passing = run().finally(() => (this.passing = undefined));
    return this.passing;
  }

  /** Handles one incident event in a transaction of its own (tests call it directly). */
  onEvent(e: IncidentEvent): Promise<void> {
    return this.deps.state.tx((t) => this.handle(e, t));
  }

  /** Handles one incident event; its writes go to `t`, the transaction that moves the follower's cursor past it. */
  private async handle(e: IncidentEvent, t: StateStore): Promise<void> {
    const inc = e.incident;
    const now = e.entry.at;
    switch (e.type) {
      case 'opened':
      case 'reopened':
        await this.begin(t, inc, e.entry.id, now);
        break;
      case 'unsilenced':
        if (inc.state === 'open' && !(await t.escalations.running(inc.id)).length) await this.begin(t, inc, e.entry.id, now);
        break;
      case 'priority_changed': {
        const previous = e.entry.data?.previous as Incident['priority'] | undefined;
        if (previous && rank(inc.priority) < rank(previous)) {
          if (!(await t.escalations.running(inc.id)).length && inc.state === 'open') await this.begin(t, inc, e.entry.id, now);
          else await this.notifyPaged(t, inc, 'priority_changed', e, now);
        }
        break;
      }
      case 'acknowledged':
      case 'mitigated':
      case 'resolved':
        await t.escalations.stop(inc.id, now);
        await this.outbox.cancel(inc.id, ['opened', 'escalated', 'priority_changed'], now, t);
        await this.notifyPaged(t, inc, e.type, e, now);
        break;
      default:
        return;
    }
    // A storm's member changed: the people the storm paged hear of it in the storm's next update.
    const storm = await t.storms.of(inc.id);
    if (storm) await t.storms.changed(storm.id);
    this.nudge();
  }

  /**
   * Starts (or, after a reopen, restarts) the escalation of an incident, unless it must not page. Idempotent per
   * triggering timeline entry: the same entry handled again (a replay) neither bumps the generation nor pages anew.
   */
  private async begin(t: StateStore, inc: Incident, entry: number, now: number): Promise<void> {
    const policy = policyFor(this.deps.oncall.config, inc);
    const why = inc.silenced ? 'silenced: recorded, not paged' : inc.priority === 'P3' ? 'P3 pages nobody (ticket only)' : !policy ? 'no escalation policy matches' : undefined;
    if (why || !policy) {
      await this.notes.incident(inc.id, 'not_paged', { reason: why }, now, t);
      return;
    }
    if (await this.grouped(t, inc, policy, now)) return;
    if (await t.escalations.begin(inc.id, policy.id, entry, now)) await this.advance(now, inc.id, t);
  }

  /**
   * Whether the incident pages as part of its tenant's storm — the storm going on, or a new one when this is the
   * threshold-th incident of the tenant (and policy) within the storm window, or the tenant is over its page
   * budget — rather than with an escalation of its own. The storm's page goes out in the next pass.
   */
  private async grouped(t: StateStore, inc: Incident, policy: EscalationPolicy, now: number): Promise<boolean> {
    const { storms } = t;
    let storm = await storms.current(inc.tenant, policy.id);
    let reason = `storm #${storm?.id} of tenant ${inc.tenant} is going on`;
    if (!storm) {
      const recent = (await storms.recentlyPaged(inc.tenant, policy.id, now - this.opts.storm.windowMs, inc.id)) + 1;
      const over = await this.budget.over(inc.tenant, now, t);
      if (recent < this.opts.storm.threshold && !over) return false;
      storm = await storms.open(inc.tenant, policy.id, now);
      this.deps.metrics.pageStorms.inc({ tenant: inc.tenant });
      reason = over ? `tenant ${inc.tenant} is over its page budget` : `${recent} incidents of tenant ${inc.tenant} within ${formatDuration(this.opts.storm.windowMs)}`;
    }
    if (await storms.join(storm.id, inc.id, now)) {
      this.deps.metrics.incidentsGrouped.inc({ tenant: inc.tenant });
      await this.notes.incident(inc.id, 'grouped', { storm: storm.id, policy: policy.id, reason }, now, t);
    }
    // A reopened incident paged on its own before is now the storm's to escalate.
    await t.escalations.stop(inc.id, now);
    return true;
  }

  /**
   * Enqueues the escalation steps that have come due (all running escalations, or one incident's in `outer`, the
   * transaction that began it); each escalation's steps are written in one transaction.
   */
  private async advance(now: number, only?: number, outer: StateStore = this.deps.state): Promise<void> {
    for (const esc of await outer.escalations.running(only)) {
      const inc = await this.deps.incidents.get(esc.incidentId, outer);
      const policy = this.deps.oncall.config.policies.get(esc.policy);
      if (!inc || inc.state !== 'open' || !policy) {
        await outer.escalations.stop(esc.incidentId, now);
        continue;
      }
      if (inc.silenced) continue;
      const due = dueSteps(policy, inc.priority, esc.startedAt, now).filter((s) => s.index >= esc.nextStep);
      if (due.length === 0) continue;
      await outer.tx(async (t) => {
        if (!(await t.escalations.step(esc, due.at(-1)!.index + 1))) return;
        for (const step of due) {
          const who = recipients(step, (id) => this.deps.oncall.schedule(id));
          const draft = await this.compose.incident(t, inc, step.index === 0 ? 'opened' : 'escalated', now);
          const items = this.addressed(draft, inc.priority, who.people, who.channels, `${inc.id}:g${esc.generation}:s${step.index}`);
          await this.outbox.enqueue(items, now, t);
          await this.notes.incident(inc.id, step.index === 0 ? 'paged' : 'escalated', { step: step.index, round: step.round, level: step.level, people: who.people, channels: who.channels, pages: items.length }, now, t);
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
   * A responder asks for more hands now. Without `to`: the next escalation level is paged at once (the level after
   * the last one paged; the last level when all were, as an SLA alert does) and a running escalation moves on past
   * it. With `to`: that person is paged, a hand-over. Silences do not hold it back (someone asked); recorded on the
   * timeline as the person who asked (`escalated` or `reassigned`, with `manual: true`).
   */
  escalateNow(id: number, actor: string, o: { to?: string; note?: string }, now: number): Promise<IncidentEvent> {
    return this.deps.state.tx(async (t) => {
      const inc = await this.deps.incidents.require(id, t);
      if (inc.state !== 'open' && inc.state !== 'acknowledged') throw conflict(`incident ${id} is ${inc.state}: nobody needs paging`);
      let who: { people: string[]; channels: string[] };
      let level: number | undefined;
      if (o.to !== undefined) {
        if (!this.deps.oncall.person(o.to)) throw badRequest(`to: no person "${o.to}" in the on-call file`);
        who = { people: [o.to], channels: [] };
      } else {
        const policy = policyFor(this.deps.oncall.config, inc);
        const steps = policy ? escalationSteps(policy, inc.priority, now) : [];
        if (steps.length === 0) throw conflict(`no escalation policy pages incident ${id}: hand it to someone instead`);
        const next = await t.escalations.nextStep(inc.id);
        const step = steps[Math.min(next, steps.length - 1)]!;
        who = recipients(step, (s) => this.deps.oncall.schedule(s));
        level = step.level;
        const [running] = await t.escalations.running(inc.id);
        if (running && next < steps.length) await t.escalations.step(running, next + 1);
      }
      const e = await this.deps.incidents.note(inc.id, o.to === undefined ? 'escalated' : 'reassigned', actor, { manual: true, to: o.to, level, people: who.people, channels: who.channels, note: o.note }, now, t);
      const headline = `${o.to === undefined ? 'Escalated' : 'Handed over to you'} by ${actor}${o.note ? `: ${o.note}` : ''}`;
      const items = this.addressed(await this.compose.incident(t, inc, 'escalated', now, headline), inc.priority, who.people, who.channels, `${inc.id}:manual:${e.entry.id}`);
      await this.outbox.enqueue(items, now, t);
      this.nudge();
      return e;
    });
  }

  /**
   * An SLA warning (80 %) or breach (100 %) of a ticket of this incident: the next escalation level is paged (the
   * level after the last one paged; the last level when all were), once per ticket, target, priority and kind.
   */
  async slaAlert(inc: Incident, o: { ticket: number; target: string; breach: boolean; dueAt: number }, now: number, t: StateStore = this.deps.state): Promise<void> {
    const policy = policyFor(this.deps.oncall.config, inc);
    if (!policy || inc.silenced) return;
    const steps = escalationSteps(policy, inc.priority, now);
    if (steps.length === 0) return;
    const headline = `SLA ${o.breach ? 'BREACHED' : 'warning (80 %)'}: ${o.target} for ticket #${o.ticket} ${o.breach ? 'was' : 'is'} due ${new Date(o.dueAt).toISOString()}`;
    // A storm's incident: its people hear of it in the storm's next update, not in a page per ticket.
    const storm = await t.storms.of(inc.id);
    if (storm) {
      await t.storms.changed(storm.id, `#${inc.id} ${headline}`);
      await this.notes.incident(inc.id, 'paged', { sla: o.breach ? 'breach' : 'warning', ticket: o.ticket, target: o.target, storm: storm.id }, now, t);
      this.nudge();
      return;
    }
    const step = steps[Math.min(await t.escalations.nextStep(inc.id), steps.length - 1)]!;
    const who = recipients(step, (id) => this.deps.oncall.schedule(id));
    const base = `${inc.id}:sla:${o.ticket}:${o.target}:${inc.priority}:${o.breach ? 'breach' : 'warn'}`;
    const items = this.addressed(await this.compose.incident(t, inc, 'sla_warning', now, headline), inc.priority, who.people, who.channels, base);
    if ((await this.outbox.enqueue(items, now, t)).length) await this.notes.incident(inc.id, 'paged', { sla: o.breach ? 'breach' : 'warning', ticket: o.ticket, target: o.target, level: step.level, people: who.people, channels: who.channels }, now, t);
    this.nudge();
  }

  /**
   * Tells everyone already paged about an ack, mitigation, resolution, or a rise in priority — which reaches each
   * person on the channels the new priority pages (a P2 that becomes P1 now goes to every channel of theirs).
   */
  private async notifyPaged(t: StateStore, inc: Incident, kind: PageKind, e: IncidentEvent, now: number): Promise<void> {
    const base = `${inc.id}:${kind}:${e.entry.id}`;
    // A rise before the last one's notices went out: only the latest is sent.
    if (kind === 'priority_changed') await this.outbox.cancel(inc.id, ['priority_changed'], now, t);
    const paged = await this.outbox.deliveredTo(inc.id, t);
    if (paged.length === 0) return;
    const draft = await this.compose.incident(t, inc, kind, now, e);
    let items: OutboxItem[];
    if (kind === 'priority_changed') {
      const people = [...new Map(paged.map((p) => [p.recipient, p])).values()];
      items = people.flatMap((p) => (p.recipient.startsWith(TEAM) ? [draft.address(p.recipient, p.channel, base)] : this.channelsOf(p.recipient, inc.priority).map((c) => draft.address(p.recipient, c, base))));
    } else {
      items = paged.map((p) => draft.address(p.recipient, p.channel, base));
    }
    await this.outbox.enqueue(items, now, t);
  }

  /**
   * Escalates the storms going on (a step pages the level's people with the whole list) and sends each storm's
   * update to the people it paged once something changed: at once when it got more urgent or everyone is on it,
   * else at most once per storm interval. A storm ends when none of its incidents is open or acknowledged.
   */
  private async advanceStorms(now: number): Promise<void> {
    const { state } = this.deps;
    for (const storm of await state.storms.active()) {
      await state.tx(async (t) => {
        const members = await this.members(t, storm.id);
        const open = members.filter((m) => m.state === 'open' && !m.silenced);
        const policy = this.deps.oncall.config.policies.get(storm.policy);
        if (storm.closed_at === null && !members.some((m) => m.state === 'open' || m.state === 'acknowledged')) await t.storms.close(storm.id, now);
        if (open.length === 0 || !policy) {
          if (storm.started_at !== null) {
            await t.storms.stopEscalation(storm.id);
            await this.outbox.cancelStorm(storm.id, ['opened', 'escalated'], now, t);
          }
        } else {
          if (storm.started_at === null) await t.storms.startEscalation(storm.id, now);
          await this.stormSteps(t, (await t.storms.get(storm.id))!, policy, members, open, now);
        }
        const s = (await t.storms.get(storm.id))!;
        if (s.version <= s.told_version) return;
        const notes = JSON.parse(s.notes) as string[];
        const kind = updateKind(s, members);
        const urgent = kind === 'priority_changed' || kind === 'acknowledged';
        if (!urgent && s.told_at !== null && now < s.told_at + this.opts.storm.intervalMs) return;
        const draft = await this.compose.storm(t, s, members, kind, now, notes);
        const items = (await this.outbox.pagedByStorm(s.id, t)).map((p) => draft.address(p.recipient, p.channel, `storm:${s.id}:v${s.version}`));
        await this.outbox.enqueue(items, now, t);
        await t.storms.told(s.id, s.version, topPriority(open.length ? open : members), now);
      });
    }
  }

  /** Enqueues the storm's escalation steps that have come due; each open incident records the step. */
  private async stormSteps(t: StateStore, storm: Storm, policy: EscalationPolicy, members: readonly Incident[], open: readonly Incident[], now: number): Promise<void> {
    const priority = topPriority(open);
    const due = dueSteps(policy, priority, storm.started_at!, now).filter((s) => s.index >= storm.next_step);
    if (due.length === 0) return;
    for (const step of due) {
      const who = recipients(step, (id) => this.deps.oncall.schedule(id));
      const draft = await this.compose.storm(t, storm, members, step.index === 0 ? 'opened' : 'escalated', now);
      const items = this.addressed(draft, priority, who.people, who.channels, `storm:${storm.id}:g${storm.generation}:s${step.index}`);
      await this.outbox.enqueue(items, now, t);
      for (const m of open) await this.notes.incident(m.id, step.index === 0 ? 'paged' : 'escalated', { storm: storm.id, step: step.index, round: step.round, level: step.level, people: who.people, channels: who.channels, pages: items.length }, now, t);
    }
    await t.storms.stepped(storm.id, due.at(-1)!.index + 1);
    await t.storms.told(storm.id, storm.version, priority, now);
  }

  private async members(t: StateStore, stormId: number): Promise<Incident[]> {
    const out: Incident[] = [];
    for (const id of await t.storms.members(stormId)) {
      const inc = await this.deps.incidents.get(id, t);
      if (inc) out.push(inc);
    }
    return out;
  }

  /** A storm and its incidents (for its link's page). */
  async storm(id: number): Promise<{ storm: Storm; incidents: Incident[] } | undefined> {
    const storm = await this.deps.state.storms.get(id);
    return storm && { storm, incidents: await this.members(this.deps.state, id) };
  }

  /**
   * Acknowledges every open incident of a storm as `actor` (its signed link); returns the events to publish. The
   * storm's next update says who did it.
   */
  async ackStorm(id: number, actor: string, note: string, now: number): Promise<IncidentEvent[]> {
    const found = await this.storm(id);
    if (!found) return [];
    const events: IncidentEvent[] = [];
    for (const i of found.incidents) if (i.state === 'open') events.push(await this.deps.incidents.act(i.id, 'ack', actor, note, now));
    if (events.length) await this.deps.state.storms.changed(id, `Acknowledged by ${actor}: ${events.length} incident${events.length === 1 ? '' : 's'}`);
    return events;
  }

  /** Rows were enqueued elsewhere (customer updates): deliver them soon. */
  wake(): void {
    this.nudge();
  }

  private nudge(): void {
    if (this.nudged || this.stopped) return;
    this.nudged = true;
    setImmediate(() => void this.pass());
  }
}

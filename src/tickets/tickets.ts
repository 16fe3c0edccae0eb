import { randomBytes } from 'node:crypto';
import { badRequest, conflict, notFound } from '../shared/http-errors.js';
import { type Priority, rank } from '../shared/priority.js';
import { type SlaCell, TARGETS, type TargetName, type Tenant } from '../shared/tenant.js';
import type { StateStore } from '../storage/state/store.js';
import type { SlaMark, TicketEventRecord, TicketRecord } from '../storage/state/tickets.js';
import { resolveTarget } from './calendar.js';
import { type ClockState, clockState } from './clock.js';
import { NEXT, type StateChange, type TicketState, clockEvents } from './lifecycle.js';

export type Ticket = Omit<TicketRecord, 'state'> & { readonly state: TicketState };

export const TICKET_EVENT_KINDS = ['opened', 'state_changed', 'priority_changed', 'assigned', 'comment', 'sla_warning', 'sla_breach'] as const;
export type TicketEventKind = (typeof TICKET_EVENT_KINDS)[number];
export type Visibility = 'internal' | 'customer';

export type TicketEvent = Omit<TicketEventRecord, 'kind' | 'visibility'> & { readonly kind: TicketEventKind; readonly visibility: Visibility };

/** One target's clock on a ticket, as the API shows it. */
export interface SlaClock extends ClockState {
  readonly target: TargetName;
  readonly targetMs: number;
  readonly calendar: '24x7' | 'business';
}

/** The forward order of states (waiting_on_customer aside). */
const PROGRESS: readonly TicketState[] = ['new', 'acknowledged', 'mitigated', 'resolved', 'closed'];

/** Priorities whose resolution needs a root-cause note (and gets a postmortem). */
export const NEEDS_ROOT_CAUSE: readonly Priority[] = ['P0', 'P1'];

/**
 * Tickets in the state db. Every change is an event (who, when, internal or customer-visible); SLA clocks are computed
 * from the state-change events whenever they are read, so pauses and priority changes need no stored counters. The
 * rows read back (storage/state/tickets.ts) are the ones this class wrote: their states, event kinds and visibilities
 * are this area's own, typed as such here.
 */
export class Tickets {
  /**
   * Called inside the transaction of every event, `t` (customer updates go to the outbox there, SLA points out).
   * `events` are the ticket's events so far, this one included.
   */
  onEvent: ((ticket: Ticket, e: TicketEvent, events: readonly TicketEvent[], now: number, t: StateStore) => Promise<void>) | undefined;

  /**
   * Writers that take a store (`t`) write in it: a transaction of the caller's, which theirs joins (a savepoint:
   * a refused change leaves the caller's writes standing), or the state store.
   */
  constructor(private readonly state: StateStore) {}

  async get(id: number, t: Pick<StateStore, 'tickets'> = this.state): Promise<Ticket | undefined> {
    return (await t.tickets.get(id)) as Ticket | undefined;
  }

  async require(id: number, tenant?: string, t: Pick<StateStore, 'tickets'> = this.state): Promise<Ticket> {
    const found = await this.get(id, t);
    // Another tenant's ticket is "not found", not "forbidden": ids must not leak across tenants.
    if (!found || (tenant !== undefined && found.tenant !== tenant)) throw notFound(`no ticket ${id}`);
    return found;
  }

  /** A tenant's ticket by its public id; another tenant's is "not found", like one that does not exist. */
  async requirePublic(publicId: string, tenant: string): Promise<Ticket> {
    const t = (await this.state.tickets.byPublicId(publicId, tenant)) as Ticket | undefined;
    if (!t) throw notFound(`no ticket ${publicId}`);
    return t;
  }

  async forIncident(incidentId: number, t: Pick<StateStore, 'tickets'> = this.state): Promise<Ticket[]> {
    return (await t.tickets.forIncident(incidentId)) as Ticket[];
  }

  async list(f: { tenant?: string; state?: readonly TicketState[]; priority?: readonly Priority[]; before?: number; limit: number }): Promise<Ticket[]> {
    return (await this.state.tickets.list(f)) as Ticket[];
  }

  /** Ids of the tickets of a tenant in these states, oldest first: the SLA watch re-reads them. */
  idsIn(states: readonly TicketState[], tenant: string): Promise<number[]> {
    return this.state.tickets.idsIn(states, tenant);
  }

  /**
   * Every ticket in these states with what its SLA clocks need — its state changes (the events `clocks` reads) and
   * its SLA marks — in three queries, not three per ticket: the SLA watch indexes them all at start.
   */
  async slaInputs(states: readonly TicketState[]): Promise<{ ticket: Ticket; changes: TicketEvent[]; marks: SlaMark[] }[]> {
    return (await this.state.tickets.slaInputs(states)) as { ticket: Ticket; changes: TicketEvent[]; marks: SlaMark[] }[];
  }

  /**
   * Marks that an SLA warning or breach of a target at a priority was raised for a ticket; false when it already
   * was. The schema keeps each mark unique, so two checks (or two runners) raise it once.
   */
  markSla(id: number, kind: SlaMark['kind'], target: TargetName, priority: Priority, now: number, t: Pick<StateStore, 'tickets'> = this.state): Promise<boolean> {
    return t.tickets.mark(id, { kind, target, priority }, now);
  }

  /** The SLA warnings and breaches raised for a ticket. */
  slaMarks(id: number): Promise<SlaMark[]> {
    return this.state.tickets.marks(id);
  }

  /** Runs `fn` in one transaction of the state store. */
  atomically<T>(fn: (t: StateStore) => Promise<T>): Promise<T> {
    return this.state.tx(fn);
  }

  /** Tickets opened in [from, to), oldest first (reports). */
  async openedBetween(from: number, to: number, tenant?: string): Promise<Ticket[]> {
    return (await this.state.tickets.openedBetween(from, to, tenant)) as Ticket[];
  }

  /** Opens a ticket (once per incident and tenant: a repeated call returns the existing one). */
  open(o: { tenant: string; incidentId?: number; title: string; priority: Priority; actor: string; note?: string }, now: number, outer: StateStore = this.state): Promise<{ ticket: Ticket; created: boolean }> {
    return outer.tx(async (t) => {
      if (o.incidentId !== undefined) {
        const existing = (await t.tickets.byIncident(o.incidentId, o.tenant)) as Ticket | undefined;
        if (existing) return { ticket: existing, created: false };
      }
      const publicId = `tk_${randomBytes(8).toString('hex')}`;
      const id = await t.tickets.insert({ publicId, tenant: o.tenant, incidentId: o.incidentId, title: o.title, priority: o.priority, state: 'new' }, now);
      await this.event(t, id, now, o.actor, 'opened', 'customer', { priority: o.priority, incident: o.incidentId, note: o.note });
      return { ticket: (await this.get(id, t))!, created: true };
    });
  }

  /**
   * Moves a ticket (conditional: a move the state does not allow is a 409). Resolving a P0/P1 needs a root cause.
   * Leaving waiting_on_customer returns to the state it paused unless another is asked for.
   */
  move(id: number, to: TicketState | 'resume', actor: string, o: { note?: string; rootCause?: string; tenant?: string }, now: number, outer: StateStore = this.state): Promise<Ticket> {
    return outer.tx(async (tx) => {
      const t = await this.require(id, o.tenant, tx);
      const paused = ((await tx.tickets.resumeState(id)) as TicketState | undefined) ?? 'new';
      const target: TicketState = to === 'resume' ? paused : to;
      if (to === 'resume' && t.state !== 'waiting_on_customer') throw conflict(`ticket ${id} is ${t.state}, not waiting on the customer`);
      if (!NEXT[t.state].includes(target)) throw conflict(`ticket ${id} is ${t.state}: cannot move it to ${target}`);
      // Waiting on the customer is a pause, not a way back: it returns to the paused state or a later one.
      if (t.state === 'waiting_on_customer' && PROGRESS.indexOf(target) < PROGRESS.indexOf(paused)) {
        throw conflict(`ticket ${id} was ${paused} before waiting on the customer: cannot move it back to ${target}`);
      }
      const rootCause = o.rootCause?.trim() || t.rootCause;
      if (target === 'resolved' && NEEDS_ROOT_CAUSE.includes(t.priority) && !rootCause) {
        throw badRequest(`root_cause: resolving a ${t.priority} ticket needs a root-cause note`);
      }
      await tx.tickets.setState(id, t.state, target, target === 'waiting_on_customer' ? t.state : undefined, rootCause, now);
      await this.event(tx, id, now, actor, 'state_changed', 'customer', { from: t.state, to: target, note: o.note, root_cause: o.rootCause });
      return (await this.get(id, tx))!;
    });
  }

  /** A new priority: the clocks are recomputed from the new targets; the change stays in the history. */
  setPriority(id: number, priority: Priority, actor: string, now: number, tenant?: string, outer: StateStore = this.state): Promise<Ticket> {
    return outer.tx(async (tx) => {
      const t = await this.require(id, tenant, tx);
      if (t.priority === priority) return t;
      await tx.tickets.setPriority(id, priority, now);
      await this.event(tx, id, now, actor, 'priority_changed', 'customer', { from: t.priority, to: priority, raised: rank(priority) < rank(t.priority) });
      return (await this.get(id, tx))!;
    });
  }

  assign(id: number, assignee: string, actor: string, now: number): Promise<Ticket> {
    return this.state.tx(async (tx) => {
      await this.require(id, undefined, tx);
      await tx.tickets.setAssignee(id, assignee, now);
      await this.event(tx, id, now, actor, 'assigned', 'internal', { assignee });
      return (await this.get(id, tx))!;
    });
  }

  comment(id: number, actor: string, text: string, visibility: Visibility, now: number, tenant?: string, outer: StateStore = this.state): Promise<TicketEvent> {
    return outer.tx(async (tx) => {
      await this.require(id, tenant, tx);
      await tx.tickets.touch(id, now);
      return this.event(tx, id, now, actor, 'comment', visibility, { text });
    });
  }

  /** Records an event of the system (SLA warnings and breaches) in `t`. */
  record(id: number, kind: TicketEventKind, data: Record<string, unknown>, now: number, t: StateStore): Promise<TicketEvent> {
    return this.event(t, id, now, 'qoswatch', kind, 'internal', data);
  }

  async events(id: number, visibility?: Visibility, t: Pick<StateStore, 'tickets'> = this.state): Promise<TicketEvent[]> {
    return (await t.tickets.events(id, visibility)) as TicketEvent[];
  }

  /** The ticket's SLA clocks now, for its tenant's tier, calendar and current priority, from its events. */
  clocks(t: Ticket, tenant: Tenant, now: number, events: readonly TicketEvent[]): SlaClock[] {
    const cell: SlaCell = tenant.sla[t.priority];
    const changes: StateChange[] = events
      .filter((e) => e.kind === 'state_changed')
      .map((e) => ({ at: e.at, to: e.data!.to as TicketState }));
    return TARGETS.flatMap((name) => {
      const target = cell[name];
      if (!target) return [];
      const { calendar, ms } = resolveTarget(target, tenant.businessHours);
      const state = clockState(clockEvents(name, t.openedAt, changes), calendar, ms, now);
      return [{ ...state, target: name, targetMs: ms, calendar: calendar === '24x7' ? ('24x7' as const) : ('business' as const) }];
    });
  }

  private async event(t: StateStore, id: number, at: number, actor: string, kind: TicketEventKind, visibility: Visibility, data: Record<string, unknown> | undefined): Promise<TicketEvent> {
    const clean = data && Object.fromEntries(Object.entries(data).filter(([, v]) => v !== undefined));
    const fields = { at, actor, kind, visibility, data: clean };
    const e: TicketEvent = { id: await t.tickets.insertEvent(id, fields), ...fields };
    if (this.onEvent) await this.onEvent((await this.get(id, t))!, e, await this.events(id, undefined, t), at, t);
    return e;
  }
}

import { randomBytes } from 'node:crypto';
import { badRequest, conflict, notFound } from '../shared/http-errors.js';
import { type Priority, rank } from '../shared/priority.js';
import { type SlaCell, TARGETS, type TargetName, type Tenant } from '../shared/tenant.js';
import type { SlaMark, TicketEventRecord, TicketRecord, TicketRepo } from '../storage/state/tickets.js';
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
  /** Called inside the transaction of every event (customer updates go to the outbox there, SLA points out). */
  onEvent: ((t: Ticket, e: TicketEvent, now: number) => void) | undefined;

  constructor(
    private readonly rows: TicketRepo,
    private readonly tx: <T>(fn: () => T) => T,
  ) {}

  get(id: number): Ticket | undefined {
    return this.rows.get(id) as Ticket | undefined;
  }

  require(id: number, tenant?: string): Ticket {
    const t = this.get(id);
    // Another tenant's ticket is "not found", not "forbidden": ids must not leak across tenants.
    if (!t || (tenant !== undefined && t.tenant !== tenant)) throw notFound(`no ticket ${id}`);
    return t;
  }

  /** A tenant's ticket by its public id; another tenant's is "not found", like one that does not exist. */
  requirePublic(publicId: string, tenant: string): Ticket {
    const t = this.rows.byPublicId(publicId, tenant) as Ticket | undefined;
    if (!t) throw notFound(`no ticket ${publicId}`);
    return t;
  }

  forIncident(incidentId: number): Ticket[] {
    return this.rows.forIncident(incidentId) as Ticket[];
  }

  list(f: { tenant?: string; state?: readonly TicketState[]; priority?: readonly Priority[]; before?: number; limit: number }): Ticket[] {
    return this.rows.list(f) as Ticket[];
  }

  /** Ids of the tickets of a tenant in these states, oldest first: the SLA watch re-reads them. */
  idsIn(states: readonly TicketState[], tenant: string): number[] {
    return this.rows.idsIn(states, tenant);
  }

  /**
   * Every ticket in these states with what its SLA clocks need — its state changes (the events `clocks` reads) and
   * its SLA marks — in three queries, not three per ticket: the SLA watch indexes them all at start.
   */
  slaInputs(states: readonly TicketState[]): { ticket: Ticket; changes: TicketEvent[]; marks: SlaMark[] }[] {
    return this.rows.slaInputs(states) as { ticket: Ticket; changes: TicketEvent[]; marks: SlaMark[] }[];
  }

  /**
   * Marks that an SLA warning or breach of a target at a priority was raised for a ticket; false when it already
   * was. The schema keeps each mark unique, so two checks (or two runners) raise it once.
   */
  markSla(id: number, kind: SlaMark['kind'], target: TargetName, priority: Priority, now: number): boolean {
    return this.rows.mark(id, { kind, target, priority }, now);
  }

  /** The SLA warnings and breaches raised for a ticket. */
  slaMarks(id: number): SlaMark[] {
    return this.rows.marks(id);
  }

  /** Runs `fn` in one transaction of the state db (nested calls join it). */
  atomically<T>(fn: () => T): T {
    return this.tx(fn);
  }

  /** Tickets opened in [from, to), oldest first (reports). */
  openedBetween(from: number, to: number, tenant?: string): Ticket[] {
    return this.rows.openedBetween(from, to, tenant) as Ticket[];
  }

  /** Opens a ticket (once per incident and tenant: a repeated call returns the existing one). */
  open(o: { tenant: string; incidentId?: number; title: string; priority: Priority; actor: string; note?: string }, now: number): { ticket: Ticket; created: boolean } {
    return this.tx(() => {
      if (o.incidentId !== undefined) {
        const existing = this.rows.byIncident(o.incidentId, o.tenant) as Ticket | undefined;
        if (existing) return { ticket: existing, created: false };
      }
      const publicId = `tk_${randomBytes(8).toString('hex')}`;
      const id = this.rows.insert({ publicId, tenant: o.tenant, incidentId: o.incidentId, title: o.title, priority: o.priority, state: 'new' }, now);
      this.event(id, now, o.actor, 'opened', 'customer', { priority: o.priority, incident: o.incidentId, note: o.note });
      return { ticket: this.get(id)!, created: true };
    });
  }

  /**
   * Moves a ticket (conditional: a move the state does not allow is a 409). Resolving a P0/P1 needs a root cause.
   * Leaving waiting_on_customer returns to the state it paused unless another is asked for.
   */
  move(id: number, to: TicketState | 'resume', actor: string, o: { note?: string; rootCause?: string; tenant?: string }, now: number): Ticket {
    return this.tx(() => {
      const t = this.require(id, o.tenant);
      const paused = (this.rows.resumeState(id) as TicketState | undefined) ?? 'new';
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
      this.rows.setState(id, t.state, target, target === 'waiting_on_customer' ? t.state : undefined, rootCause, now);
      this.event(id, now, actor, 'state_changed', 'customer', { from: t.state, to: target, note: o.note, root_cause: o.rootCause });
      return this.get(id)!;
    });
  }

  /** A new priority: the clocks are recomputed from the new targets; the change stays in the history. */
  setPriority(id: number, priority: Priority, actor: string, now: number, tenant?: string): Ticket {
    return this.tx(() => {
      const t = this.require(id, tenant);
      if (t.priority === priority) return t;
      this.rows.setPriority(id, priority, now);
      this.event(id, now, actor, 'priority_changed', 'customer', { from: t.priority, to: priority, raised: rank(priority) < rank(t.priority) });
      return this.get(id)!;
    });
  }

  assign(id: number, assignee: string, actor: string, now: number): Ticket {
    this.require(id);
    this.rows.setAssignee(id, assignee, now);
    this.event(id, now, actor, 'assigned', 'internal', { assignee });
    return this.get(id)!;
  }

  comment(id: number, actor: string, text: string, visibility: Visibility, now: number, tenant?: string): TicketEvent {
    return this.tx(() => {
      this.require(id, tenant);
      this.rows.touch(id, now);
      return this.event(id, now, actor, 'comment', visibility, { text });
    });
  }

  /** Records an event of the system (SLA warnings and breaches). */
  record(id: number, kind: TicketEventKind, data: Record<string, unknown>, now: number): TicketEvent {
    return this.event(id, now, 'qoswatch', kind, 'internal', data);
  }

  events(id: number, visibility?: Visibility): TicketEvent[] {
    return this.rows.events(id, visibility) as TicketEvent[];
  }

  /** The ticket's SLA clocks now, for its tenant's tier, calendar and current priority. */
  clocks(t: Ticket, tenant: Tenant, now: number, events: readonly TicketEvent[] = this.events(t.id)): SlaClock[] {
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

  private event(id: number, at: number, actor: string, kind: TicketEventKind, visibility: Visibility, data: Record<string, unknown> | undefined): TicketEvent {
    const clean = data && Object.fromEntries(Object.entries(data).filter(([, v]) => v !== undefined));
    const fields = { at, actor, kind, visibility, data: clean };
    const e: TicketEvent = { id: this.rows.insertEvent(id, fields), ...fields };
    this.onEvent?.(this.get(id)!, e, at);
    return e;
  }
}

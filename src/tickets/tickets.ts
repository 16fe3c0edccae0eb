import { randomBytes } from 'node:crypto';
import { badRequest, conflict, notFound } from '../shared/http-errors.js';
import { type Priority, rank } from '../shared/priority.js';
import { type SlaCell, TARGETS, type TargetName, type Tenant } from '../shared/tenant.js';
import type { Db } from '../storage/sqlite.js';
import { resolveTarget } from './calendar.js';
import { type ClockState, clockState } from './clock.js';
import { NEXT, type StateChange, type TicketState, clockEvents } from './lifecycle.js';

export interface Ticket {
  id: number;
  /** Random: what the tenant view shows instead of the global sequence (which tells how many tickets everyone has). */
  publicId: string;
  tenant: string;
  incidentId: number | undefined;
  title: string;
  priority: Priority;
  state: TicketState;
  assignee: string | undefined;
  rootCause: string | undefined;
  openedAt: number;
  updatedAt: number;
}

export const TICKET_EVENT_KINDS = ['opened', 'state_changed', 'priority_changed', 'assigned', 'comment', 'sla_warning', 'sla_breach'] as const;
export type TicketEventKind = (typeof TICKET_EVENT_KINDS)[number];
export type Visibility = 'internal' | 'customer';

export interface TicketEvent {
  id: number;
  at: number;
  actor: string;
  kind: TicketEventKind;
  visibility: Visibility;
  data: Record<string, unknown> | undefined;
}

/** An SLA warning or breach raised for a ticket: once per target and priority. */
export interface SlaMark {
  readonly kind: 'sla_warning' | 'sla_breach';
  readonly target: TargetName;
  readonly priority: Priority;
}

/** One target's clock on a ticket, as the API shows it. */
export interface SlaClock extends ClockState {
  readonly target: TargetName;
  readonly targetMs: number;
  readonly calendar: '24x7' | 'business';
}

interface Row {
  id: number;
  public_id: string;
  tenant: string;
  incident_id: number | null;
  title: string;
  priority: Priority;
  state: TicketState;
  resume_state: TicketState | null;
  assignee: string | null;
  root_cause: string | null;
  opened_at: number;
  updated_at: number;
}

type EventRow = Omit<TicketEvent, 'data'> & { ticket_id: number; data: string | null };

const fromEventRow = (r: EventRow): TicketEvent => ({ id: r.id, at: r.at, actor: r.actor, kind: r.kind, visibility: r.visibility, data: r.data ? JSON.parse(r.data) : undefined });

const fromRow = (r: Row): Ticket => ({
  id: r.id, publicId: r.public_id, tenant: r.tenant, incidentId: r.incident_id ?? undefined, title: r.title, priority: r.priority, state: r.state,
  assignee: r.assignee ?? undefined, rootCause: r.root_cause ?? undefined, openedAt: r.opened_at, updatedAt: r.updated_at,
});

/** The forward order of states (waiting_on_customer aside). */
const PROGRESS: readonly TicketState[] = ['new', 'acknowledged', 'mitigated', 'resolved', 'closed'];

/** Priorities whose resolution needs a root-cause note (and gets a postmortem). */
export const NEEDS_ROOT_CAUSE: readonly Priority[] = ['P0', 'P1'];

/**
 * Tickets in SQLite. Every change is an event (who, when, internal or customer-visible); SLA clocks are computed
 * from the state-change events whenever they are read, so pauses and priority changes need no stored counters.
 */
export class Tickets {
  /** Called inside the transaction of every event (customer updates go to the outbox there, SLA points out). */
  onEvent: ((t: Ticket, e: TicketEvent, now: number) => void) | undefined;

  constructor(private readonly db: Db) {}

  get(id: number): Ticket | undefined {
    const r = this.db.prepare('SELECT * FROM tickets WHERE id = ?').get(id) as Row | undefined;
    return r && fromRow(r);
  }

  require(id: number, tenant?: string): Ticket {
    const t = this.get(id);
    // Another tenant's ticket is "not found", not "forbidden": ids must not leak across tenants.
    if (!t || (tenant !== undefined && t.tenant !== tenant)) throw notFound(`no ticket ${id}`);
    return t;
  }

  /** A tenant's ticket by its public id; another tenant's is "not found", like one that does not exist. */
  requirePublic(publicId: string, tenant: string): Ticket {
    const r = this.db.prepare('SELECT * FROM tickets WHERE public_id = ? AND tenant = ?').get(publicId, tenant) as Row | undefined;
    if (!r) throw notFound(`no ticket ${publicId}`);
    return fromRow(r);
  }

  forIncident(incidentId: number): Ticket[] {
    return (this.db.prepare('SELECT * FROM tickets WHERE incident_id = ? ORDER BY id').all(incidentId) as Row[]).map(fromRow);
  }

  list(f: { tenant?: string; state?: readonly TicketState[]; priority?: readonly Priority[]; before?: number; limit: number }): Ticket[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.tenant !== undefined) (where.push('tenant = ?'), args.push(f.tenant));
    if (f.state?.length) (where.push(`state IN (${f.state.map(() => '?').join(', ')})`), args.push(...f.state));
    if (f.priority?.length) (where.push(`priority IN (${f.priority.map(() => '?').join(', ')})`), args.push(...f.priority));
    if (f.before !== undefined) (where.push('id < ?'), args.push(f.before));
    const sql = `SELECT * FROM tickets ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, f.limit) as Row[]).map(fromRow);
  }

  /** Ids of the tickets of a tenant in these states, oldest first: the SLA watch re-reads them. */
  idsIn(states: readonly TicketState[], tenant: string): number[] {
    const sql = `SELECT id FROM tickets WHERE state IN (${states.map(() => '?').join(', ')}) AND tenant = ? ORDER BY id`;
    return (this.db.prepare(sql).all(...states, tenant) as { id: number }[]).map((r) => r.id);
  }

  /**
   * Every ticket in these states with what its SLA clocks need — its state changes (the events `clocks` reads) and
   * its SLA marks — in three queries, not three per ticket: the SLA watch indexes them all at start.
   */
  slaInputs(states: readonly TicketState[]): { ticket: Ticket; changes: TicketEvent[]; marks: SlaMark[] }[] {
    const inStates = `SELECT id FROM tickets WHERE state IN (${states.map(() => '?').join(', ')})`;
    const out = new Map<number, { ticket: Ticket; changes: TicketEvent[]; marks: SlaMark[] }>();
    for (const r of this.db.prepare(`SELECT * FROM tickets WHERE id IN (${inStates}) ORDER BY id`).all(...states) as Row[]) out.set(r.id, { ticket: fromRow(r), changes: [], marks: [] });
    const changes = this.db.prepare(`SELECT * FROM ticket_events WHERE kind = 'state_changed' AND ticket_id IN (${inStates}) ORDER BY id`).all(...states) as EventRow[];
    for (const e of changes) out.get(e.ticket_id)?.changes.push(fromEventRow(e));
    const marks = this.db.prepare(`SELECT ticket_id, kind, target, priority FROM sla_marks WHERE ticket_id IN (${inStates})`).all(...states) as (SlaMark & { ticket_id: number })[];
    for (const { ticket_id, ...m } of marks) out.get(ticket_id)?.marks.push(m);
    return [...out.values()];
  }

  /**
   * Marks that an SLA warning or breach of a target at a priority was raised for a ticket; false when it already
   * was. The schema keeps each mark unique, so two checks (or two runners) raise it once.
   */
  markSla(id: number, kind: SlaMark['kind'], target: TargetName, priority: Priority, now: number): boolean {
    return this.db.prepare('INSERT INTO sla_marks (ticket_id, kind, target, priority, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING').run(id, kind, target, priority, now).changes === 1;
  }

  /** The SLA warnings and breaches raised for a ticket. */
  slaMarks(id: number): SlaMark[] {
    return this.db.prepare('SELECT kind, target, priority FROM sla_marks WHERE ticket_id = ?').all(id) as SlaMark[];
  }

  /** Runs `fn` in one transaction of the state db (nested calls join it). */
  atomically<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** Tickets opened in [from, to), oldest first (reports). */
  openedBetween(from: number, to: number, tenant?: string): Ticket[] {
    const sql = `SELECT * FROM tickets WHERE opened_at >= ? AND opened_at < ? ${tenant === undefined ? '' : 'AND tenant = ?'} ORDER BY opened_at, id`;
    return (this.db.prepare(sql).all(...(tenant === undefined ? [from, to] : [from, to, tenant])) as Row[]).map(fromRow);
  }

  /** Opens a ticket (once per incident and tenant: a repeated call returns the existing one). */
  open(o: { tenant: string; incidentId?: number; title: string; priority: Priority; actor: string; note?: string }, now: number): { ticket: Ticket; created: boolean } {
    return this.db.transaction(() => {
      if (o.incidentId !== undefined) {
        const existing = this.db.prepare('SELECT * FROM tickets WHERE incident_id = ? AND tenant = ?').get(o.incidentId, o.tenant) as Row | undefined;
        if (existing) return { ticket: fromRow(existing), created: false };
      }
      const id = Number(
        this.db
          .prepare("INSERT INTO tickets (public_id, tenant, incident_id, title, priority, state, opened_at, updated_at) VALUES (?, ?, ?, ?, ?, 'new', ?, ?)")
          .run(`tk_${randomBytes(8).toString('hex')}`, o.tenant, o.incidentId ?? null, o.title, o.priority, now, now).lastInsertRowid,
      );
      this.event(id, now, o.actor, 'opened', 'customer', { priority: o.priority, incident: o.incidentId, note: o.note });
      return { ticket: this.get(id)!, created: true };
    })();
  }

  /**
   * Moves a ticket (conditional: a move the state does not allow is a 409). Resolving a P0/P1 needs a root cause.
   * Leaving waiting_on_customer returns to the state it paused unless another is asked for.
   */
  move(id: number, to: TicketState | 'resume', actor: string, o: { note?: string; rootCause?: string; tenant?: string }, now: number): Ticket {
    return this.db.transaction(() => {
      const t = this.require(id, o.tenant);
      const row = this.db.prepare('SELECT resume_state FROM tickets WHERE id = ?').get(id) as { resume_state: TicketState | null };
      const target: TicketState = to === 'resume' ? (row.resume_state ?? 'new') : to;
      if (to === 'resume' && t.state !== 'waiting_on_customer') throw conflict(`ticket ${id} is ${t.state}, not waiting on the customer`);
      if (!NEXT[t.state].includes(target)) throw conflict(`ticket ${id} is ${t.state}: cannot move it to ${target}`);
      // Waiting on the customer is a pause, not a way back: it returns to the paused state or a later one.
      const paused = row.resume_state ?? 'new';
      if (t.state === 'waiting_on_customer' && PROGRESS.indexOf(target) < PROGRESS.indexOf(paused)) {
        throw conflict(`ticket ${id} was ${paused} before waiting on the customer: cannot move it back to ${target}`);
      }
      const rootCause = o.rootCause?.trim() || t.rootCause;
      if (target === 'resolved' && NEEDS_ROOT_CAUSE.includes(t.priority) && !rootCause) {
        throw badRequest(`root_cause: resolving a ${t.priority} ticket needs a root-cause note`);
      }
      this.db
        .prepare('UPDATE tickets SET state = ?, resume_state = ?, root_cause = ?, updated_at = ? WHERE id = ? AND state = ?')
        .run(target, target === 'waiting_on_customer' ? t.state : null, rootCause ?? null, now, id, t.state);
      this.event(id, now, actor, 'state_changed', 'customer', { from: t.state, to: target, note: o.note, root_cause: o.rootCause });
      return this.get(id)!;
    })();
  }

  /** A new priority: the clocks are recomputed from the new targets; the change stays in the history. */
  setPriority(id: number, priority: Priority, actor: string, now: number, tenant?: string): Ticket {
    return this.db.transaction(() => {
      const t = this.require(id, tenant);
      if (t.priority === priority) return t;
      this.db.prepare('UPDATE tickets SET priority = ?, updated_at = ? WHERE id = ?').run(priority, now, id);
      this.event(id, now, actor, 'priority_changed', 'customer', { from: t.priority, to: priority, raised: rank(priority) < rank(t.priority) });
      return this.get(id)!;
    })();
  }

  assign(id: number, assignee: string, actor: string, now: number): Ticket {
    this.require(id);
    this.db.prepare('UPDATE tickets SET assignee = ?, updated_at = ? WHERE id = ?').run(assignee, now, id);
    this.event(id, now, actor, 'assigned', 'internal', { assignee });
    return this.get(id)!;
  }

  comment(id: number, actor: string, text: string, visibility: Visibility, now: number, tenant?: string): TicketEvent {
    return this.db.transaction(() => {
      this.require(id, tenant);
      this.db.prepare('UPDATE tickets SET updated_at = ? WHERE id = ?').run(now, id);
      return this.event(id, now, actor, 'comment', visibility, { text });
    })();
  }

  /** Records an event of the system (SLA warnings and breaches). */
  record(id: number, kind: TicketEventKind, data: Record<string, unknown>, now: number): TicketEvent {
    return this.event(id, now, 'qoswatch', kind, 'internal', data);
  }

  events(id: number, visibility?: Visibility): TicketEvent[] {
    const rows = this.db
      .prepare(`SELECT * FROM ticket_events WHERE ticket_id = ? ${visibility ? 'AND visibility = ?' : ''} ORDER BY id`)
      .all(...(visibility ? [id, visibility] : [id])) as EventRow[];
    return rows.map(fromEventRow);
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
    const eid = Number(this.db.prepare('INSERT INTO ticket_events (ticket_id, at, actor, kind, visibility, data) VALUES (?, ?, ?, ?, ?, ?)').run(id, at, actor, kind, visibility, clean ? JSON.stringify(clean) : null).lastInsertRowid);
    const e: TicketEvent = { id: eid, at, actor, kind, visibility, data: clean };
    this.onEvent?.(this.get(id)!, e, at);
    return e;
  }
}

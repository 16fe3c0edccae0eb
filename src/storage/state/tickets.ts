import type { Priority } from '../../shared/priority.js';
import type { TargetName } from '../../shared/tenant.js';
import type { Db } from '../sqlite.js';

/** A ticket as stored: its state is the tickets area's (tickets/lifecycle.ts), kept here as the name it was given. */
export interface TicketRecord {
  readonly id: number;
  /** Random: what the tenant view shows instead of the global sequence (which tells how many tickets everyone has). */
  readonly publicId: string;
  readonly tenant: string;
  readonly incidentId: number | undefined;
  readonly title: string;
  readonly priority: Priority;
  readonly state: string;
  readonly assignee: string | undefined;
  readonly rootCause: string | undefined;
  readonly openedAt: number;
  readonly updatedAt: number;
}

/** A ticket event as stored: kind and visibility are the tickets area's names, data the JSON it was given. */
export interface TicketEventRecord {
  readonly id: number;
  readonly at: number;
  readonly actor: string;
  readonly kind: string;
  readonly visibility: string;
  readonly data: Record<string, unknown> | undefined;
}

/** An SLA warning or breach raised for a ticket: once per target and priority. */
export interface SlaMark {
  readonly kind: 'sla_warning' | 'sla_breach';
  readonly target: TargetName;
  readonly priority: Priority;
}

/** A ticket with what its SLA clocks are computed from: its state changes and its SLA marks. */
export interface SlaInputRecord {
  readonly ticket: TicketRecord;
  readonly changes: TicketEventRecord[];
  readonly marks: SlaMark[];
}

interface Row {
  id: number;
  public_id: string;
  tenant: string;
  incident_id: number | null;
  title: string;
  priority: Priority;
  state: string;
  resume_state: string | null;
  assignee: string | null;
  root_cause: string | null;
  opened_at: number;
  updated_at: number;
}

type EventRow = Omit<TicketEventRecord, 'data'> & { ticket_id: number; data: string | null };

const fromEventRow = (r: EventRow): TicketEventRecord => ({ id: r.id, at: r.at, actor: r.actor, kind: r.kind, visibility: r.visibility, data: r.data ? JSON.parse(r.data) : undefined });

const fromRow = (r: Row): TicketRecord => ({
  id: r.id, publicId: r.public_id, tenant: r.tenant, incidentId: r.incident_id ?? undefined, title: r.title, priority: r.priority, state: r.state,
  assignee: r.assignee ?? undefined, rootCause: r.root_cause ?? undefined, openedAt: r.opened_at, updatedAt: r.updated_at,
});

const placeholders = (values: readonly unknown[]) => values.map(() => '?').join(', ');

/**
 * The tickets table with the rows that hang off a ticket: its events (ticket_events, append-only: the history the
 * SLA clocks are computed from) and its SLA marks (sla_marks, unique per ticket, kind, target and priority).
 */
export class TicketRepo {
  constructor(private readonly db: Db) {}

  get(id: number): TicketRecord | undefined {
    const r = this.db.prepare('SELECT * FROM tickets WHERE id = ?').get(id) as Row | undefined;
    return r && fromRow(r);
  }

  byPublicId(publicId: string, tenant: string): TicketRecord | undefined {
    const r = this.db.prepare('SELECT * FROM tickets WHERE public_id = ? AND tenant = ?').get(publicId, tenant) as Row | undefined;
    return r && fromRow(r);
  }

  /** The ticket of an incident for one tenant. */
  byIncident(incidentId: number, tenant: string): TicketRecord | undefined {
    const r = this.db.prepare('SELECT * FROM tickets WHERE incident_id = ? AND tenant = ?').get(incidentId, tenant) as Row | undefined;
    return r && fromRow(r);
  }

  /** Every tenant's ticket of an incident, oldest first. */
  forIncident(incidentId: number): TicketRecord[] {
    return (this.db.prepare('SELECT * FROM tickets WHERE incident_id = ? ORDER BY id').all(incidentId) as Row[]).map(fromRow);
  }

  /** Newest first; `before` is an id (paging). */
  list(f: { tenant?: string; state?: readonly string[]; priority?: readonly Priority[]; before?: number; limit: number }): TicketRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.tenant !== undefined) (where.push('tenant = ?'), args.push(f.tenant));
    if (f.state?.length) (where.push(`state IN (${placeholders(f.state)})`), args.push(...f.state));
    if (f.priority?.length) (where.push(`priority IN (${placeholders(f.priority)})`), args.push(...f.priority));
    if (f.before !== undefined) (where.push('id < ?'), args.push(f.before));
    const sql = `SELECT * FROM tickets ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, f.limit) as Row[]).map(fromRow);
  }

  /** Ids of the tickets of a tenant in these states, oldest first. */
  idsIn(states: readonly string[], tenant: string): number[] {
    const sql = `SELECT id FROM tickets WHERE state IN (${placeholders(states)}) AND tenant = ? ORDER BY id`;
    return (this.db.prepare(sql).all(...states, tenant) as { id: number }[]).map((r) => r.id);
  }

  /** Tickets opened in [from, to), oldest first. */
  openedBetween(from: number, to: number, tenant?: string): TicketRecord[] {
    const sql = `SELECT * FROM tickets WHERE opened_at >= ? AND opened_at < ? ${tenant === undefined ? '' : 'AND tenant = ?'} ORDER BY opened_at, id`;
    return (this.db.prepare(sql).all(...(tenant === undefined ? [from, to] : [from, to, tenant])) as Row[]).map(fromRow);
  }

  /**
   * Every ticket in these states with its state-change events and its SLA marks, in three queries, not three per
   * ticket.
   */
  slaInputs(states: readonly string[]): SlaInputRecord[] {
    const inStates = `SELECT id FROM tickets WHERE state IN (${placeholders(states)})`;
    const out = new Map<number, SlaInputRecord>();
    for (const r of this.db.prepare(`SELECT * FROM tickets WHERE id IN (${inStates}) ORDER BY id`).all(...states) as Row[]) out.set(r.id, { ticket: fromRow(r), changes: [], marks: [] });
    const changes = this.db.prepare(`SELECT * FROM ticket_events WHERE kind = 'state_changed' AND ticket_id IN (${inStates}) ORDER BY id`).all(...states) as EventRow[];
    for (const e of changes) out.get(e.ticket_id)?.changes.push(fromEventRow(e));
    const marks = this.db.prepare(`SELECT ticket_id, kind, target, priority FROM sla_marks WHERE ticket_id IN (${inStates})`).all(...states) as (SlaMark & { ticket_id: number })[];
    for (const { ticket_id, ...m } of marks) out.get(ticket_id)?.marks.push(m);
    return [...out.values()];
  }

  /** The state a ticket waiting on the customer paused (none otherwise). */
  resumeState(id: number): string | undefined {
    const r = this.db.prepare('SELECT resume_state FROM tickets WHERE id = ?').get(id) as { resume_state: string | null } | undefined;
    return r?.resume_state ?? undefined;
  }

  insert(t: { publicId: string; tenant: string; incidentId: number | undefined; title: string; priority: Priority; state: string }, now: number): number {
    return Number(
      this.db
        .prepare('INSERT INTO tickets (public_id, tenant, incident_id, title, priority, state, opened_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(t.publicId, t.tenant, t.incidentId ?? null, t.title, t.priority, t.state, now, now).lastInsertRowid,
    );
  }

  /** Moves a ticket that is still in state `from`. */
  setState(id: number, from: string, to: string, resumeState: string | undefined, rootCause: string | undefined, now: number): void {
    this.db
      .prepare('UPDATE tickets SET state = ?, resume_state = ?, root_cause = ?, updated_at = ? WHERE id = ? AND state = ?')
      .run(to, resumeState ?? null, rootCause ?? null, now, id, from);
  }

  setPriority(id: number, priority: Priority, now: number): void {
    this.db.prepare('UPDATE tickets SET priority = ?, updated_at = ? WHERE id = ?').run(priority, now, id);
  }

  setAssignee(id: number, assignee: string, now: number): void {
    this.db.prepare('UPDATE tickets SET assignee = ?, updated_at = ? WHERE id = ?').run(assignee, now, id);
  }

  /** The ticket changed without a column of its own changing (a comment). */
  touch(id: number, now: number): void {
    this.db.prepare('UPDATE tickets SET updated_at = ? WHERE id = ?').run(now, id);
  }

  /** A ticket's events, oldest first; only those of one visibility if given. */
  events(id: number, visibility?: string): TicketEventRecord[] {
    const rows = this.db
      .prepare(`SELECT * FROM ticket_events WHERE ticket_id = ? ${visibility ? 'AND visibility = ?' : ''} ORDER BY id`)
      .all(...(visibility ? [id, visibility] : [id])) as EventRow[];
    return rows.map(fromEventRow);
  }

  /** Appends an event to a ticket's history; returns its id. */
  insertEvent(id: number, e: Omit<TicketEventRecord, 'id'>): number {
    return Number(
      this.db
        .prepare('INSERT INTO ticket_events (ticket_id, at, actor, kind, visibility, data) VALUES (?, ?, ?, ?, ?, ?)')
        .run(id, e.at, e.actor, e.kind, e.visibility, e.data ? JSON.stringify(e.data) : null).lastInsertRowid,
    );
  }

  /** False when the mark was there already (the schema keeps each mark unique). */
  mark(id: number, m: SlaMark, now: number): boolean {
    return this.db.prepare('INSERT INTO sla_marks (ticket_id, kind, target, priority, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING').run(id, m.kind, m.target, m.priority, now).changes === 1;
  }

  marks(id: number): SlaMark[] {
    return this.db.prepare('SELECT kind, target, priority FROM sla_marks WHERE ticket_id = ?').all(id) as SlaMark[];
  }
}

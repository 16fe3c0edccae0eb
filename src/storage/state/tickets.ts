import type { Priority } from '../../shared/priority.js';
import type { TargetName } from '../../shared/tenant.js';
import { type Sql, marks } from './sql.js';

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

/**
 * The tickets table with the rows that hang off a ticket: its events (ticket_events, append-only: the history the
 * SLA clocks are computed from) and its SLA marks (sla_marks, unique per ticket, kind, target and priority).
 */
export class TicketRepo {
  constructor(private readonly sql: Sql) {}

  async get(id: number): Promise<TicketRecord | undefined> {
    const r = await this.sql.get<Row>('SELECT * FROM tickets WHERE id = ?', id);
    return r && fromRow(r);
  }

  async byPublicId(publicId: string, tenant: string): Promise<TicketRecord | undefined> {
    const r = await this.sql.get<Row>('SELECT * FROM tickets WHERE public_id = ? AND tenant = ?', publicId, tenant);
    return r && fromRow(r);
  }

  /** The ticket of an incident for one tenant. */
  async byIncident(incidentId: number, tenant: string): Promise<TicketRecord | undefined> {
    const r = await this.sql.get<Row>('SELECT * FROM tickets WHERE incident_id = ? AND tenant = ?', incidentId, tenant);
    return r && fromRow(r);
  }

  /** Every tenant's ticket of an incident, oldest first. */
  async forIncident(incidentId: number): Promise<TicketRecord[]> {
    return (await this.sql.all<Row>('SELECT * FROM tickets WHERE incident_id = ? ORDER BY id', incidentId)).map(fromRow);
  }

  /** Newest first; `before` is an id (paging). */
  async list(f: { tenant?: string; state?: readonly string[]; priority?: readonly Priority[]; before?: number; limit: number }): Promise<TicketRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.tenant !== undefined) (where.push('tenant = ?'), args.push(f.tenant));
    if (f.state?.length) (where.push(`state IN (${marks(f.state)})`), args.push(...f.state));
    if (f.priority?.length) (where.push(`priority IN (${marks(f.priority)})`), args.push(...f.priority));
    if (f.before !== undefined) (where.push('id < ?'), args.push(f.before));
    const sql = `SELECT * FROM tickets ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return (await this.sql.all<Row>(sql, ...args, f.limit)).map(fromRow);
  }

  /** Ids of the tickets of a tenant in these states, oldest first. */
  async idsIn(states: readonly string[], tenant: string): Promise<number[]> {
    // An empty IN () is SQLite's (nothing matches), not PostgreSQL's.
    if (states.length === 0) return [];
    const sql = `SELECT id FROM tickets WHERE state IN (${marks(states)}) AND tenant = ? ORDER BY id`;
    return (await this.sql.all<{ id: number }>(sql, ...states, tenant)).map((r) => r.id);
  }

  /** Tickets opened in [from, to), oldest first. */
  async openedBetween(from: number, to: number, tenant?: string): Promise<TicketRecord[]> {
    const sql = `SELECT * FROM tickets WHERE opened_at >= ? AND opened_at < ? ${tenant === undefined ? '' : 'AND tenant = ?'} ORDER BY opened_at, id`;
    return (await this.sql.all<Row>(sql, ...(tenant === undefined ? [from, to] : [from, to, tenant]))).map(fromRow);
  }

  /**
   * Every ticket in these states with its state-change events and its SLA marks, in three queries, not three per
   * ticket. Outside a transaction a ticket may change state between them: events and marks of tickets not in the
   * first answer are left out, and a ticket that left these states in between keeps its ticket row.
   */
  async slaInputs(states: readonly string[]): Promise<SlaInputRecord[]> {
    // An empty IN () is SQLite's (nothing matches), not PostgreSQL's.
    if (states.length === 0) return [];
    const inStates = `SELECT id FROM tickets WHERE state IN (${marks(states)})`;
    const out = new Map<number, SlaInputRecord>();
    for (const r of await this.sql.all<Row>(`SELECT * FROM tickets WHERE id IN (${inStates}) ORDER BY id`, ...states)) out.set(r.id, { ticket: fromRow(r), changes: [], marks: [] });
    const changes = await this.sql.all<EventRow>(`SELECT * FROM ticket_events WHERE kind = 'state_changed' AND ticket_id IN (${inStates}) ORDER BY id`, ...states);
    for (const e of changes) out.get(e.ticket_id)?.changes.push(fromEventRow(e));
    const slaMarks = await this.sql.all<SlaMark & { ticket_id: number }>(`SELECT ticket_id, kind, target, priority FROM sla_marks WHERE ticket_id IN (${inStates})`, ...states);
    for (const { ticket_id, ...m } of slaMarks) out.get(ticket_id)?.marks.push(m);
    return [...out.values()];
  }

  /** The state a ticket waiting on the customer paused (none otherwise). */
  async resumeState(id: number): Promise<string | undefined> {
    const r = await this.sql.get<{ resume_state: string | null }>('SELECT resume_state FROM tickets WHERE id = ?', id);
    return r?.resume_state ?? undefined;
  }

  async insert(t: { publicId: string; tenant: string; incidentId: number | undefined; title: string; priority: Priority; state: string }, now: number): Promise<number> {
    const r = await this.sql.get<{ id: number }>(
      'INSERT INTO tickets (public_id, tenant, incident_id, title, priority, state, opened_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id',
      t.publicId, t.tenant, t.incidentId ?? null, t.title, t.priority, t.state, now, now,
    );
    return r!.id;
  }

  /** Moves a ticket that is still in state `from`. */
  async setState(id: number, from: string, to: string, resumeState: string | undefined, rootCause: string | undefined, now: number): Promise<void> {
    await this.sql.run('UPDATE tickets SET state = ?, resume_state = ?, root_cause = ?, updated_at = ? WHERE id = ? AND state = ?', to, resumeState ?? null, rootCause ?? null, now, id, from);
  }

  async setPriority(id: number, priority: Priority, now: number): Promise<void> {
    await this.sql.run('UPDATE tickets SET priority = ?, updated_at = ? WHERE id = ?', priority, now, id);
  }

  async setAssignee(id: number, assignee: string, now: number): Promise<void> {
    await this.sql.run('UPDATE tickets SET assignee = ?, updated_at = ? WHERE id = ?', assignee, now, id);
  }

  /** The ticket changed without a column of its own changing (a comment). */
  async touch(id: number, now: number): Promise<void> {
    await this.sql.run('UPDATE tickets SET updated_at = ? WHERE id = ?', now, id);
  }

  /** A ticket's events, oldest first; only those of one visibility if given. */
  async events(id: number, visibility?: string): Promise<TicketEventRecord[]> {
    const rows = await this.sql.all<EventRow>(`SELECT * FROM ticket_events WHERE ticket_id = ? ${visibility ? 'AND visibility = ?' : ''} ORDER BY id`, ...(visibility ? [id, visibility] : [id]));
    return rows.map(fromEventRow);
  }

  /** Appends an event to a ticket's history; returns its id. */
  async insertEvent(id: number, e: Omit<TicketEventRecord, 'id'>): Promise<number> {
    const r = await this.sql.get<{ id: number }>(
      'INSERT INTO ticket_events (ticket_id, at, actor, kind, visibility, data) VALUES (?, ?, ?, ?, ?, ?) RETURNING id',
      id, e.at, e.actor, e.kind, e.visibility, e.data ? JSON.stringify(e.data) : null,
    );
    return r!.id;
  }

  /** False when the mark was there already (the schema keeps each mark unique). */
  async mark(id: number, m: SlaMark, now: number): Promise<boolean> {
    return (
      (await this.sql.run(
        'INSERT INTO sla_marks (ticket_id, kind, target, priority, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (ticket_id, kind, target, priority) DO NOTHING',
        id, m.kind, m.target, m.priority, now,
      )) === 1
    );
  }

  marks(id: number): Promise<SlaMark[]> {
    return this.sql.all<SlaMark>('SELECT kind, target, priority FROM sla_marks WHERE ticket_id = ?', id);
  }
}

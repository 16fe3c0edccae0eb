import type { Sql } from './sql.js';

/** One configuration change: who, what, and the thing before and after (JSON; undefined when it did not exist). */
export interface AuditRecord {
  readonly id: number;
  readonly at: number;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly before: unknown;
  readonly after: unknown;
}

interface Row { id: number; at: number; actor: string; action: string; target: string; before: string | null; after: string | null }

const parse = (v: string | null): unknown => (v === null ? undefined : JSON.parse(v));
const fromRow = (r: Row): AuditRecord => ({ id: r.id, at: r.at, actor: r.actor, action: r.action, target: r.target, before: parse(r.before), after: parse(r.after) });

/** The audit_log table: append only. */
export class AuditRepo {
  constructor(private readonly sql: Sql) {}

  async insert(e: Omit<AuditRecord, 'id'>): Promise<AuditRecord> {
    const r = await this.sql.get<Row>(
      'INSERT INTO audit_log (at, actor, action, target, before, after) VALUES (?, ?, ?, ?, ?, ?) RETURNING *',
      e.at, e.actor, e.action, e.target, e.before === undefined ? null : JSON.stringify(e.before), e.after === undefined ? null : JSON.stringify(e.after),
    );
    return fromRow(r!);
  }

  /** Newest first: up to `limit` entries with ids below `before`, optionally of one target or action prefix. */
  async list(q: { before?: number; limit: number; target?: string; action?: string }): Promise<AuditRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.before !== undefined) where.push('id < ?'), params.push(q.before);
    if (q.target !== undefined) where.push('target = ?'), params.push(q.target);
    if (q.action !== undefined) where.push("action LIKE ? ESCAPE '\\'"), params.push(`${q.action.replace(/[%_\\]/g, '\\$&')}%`);
    const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return (await this.sql.all<Row>(sql, ...params, q.limit)).map(fromRow);
  }
}

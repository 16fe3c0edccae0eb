import type { Sql } from './sql.js';

/** An alert source as stored: its kind and config are the sources area's (JSON); only its secret's SHA-256 is kept. */
export interface SourceRecord {
  readonly id: string;
  readonly name: string;
  readonly kind: string;
  readonly config: unknown;
  readonly sha256: string;
  readonly createdBy: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** When it last sent something accepted (a payload, a heartbeat). */
  readonly seenAt: number | undefined;
}

interface Row { id: string; name: string; kind: string; config: string; sha256: string; created_by: string; created_at: number; updated_at: number; seen_at: number | null }

const fromRow = (r: Row): SourceRecord => ({
  id: r.id, name: r.name, kind: r.kind, config: JSON.parse(r.config) as unknown, sha256: r.sha256, createdBy: r.created_by,
  createdAt: Number(r.created_at), updatedAt: Number(r.updated_at), seenAt: r.seen_at === null ? undefined : Number(r.seen_at),
});

/** The alert_sources table; a deleted source keeps its row. */
export class SourceRepo {
  constructor(private readonly sql: Sql) {}

  async insert(s: Omit<SourceRecord, 'updatedAt' | 'seenAt'>): Promise<void> {
    await this.sql.run(
      'INSERT INTO alert_sources (id, name, kind, config, sha256, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      s.id, s.name, s.kind, JSON.stringify(s.config), s.sha256, s.createdBy, s.createdAt, s.createdAt,
    );
  }

  async get(id: string): Promise<SourceRecord | undefined> {
    const r = await this.sql.get<Row>('SELECT * FROM alert_sources WHERE id = ? AND deleted_at IS NULL', id);
    return r && fromRow(r);
  }

  async byName(name: string): Promise<SourceRecord | undefined> {
    const r = await this.sql.get<Row>('SELECT * FROM alert_sources WHERE name = ? AND deleted_at IS NULL', name);
    return r && fromRow(r);
  }

  async bySecret(sha256: string): Promise<SourceRecord | undefined> {
    const r = await this.sql.get<Row>('SELECT * FROM alert_sources WHERE sha256 = ? AND deleted_at IS NULL', sha256);
    return r && fromRow(r);
  }

  /** Live sources, of one kind when given, oldest first. */
  async list(kind?: string): Promise<SourceRecord[]> {
    const rows = kind === undefined
      ? await this.sql.all<Row>('SELECT * FROM alert_sources WHERE deleted_at IS NULL ORDER BY created_at, id')
      : await this.sql.all<Row>('SELECT * FROM alert_sources WHERE kind = ? AND deleted_at IS NULL ORDER BY created_at, id', kind);
    return rows.map(fromRow);
  }

  /** False when there is no live source `id`. */
  async update(id: string, changes: { name?: string; config?: unknown; sha256?: string }, now: number): Promise<boolean> {
    const sets: string[] = ['updated_at = ?'];
    const params: unknown[] = [now];
    if (changes.name !== undefined) sets.push('name = ?') && params.push(changes.name);
    if (changes.config !== undefined) sets.push('config = ?') && params.push(JSON.stringify(changes.config));
    if (changes.sha256 !== undefined) sets.push('sha256 = ?') && params.push(changes.sha256);
    return (await this.sql.run(`UPDATE alert_sources SET ${sets.join(', ')} WHERE id = ? AND deleted_at IS NULL`, ...params, id)) > 0;
  }

  async seen(id: string, now: number): Promise<void> {
    await this.sql.run('UPDATE alert_sources SET seen_at = ? WHERE id = ?', now, id);
  }

  /** False when there is no live source `id`. */
  async remove(id: string, now: number): Promise<boolean> {
    return (await this.sql.run('UPDATE alert_sources SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL', now, id)) > 0;
  }
}

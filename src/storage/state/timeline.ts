import type { TimelineRecord } from './incidents.js';
import { MetaRepo } from './meta.js';
import type { Sql } from './sql.js';

/**
 * Where the followers of the incident timeline are (a cursor per consumer: the id of the last entry it handled,
 * kept in meta), and the entries they read after it.
 */
export class TimelineCursors {
  private readonly meta: MetaRepo;

  constructor(private readonly sql: Sql) {
    this.meta = new MetaRepo(sql);
  }

  /** The id of the newest timeline entry (0 when there is none). */
  async lastId(): Promise<number> {
    return (await this.sql.get<{ id: number | null }>('SELECT max(id) AS id FROM timeline'))?.id ?? 0;
  }

  /** Up to `limit` entries after `id`, oldest first, with their incident. */
  async entriesAfter(id: number, limit: number): Promise<(TimelineRecord & { incidentId: number })[]> {
    const rows = await this.sql.all<{ id: number; incidentId: number; at: number; actor: string; kind: string; data: string | null }>(
      'SELECT id, incident_id AS "incidentId", at, actor, kind, data FROM timeline WHERE id > ? ORDER BY id LIMIT ?',
      id, limit,
    );
    return rows.map((r) => ({ ...r, data: r.data ? (JSON.parse(r.data) as Record<string, unknown>) : undefined }));
  }

  /** A consumer's cursor, undefined before its first start. */
  async get(consumer: string): Promise<number | undefined> {
    const saved = await this.meta.get(key(consumer));
    return saved === undefined ? undefined : Number(saved);
  }

  set(consumer: string, id: number): Promise<void> {
    return this.meta.set(key(consumer), String(id));
  }

  /** Moves a consumer's cursor to `id` unless it is there or past it already. */
  async advance(consumer: string, id: number): Promise<void> {
    if (((await this.get(consumer)) ?? 0) < id) await this.set(consumer, id);
  }
}

const key = (consumer: string) => `timeline_cursor:${consumer}`;

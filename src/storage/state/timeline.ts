import type { Db } from '../sqlite.js';
import { getMeta, setMeta } from '../state-db.js';

/**
 * Where the followers of the incident timeline are (a cursor per consumer: the id of the last entry it handled),
 * and the timeline's ids they read to catch up.
 */
export class TimelineCursors {
  constructor(private readonly db: Db) {}

  /** The id of the newest timeline entry (0 when there is none). */
  lastId(): number {
    return (this.db.prepare('SELECT max(id) AS id FROM timeline').get() as { id: number | null }).id ?? 0;
  }

  /** The entries after `id`, oldest first. */
  after(id: number): { id: number; incidentId: number }[] {
    return (this.db.prepare('SELECT id, incident_id FROM timeline WHERE id > ? ORDER BY id').all(id) as { id: number; incident_id: number }[]).map((r) => ({ id: r.id, incidentId: r.incident_id }));
  }

  /** A consumer's cursor, undefined before its first start. */
  get(consumer: string): number | undefined {
    const saved = getMeta(this.db, key(consumer));
    return saved === undefined ? undefined : Number(saved);
  }

  set(consumer: string, id: number): void {
    setMeta(this.db, key(consumer), String(id));
  }

  /** Moves a consumer's cursor to `id` unless it is there or past it already. */
  advance(consumer: string, id: number): void {
    if ((this.get(consumer) ?? 0) < id) this.set(consumer, id);
  }
}

const key = (consumer: string) => `timeline_cursor:${consumer}`;

import type { Db } from '../sqlite.js';

/** An on-call override made through the API: `person` covers `schedule` from `start` to `end`. */
export interface OverrideRecord {
  readonly id: number;
  readonly schedule: string;
  readonly person: string;
  readonly start: number;
  readonly end: number;
  readonly comment: string | undefined;
  readonly createdBy: string;
  readonly createdAt: number;
}

interface Row {
  id: number;
  schedule: string;
  person: string;
  start_at: number;
  end_at: number;
  comment: string | null;
  created_by: string;
  created_at: number;
}

const fromRow = (r: Row): OverrideRecord => ({
  id: r.id, schedule: r.schedule, person: r.person, start: r.start_at, end: r.end_at, comment: r.comment ?? undefined, createdBy: r.created_by, createdAt: r.created_at,
});

/** The oncall_overrides table; a deleted override keeps its row (who and when) for the record. */
export class OverrideRepo {
  constructor(private readonly db: Db) {}

  /** Every override not deleted, oldest first. */
  live(): OverrideRecord[] {
    return (this.db.prepare('SELECT * FROM oncall_overrides WHERE deleted_at IS NULL ORDER BY id').all() as Row[]).map(fromRow);
  }

  insert(o: Omit<OverrideRecord, 'id'>): OverrideRecord {
    const id = Number(
      this.db
        .prepare('INSERT INTO oncall_overrides (schedule, person, start_at, end_at, comment, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(o.schedule, o.person, o.start, o.end, o.comment ?? null, o.createdBy, o.createdAt).lastInsertRowid,
    );
    return fromRow(this.db.prepare('SELECT * FROM oncall_overrides WHERE id = ?').get(id) as Row);
  }

  /** False when the schedule has no live override `id`. */
  delete(schedule: string, id: number, actor: string, now: number): boolean {
    return this.db.prepare('UPDATE oncall_overrides SET deleted_by = ?, deleted_at = ? WHERE id = ? AND schedule = ? AND deleted_at IS NULL').run(actor, now, id, schedule).changes > 0;
  }
}

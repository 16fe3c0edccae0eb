import type { Sql } from './sql.js';

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
  constructor(private readonly sql: Sql) {}

  /** Every override not deleted, oldest first. */
  async live(): Promise<OverrideRecord[]> {
    return (await this.sql.all<Row>('SELECT * FROM oncall_overrides WHERE deleted_at IS NULL ORDER BY id')).map(fromRow);
  }

  /** The override as stored (its id given by the table). */
  async insert(o: Omit<OverrideRecord, 'id'>): Promise<OverrideRecord> {
    const r = await this.sql.get<Row>(
      'INSERT INTO oncall_overrides (schedule, person, start_at, end_at, comment, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *',
      o.schedule, o.person, o.start, o.end, o.comment ?? null, o.createdBy, o.createdAt,
    );
    return fromRow(r!);
  }

  /** False when the schedule has no live override `id`. */
  async delete(schedule: string, id: number, actor: string, now: number): Promise<boolean> {
    return (await this.sql.run('UPDATE oncall_overrides SET deleted_by = ?, deleted_at = ? WHERE id = ? AND schedule = ? AND deleted_at IS NULL', actor, now, id, schedule)) > 0;
  }
}

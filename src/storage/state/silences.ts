import type { Sql } from './sql.js';

/**
 * A silence or maintenance window as stored: matchers and recurrence are the incidents area's (silence-match.ts),
 * kept here as the JSON they were given.
 */
export interface SilenceRecord {
  readonly id: number;
  readonly matchers: unknown;
  readonly startsAt: number;
  readonly endsAt: number | undefined;
  readonly recurrence: unknown;
  readonly comment: string;
  readonly createdBy: string;
  readonly createdAt: number;
  readonly updatedBy: string | undefined;
  readonly updatedAt: number | undefined;
  readonly deletedBy: string | undefined;
  readonly deletedAt: number | undefined;
}

/** What a silence is made or edited with. */
export interface SilenceFields {
  readonly matchers: unknown;
  readonly startsAt: number;
  readonly endsAt: number | undefined;
  readonly recurrence: unknown;
  readonly comment: string;
}

interface Row {
  id: number;
  matchers: string;
  starts_at: number;
  ends_at: number | null;
  recurrence: string | null;
  comment: string;
  created_by: string;
  created_at: number;
  updated_by: string | null;
  updated_at: number | null;
  deleted_by: string | null;
  deleted_at: number | null;
}

const fromRow = (r: Row): SilenceRecord => ({
  id: r.id,
  matchers: JSON.parse(r.matchers) as unknown,
  startsAt: r.starts_at,
  endsAt: r.ends_at ?? undefined,
  recurrence: r.recurrence ? (JSON.parse(r.recurrence) as unknown) : undefined,
  comment: r.comment,
  createdBy: r.created_by,
  createdAt: r.created_at,
  updatedBy: r.updated_by ?? undefined,
  updatedAt: r.updated_at ?? undefined,
  deletedBy: r.deleted_by ?? undefined,
  deletedAt: r.deleted_at ?? undefined,
});

const recurrenceJson = (f: SilenceFields) => (f.recurrence === undefined ? null : JSON.stringify(f.recurrence));

/** The silences table; a deleted silence keeps its row (who and when), so why nobody was paged stays readable. */
export class SilenceRepo {
  constructor(private readonly sql: Sql) {}

  /** Newest first. */
  async list(includeDeleted: boolean): Promise<SilenceRecord[]> {
    const rows = await this.sql.all<Row>(`SELECT * FROM silences ${includeDeleted ? '' : 'WHERE deleted_at IS NULL'} ORDER BY id DESC`);
    return rows.map(fromRow);
  }

  /** A silence not deleted. */
  async get(id: number): Promise<SilenceRecord | undefined> {
    const r = await this.sql.get<Row>('SELECT * FROM silences WHERE id = ? AND deleted_at IS NULL', id);
    return r && fromRow(r);
  }

  async insert(f: SilenceFields, actor: string, now: number): Promise<number> {
    const r = await this.sql.get<{ id: number }>(
      'INSERT INTO silences (matchers, starts_at, ends_at, recurrence, comment, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id',
      JSON.stringify(f.matchers), f.startsAt, f.endsAt ?? null, recurrenceJson(f), f.comment, actor, now,
    );
    return r!.id;
  }

  /** False when there is no silence `id` (or it was deleted). */
  async update(id: number, f: SilenceFields, actor: string, now: number): Promise<boolean> {
    return (
      (await this.sql.run(
        'UPDATE silences SET matchers = ?, starts_at = ?, ends_at = ?, recurrence = ?, comment = ?, updated_by = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL',
        JSON.stringify(f.matchers), f.startsAt, f.endsAt ?? null, recurrenceJson(f), f.comment, actor, now, id,
      )) > 0
    );
  }

  /** False when there is no silence `id` (or it was deleted already). */
  async delete(id: number, actor: string, now: number): Promise<boolean> {
    return (await this.sql.run('UPDATE silences SET deleted_by = ?, deleted_at = ? WHERE id = ? AND deleted_at IS NULL', actor, now, id)) > 0;
  }
}

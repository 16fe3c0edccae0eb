import type { Sql } from './sql.js';

/** Whose shifts a calendar feed shows: a schedule's (every person on it) or a person's (on every schedule). */
export type CalendarFeedKind = 'schedule' | 'person';

/** A calendar feed of on-call shifts: only its secret's SHA-256 is kept. */
export interface CalendarFeedRecord {
  readonly id: string;
  readonly kind: CalendarFeedKind;
  /** The schedule's or the person's id. */
  readonly target: string;
  readonly name: string | undefined;
  readonly sha256: string;
  readonly createdBy: string;
  readonly createdAt: number;
}

interface Row { id: string; kind: string; target: string; name: string | null; sha256: string; created_by: string; created_at: number }

const fromRow = (r: Row): CalendarFeedRecord => ({
  id: r.id, kind: r.kind as CalendarFeedKind, target: r.target, name: r.name ?? undefined, sha256: r.sha256, createdBy: r.created_by, createdAt: r.created_at,
});

/** The calendar_feeds table; a revoked feed keeps its row. */
export class CalendarFeedRepo {
  constructor(private readonly sql: Sql) {}

  async insert(f: CalendarFeedRecord): Promise<void> {
    await this.sql.run(
      'INSERT INTO calendar_feeds (id, kind, target, name, sha256, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      f.id, f.kind, f.target, f.name ?? null, f.sha256, f.createdBy, f.createdAt,
    );
  }

  async bySecret(sha256: string): Promise<CalendarFeedRecord | undefined> {
    const r = await this.sql.get<Row>('SELECT * FROM calendar_feeds WHERE sha256 = ? AND revoked_at IS NULL', sha256);
    return r && fromRow(r);
  }

  async get(id: string): Promise<CalendarFeedRecord | undefined> {
    const r = await this.sql.get<Row>('SELECT * FROM calendar_feeds WHERE id = ? AND revoked_at IS NULL', id);
    return r && fromRow(r);
  }

  /** The live feeds, oldest first. */
  async list(): Promise<CalendarFeedRecord[]> {
    return (await this.sql.all<Row>('SELECT * FROM calendar_feeds WHERE revoked_at IS NULL ORDER BY created_at, id')).map(fromRow);
  }

  /** False when there is no live feed `id`. */
  async revoke(id: string, now: number): Promise<boolean> {
    return (await this.sql.run('UPDATE calendar_feeds SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', now, id)) > 0;
  }
}

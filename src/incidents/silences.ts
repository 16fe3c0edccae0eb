import { notFound } from '../shared/http-errors.js';
import type { Db } from '../storage/sqlite.js';
import { type AlertSubject, type Matchers, type Recurrence, type SilenceRule, activeAt, matches, nextChange } from './silence-match.js';

export interface Silence extends SilenceRule {
  readonly id: number;
  readonly comment: string;
  readonly createdBy: string;
  readonly createdAt: number;
  readonly updatedBy: string | undefined;
  readonly updatedAt: number | undefined;
  readonly deletedBy: string | undefined;
  readonly deletedAt: number | undefined;
}

export interface SilenceInput {
  matchers: Matchers;
  startsAt: number;
  endsAt: number | undefined;
  recurrence: Recurrence | undefined;
  comment: string;
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

const fromRow = (r: Row): Silence => ({
  id: r.id,
  matchers: JSON.parse(r.matchers) as Matchers,
  startsAt: r.starts_at,
  endsAt: r.ends_at ?? undefined,
  recurrence: r.recurrence ? (JSON.parse(r.recurrence) as Recurrence) : undefined,
  comment: r.comment,
  createdBy: r.created_by,
  createdAt: r.created_at,
  updatedBy: r.updated_by ?? undefined,
  updatedAt: r.updated_at ?? undefined,
  deletedBy: r.deleted_by ?? undefined,
  deletedAt: r.deleted_at ?? undefined,
});

/**
 * Silences and maintenance windows (a maintenance window is a silence with a recurrence). Deleting keeps the row
 * (who and when) so the history of why nobody was paged stays readable. Live ones are cached for matching.
 */
export class Silences {
  private live: Silence[] = [];
  /** When coverage can next change by itself (a start or end instant); -Infinity after an edit: now. */
  private nextCheck = -Infinity;

  constructor(private readonly db: Db) {
    this.reload();
  }

  list(includeDeleted = false): Silence[] {
    const sql = `SELECT * FROM silences ${includeDeleted ? '' : 'WHERE deleted_at IS NULL'} ORDER BY id DESC`;
    return (this.db.prepare(sql).all() as Row[]).map(fromRow);
  }

  get(id: number): Silence {
    const r = this.db.prepare('SELECT * FROM silences WHERE id = ? AND deleted_at IS NULL').get(id) as Row | undefined;
    if (!r) throw notFound(`no silence ${id}`);
    return fromRow(r);
  }

  create(input: SilenceInput, actor: string, now: number): Silence {
    const id = Number(
      this.db
        .prepare('INSERT INTO silences (matchers, starts_at, ends_at, recurrence, comment, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(JSON.stringify(input.matchers), input.startsAt, input.endsAt ?? null, input.recurrence ? JSON.stringify(input.recurrence) : null, input.comment, actor, now).lastInsertRowid,
    );
    this.reload();
    return this.get(id);
  }

  update(id: number, input: SilenceInput, actor: string, now: number): Silence {
    const changed = this.db
      .prepare('UPDATE silences SET matchers = ?, starts_at = ?, ends_at = ?, recurrence = ?, comment = ?, updated_by = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL')
      .run(JSON.stringify(input.matchers), input.startsAt, input.endsAt ?? null, input.recurrence ? JSON.stringify(input.recurrence) : null, input.comment, actor, now, id).changes;
    if (!changed) throw notFound(`no silence ${id}`);
    this.reload();
    return this.get(id);
  }

  delete(id: number, actor: string, now: number): void {
    const changed = this.db.prepare('UPDATE silences SET deleted_by = ?, deleted_at = ? WHERE id = ? AND deleted_at IS NULL').run(actor, now, id).changes;
    if (!changed) throw notFound(`no silence ${id}`);
    this.reload();
  }

  /** The silences covering this alert at `now`. */
  matching(subject: AlertSubject, now: number): Silence[] {
    return this.live.filter((s) => activeAt(s, now) && matches(s.matchers, subject));
  }

  isSilenced(subject: AlertSubject, now: number): boolean {
    return this.live.some((s) => activeAt(s, now) && matches(s.matchers, subject));
  }

  /**
   * Whether silence coverage can have changed since `checked` last ran: a silence was created, edited or deleted,
   * or an instant at which one starts or ends (a maintenance window opens or closes) has come.
   */
  checkDue(now: number): boolean {
    return now >= this.nextCheck;
  }

  /** Coverage was re-checked at `now`: the next check is due at the next start or end instant. */
  checked(now: number): void {
    this.nextCheck = Math.min(...this.live.map((s) => nextChange(s, now) ?? Infinity));
  }

  private reload(): void {
    this.live = this.list();
    this.nextCheck = -Infinity;
  }
}

import { badRequest, notFound } from '../shared/http-errors.js';
import type { Db } from '../storage/sqlite.js';
import type { OnCallConfig, Person } from './config.js';
import { type OnCall, type Override, type Schedule, type Shift, gaps, onCallAt, shifts } from './schedule.js';

export interface ApiOverride extends Override {
  readonly id: number;
  readonly schedule: string;
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

const fromRow = (r: Row): ApiOverride => ({
  id: r.id, schedule: r.schedule, person: r.person, start: r.start_at, end: r.end_at, comment: r.comment ?? undefined, createdBy: r.created_by, createdAt: r.created_at,
});

/** Maximum span a resolved-shifts query may cover. */
export const MAX_RANGE_MS = 92 * 86_400_000;

/**
 * Who is on call: the on-call file's schedules with the overrides made through the API on top (API overrides win
 * over the file's, later ones over earlier ones). Deleting an override keeps the row for the record.
 */
export class OnCallService {
  constructor(
    private readonly db: Db,
    readonly config: OnCallConfig,
  ) {}

  person(id: string): Person | undefined {
    return this.config.people.get(id);
  }

  /** A schedule with every live API override applied. */
  schedule(id: string): Schedule {
    const base = this.config.schedules.get(id);
    if (!base) throw notFound(`no schedule ${id}`);
    return { ...base, overrides: [...base.overrides, ...this.overrides(id)] };
  }

  whoAt(scheduleId: string, t: number): OnCall | undefined {
    return onCallAt(this.schedule(scheduleId), t);
  }

  /** Every schedule's person on call at `t`, with when their shift ends (within a week). */
  now(t: number): { schedule: string; onCall: OnCall | undefined; until: number | undefined }[] {
    return [...this.config.schedules.keys()].map((id) => {
      const s = this.schedule(id);
      const first = shifts(s, t, t + 7 * 86_400_000)[0];
      const current = first && first.start === t ? first : undefined;
      return { schedule: id, onCall: current && { person: current.person, source: current.source }, until: current?.end };
    });
  }

  resolve(scheduleId: string, from: number, to: number): { shifts: Shift[]; gaps: { start: number; end: number }[] } {
    if (to <= from) throw badRequest('to: must be after from');
    if (to - from > MAX_RANGE_MS) throw badRequest('to: at most 92 days after from');
    const s = this.schedule(scheduleId);
    return { shifts: shifts(s, from, to), gaps: gaps(s, from, to) };
  }

  overrides(scheduleId: string): ApiOverride[] {
    return (this.db.prepare('SELECT * FROM oncall_overrides WHERE schedule = ? AND deleted_at IS NULL ORDER BY id').all(scheduleId) as Row[]).map(fromRow);
  }

  addOverride(scheduleId: string, o: { person: string; start: number; end: number; comment?: string }, actor: string, now: number): ApiOverride {
    this.schedule(scheduleId);
    if (!this.config.people.has(o.person)) throw badRequest(`person: unknown person "${o.person}"`);
    if (o.end <= o.start) throw badRequest('end: must be after start');
    const id = Number(
      this.db
        .prepare('INSERT INTO oncall_overrides (schedule, person, start_at, end_at, comment, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(scheduleId, o.person, o.start, o.end, o.comment ?? null, actor, now).lastInsertRowid,
    );
    return fromRow(this.db.prepare('SELECT * FROM oncall_overrides WHERE id = ?').get(id) as Row);
  }

  deleteOverride(scheduleId: string, id: number, actor: string, now: number): void {
    const changed = this.db
      .prepare('UPDATE oncall_overrides SET deleted_by = ?, deleted_at = ? WHERE id = ? AND schedule = ? AND deleted_at IS NULL')
      .run(actor, now, id, scheduleId).changes;
    if (!changed) throw notFound(`no override ${id} on schedule ${scheduleId}`);
  }
}

import type { Db } from '../sqlite.js';

/** A report run, identified by its schedule (kind: the reports area's name for it) and the instant it was due. */
export interface ReportRunKey {
  readonly tenant: string;
  readonly kind: string;
  readonly dueAt: number;
}

/** A report run as stored, in the columns' names (the API shows them so). */
export interface ReportRunRecord {
  readonly kind: string;
  readonly due_at: number;
  readonly status: string;
  readonly attempts: number;
  readonly error: string | null;
  readonly sent_at: number | null;
}

/** Outcomes are recorded only while the runner still holds the claim. */
const MINE = 'WHERE tenant = ? AND kind = ? AND due_at = ? AND claimed_by = ?';

/**
 * Scheduled reports: when each schedule was first seen (report_schedules) and each run by the instant it was due
 * (report_runs: pending under a runner's claim, sent or failed, with its attempts).
 */
export class ReportRepo {
  constructor(private readonly db: Db) {}

  /** When a tenant's schedule was first seen; recorded as `now` the first time. */
  firstSeen(tenant: string, kind: string, now: number): number {
    this.db.prepare('INSERT OR IGNORE INTO report_schedules (tenant, kind, first_seen) VALUES (?, ?, ?)').run(tenant, kind, now);
    return (this.db.prepare('SELECT first_seen FROM report_schedules WHERE tenant = ? AND kind = ?').get(tenant, kind) as { first_seen: number }).first_seen;
  }

  /** A tenant's runs, newest first; `kind` narrows. */
  list(tenant: string, kind: string | undefined, limit: number): ReportRunRecord[] {
    return this.db
      .prepare(`SELECT kind, due_at, status, attempts, error, sent_at FROM report_runs WHERE tenant = ? ${kind ? 'AND kind = ?' : ''} ORDER BY due_at DESC LIMIT ?`)
      .all(...(kind ? [tenant, kind] : [tenant]), limit) as ReportRunRecord[];
  }

  get(k: ReportRunKey): Pick<ReportRunRecord, 'status' | 'attempts'> | undefined {
    return this.db.prepare('SELECT status, attempts FROM report_runs WHERE tenant = ? AND kind = ? AND due_at = ?').get(k.tenant, k.kind, k.dueAt) as
      | Pick<ReportRunRecord, 'status' | 'attempts'>
      | undefined;
  }

  /**
   * Claims a run for `runner` until `until`, in one conditional write: a new run, a failed one, or a pending one
   * whose claim ran out by `now`, with fewer than `maxAttempts` attempts. False when it was not claimed.
   */
  claim(k: ReportRunKey, runner: string, until: number, maxAttempts: number, now: number): boolean {
    return (
      this.db
        .prepare(`INSERT INTO report_runs (tenant, kind, due_at, status, claimed_by, claim_until) VALUES (?, ?, ?, 'pending', ?, ?)
          ON CONFLICT (tenant, kind, due_at) DO UPDATE SET status = 'pending', claimed_by = excluded.claimed_by, claim_until = excluded.claim_until
          WHERE report_runs.attempts < ? AND (report_runs.status = 'failed' OR (report_runs.status = 'pending' AND report_runs.claim_until <= ?))`)
        .run(k.tenant, k.kind, k.dueAt, runner, until, maxAttempts, now).changes === 1
    );
  }

  /** Until when the claim on a pending run with fewer than `maxAttempts` attempts holds, if there is such a run. */
  claimedUntil(k: ReportRunKey, maxAttempts: number): number | undefined {
    const r = this.db
      .prepare("SELECT claim_until FROM report_runs WHERE tenant = ? AND kind = ? AND due_at = ? AND status = 'pending' AND attempts < ?")
      .get(k.tenant, k.kind, k.dueAt, maxAttempts) as { claim_until: number } | undefined;
    return r?.claim_until;
  }

  /** The run `runner` claimed was sent at `now` (one attempt more). */
  sent(k: ReportRunKey, runner: string, now: number): void {
    this.db.prepare(`UPDATE report_runs SET status = 'sent', attempts = attempts + 1, error = NULL, sent_at = ? ${MINE}`).run(now, k.tenant, k.kind, k.dueAt, runner);
  }

  /** The run `runner` claimed failed (one attempt more). */
  failed(k: ReportRunKey, runner: string, reason: string): void {
    this.db.prepare(`UPDATE report_runs SET status = 'failed', attempts = attempts + 1, error = ? ${MINE}`).run(reason, k.tenant, k.kind, k.dueAt, runner);
  }
}

import type { Sql } from './sql.js';

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
  constructor(private readonly sql: Sql) {}

  /**
   * When a tenant's schedule was first seen; recorded as `now` the first time. Two statements (record if new, then
   * read); the row is never removed, so the read finds it without a transaction.
   */
  async firstSeen(tenant: string, kind: string, now: number): Promise<number> {
    await this.sql.run('INSERT INTO report_schedules (tenant, kind, first_seen) VALUES (?, ?, ?) ON CONFLICT (tenant, kind) DO NOTHING', tenant, kind, now);
    const r = await this.sql.get<{ first_seen: number }>('SELECT first_seen FROM report_schedules WHERE tenant = ? AND kind = ?', tenant, kind);
    return r!.first_seen;
  }

  /** A tenant's runs, newest first; `kind` narrows. */
  async list(tenant: string, kind: string | undefined, limit: number): Promise<ReportRunRecord[]> {
    return this.sql.all<ReportRunRecord>(
      `SELECT kind, due_at, status, attempts, error, sent_at FROM report_runs WHERE tenant = ? ${kind ? 'AND kind = ?' : ''} ORDER BY due_at DESC LIMIT ?`,
      ...(kind ? [tenant, kind] : [tenant]), limit,
    );
  }

  async get(k: ReportRunKey): Promise<Pick<ReportRunRecord, 'status' | 'attempts'> | undefined> {
    return this.sql.get<Pick<ReportRunRecord, 'status' | 'attempts'>>('SELECT status, attempts FROM report_runs WHERE tenant = ? AND kind = ? AND due_at = ?', k.tenant, k.kind, k.dueAt);
  }

  /**
   * Claims a run for `runner` until `until`, in one conditional write: a new run, a failed one, or a pending one
   * whose claim ran out by `now`, with fewer than `maxAttempts` attempts. False when it was not claimed. On both
   * databases the row count is 1 only for the runner whose insert or update took effect: on PostgreSQL a racing
   * runner waits on the row and re-checks the WHERE against the claimed row, which no longer matches.
   */
  async claim(k: ReportRunKey, runner: string, until: number, maxAttempts: number, now: number): Promise<boolean> {
    return (
      (await this.sql.run(
        `INSERT INTO report_runs (tenant, kind, due_at, status, claimed_by, claim_until) VALUES (?, ?, ?, 'pending', ?, ?)
          ON CONFLICT (tenant, kind, due_at) DO UPDATE SET status = 'pending', claimed_by = excluded.claimed_by, claim_until = excluded.claim_until
          WHERE report_runs.attempts < ? AND (report_runs.status = 'failed' OR (report_runs.status = 'pending' AND report_runs.claim_until <= ?))`,
        k.tenant, k.kind, k.dueAt, runner, until, maxAttempts, now,
      )) === 1
    );
  }

  /** Until when the claim on a pending run with fewer than `maxAttempts` attempts holds, if there is such a run. */
  async claimedUntil(k: ReportRunKey, maxAttempts: number): Promise<number | undefined> {
    const r = await this.sql.get<{ claim_until: number }>(
      "SELECT claim_until FROM report_runs WHERE tenant = ? AND kind = ? AND due_at = ? AND status = 'pending' AND attempts < ?",
      k.tenant, k.kind, k.dueAt, maxAttempts,
    );
    return r?.claim_until;
  }

  /** The run `runner` claimed was sent at `now` (one attempt more). */
  async sent(k: ReportRunKey, runner: string, now: number): Promise<void> {
    await this.sql.run(`UPDATE report_runs SET status = 'sent', attempts = attempts + 1, error = NULL, sent_at = ? ${MINE}`, now, k.tenant, k.kind, k.dueAt, runner);
  }

  /** The run `runner` claimed failed (one attempt more). */
  async failed(k: ReportRunKey, runner: string, reason: string): Promise<void> {
    await this.sql.run(`UPDATE report_runs SET status = 'failed', attempts = attempts + 1, error = ? ${MINE}`, reason, k.tenant, k.kind, k.dueAt, runner);
  }
}

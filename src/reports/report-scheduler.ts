import { randomUUID } from 'node:crypto';
import cron, { type ScheduledTask } from 'node-cron';
import type { Tenant } from '../shared/tenant.js';
import type { Db } from '../storage/sqlite.js';
import { type ReportKind, type ReportSchedule, cronOf, lastDue } from './report-schedule.js';

/** One tenant's schedule and its recipients. */
export interface ReportJob {
  readonly tenant: Tenant;
  readonly schedule: ReportSchedule;
  readonly to: readonly string[];
}

export function jobsOf(tenants: readonly Tenant[]): ReportJob[] {
  return tenants.flatMap((tenant) => {
    const { daily, weekly } = tenant.reports;
    return [
      ...(daily ? [{ tenant, schedule: { kind: 'daily' as const, at: daily.at }, to: daily.to }] : []),
      ...(weekly ? [{ tenant, schedule: { kind: 'weekly' as const, at: weekly.at, day: weekly.day }, to: weekly.to }] : []),
    ];
  });
}

export interface SchedulerDeps {
  db: Db;
  clock: () => number;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void };
  jobs: () => ReportJob[];
  /** Builds and sends the report due at `dueAt`; throws on failure. */
  send: (job: ReportJob, dueAt: number) => Promise<void>;
}

/** A failed report is retried this many times in all (across restarts), this far apart. */
export const MAX_ATTEMPTS = 5;

/**
 * Runs each schedule with node-cron in the tenant's time zone. Every run is recorded by (tenant, kind, due
 * instant): a period is reported once, a failed send is retried, and a run missed while the service was down
 * (due after the schedule was first seen, not sent) runs once at the next start. A run is claimed (a conditional
 * write) before its report is built, so two runners never both send it; a runner that dies mid-send leaves its
 * claim to run out, and the run is taken up again then.
 */
export class ReportScheduler {
  private tasks: ScheduledTask[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly runner = randomUUID();
  /** Between start and stop: only then does this node run the schedules (it leads; coordination/leadership.ts). */
  private started = false;

  constructor(
    private readonly deps: SchedulerDeps,
    private readonly retryMs = 5 * 60_000,
    /** How long a claim holds: longer than building and sending a report takes. */
    private readonly claimMs = 5 * 60_000,
  ) {}

  /** Catches up missed runs (in the background; `idle()` waits for them) and schedules the next ones. */
  start(): void {
    this.started = true;
    const now = this.deps.clock();
    for (const job of this.deps.jobs()) {
      const { tenant, schedule } = job;
      this.deps.db.prepare('INSERT OR IGNORE INTO report_schedules (tenant, kind, first_seen) VALUES (?, ?, ?)').run(tenant.id, schedule.kind, now);
      const firstSeen = (this.deps.db.prepare('SELECT first_seen FROM report_schedules WHERE tenant = ? AND kind = ?').get(tenant.id, schedule.kind) as { first_seen: number }).first_seen;
      const due = lastDue(schedule, tenant.timezone, now);
      if (due >= firstSeen && this.pending(job, due)) {
        this.deps.log.info({ tenant: tenant.id, kind: schedule.kind, due_at: new Date(due).toISOString() }, 'report: catching up a run missed while the service was down');
        void this.run(job, due);
      }
      this.tasks.push(cron.schedule(cronOf(schedule), () => void this.run(job, lastDue(schedule, tenant.timezone, this.deps.clock())), { timezone: tenant.timezone, name: `report-${tenant.id}-${schedule.kind}` }));
    }
  }

  /** Re-reads the schedules (a tenant changed through the API), if this node runs them. */
  reschedule(): void {
    if (!this.started) return;
    for (const t of this.tasks) void t.stop();
    this.tasks = [];
    this.start();
  }

  /** Resolves when no report is being built or sent. */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running.values()]);
  }

  async stop(): Promise<void> {
    this.started = false;
    for (const t of this.tasks) void t.stop();
    this.tasks = [];
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.idle();
  }

  /** Runs (tenant, kind, due) unless it was sent or gave up; concurrent calls for the same run share one send. */
  run(job: ReportJob, dueAt: number): Promise<void> {
    const key = `${job.tenant.id}|${job.schedule.kind}|${dueAt}`;
    const existing = this.running.get(key);
    if (existing) return existing;
    const p = this.attempt(job, dueAt).finally(() => this.running.delete(key));
    this.running.set(key, p);
    return p;
  }

  /** What happened to each run of a tenant's schedule, newest first (for the API and tests). */
  history(tenant: string, kind?: ReportKind): { kind: ReportKind; due_at: number; status: string; attempts: number; error: string | null; sent_at: number | null }[] {
    return this.deps.db
      .prepare(`SELECT kind, due_at, status, attempts, error, sent_at FROM report_runs WHERE tenant = ? ${kind ? 'AND kind = ?' : ''} ORDER BY due_at DESC LIMIT 100`)
      .all(...(kind ? [tenant, kind] : [tenant])) as ReturnType<ReportScheduler['history']>;
  }

  private pending(job: ReportJob, dueAt: number): boolean {
    const row = this.deps.db.prepare('SELECT status, attempts FROM report_runs WHERE tenant = ? AND kind = ? AND due_at = ?').get(job.tenant.id, job.schedule.kind, dueAt) as { status: string; attempts: number } | undefined;
    return !row || (row.status !== 'sent' && row.attempts < MAX_ATTEMPTS);
  }

  /**
   * Claims the run for this runner: new, failed with attempts left, or pending under a claim that ran out. Returns
   * false when it was sent, given up on, or another runner holds it.
   */
  private claim(job: ReportJob, dueAt: number, now: number): boolean {
    return (
      this.deps.db
        .prepare(`INSERT INTO report_runs (tenant, kind, due_at, status, claimed_by, claim_until) VALUES (?, ?, ?, 'pending', ?, ?)
          ON CONFLICT (tenant, kind, due_at) DO UPDATE SET status = 'pending', claimed_by = excluded.claimed_by, claim_until = excluded.claim_until
          WHERE report_runs.attempts < ? AND (report_runs.status = 'failed' OR (report_runs.status = 'pending' AND report_runs.claim_until <= ?))`)
        .run(job.tenant.id, job.schedule.kind, dueAt, this.runner, now + this.claimMs, MAX_ATTEMPTS, now).changes === 1
    );
  }

  private async attempt(job: ReportJob, dueAt: number): Promise<void> {
    const { db } = this.deps;
    const ids = [job.tenant.id, job.schedule.kind, dueAt] as const;
    const now = this.deps.clock();
    if (!this.claim(job, dueAt, now)) {
      // Held by another runner (or one that died mid-send): look again when its claim runs out.
      const held = db.prepare("SELECT claim_until FROM report_runs WHERE tenant = ? AND kind = ? AND due_at = ? AND status = 'pending' AND attempts < ?").get(...ids, MAX_ATTEMPTS) as { claim_until: number } | undefined;
      if (held) this.later(job, dueAt, held.claim_until - now);
      return;
    }
    // Outcomes are recorded only while this runner still holds the claim.
    const mine = 'WHERE tenant = ? AND kind = ? AND due_at = ? AND claimed_by = ?';
    try {
      await this.deps.send(job, dueAt);
      db.prepare(`UPDATE report_runs SET status = 'sent', attempts = attempts + 1, error = NULL, sent_at = ? ${mine}`).run(this.deps.clock(), ...ids, this.runner);
      this.deps.log.info({ tenant: job.tenant.id, kind: job.schedule.kind, to: job.to.length }, 'report sent');
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      db.prepare(`UPDATE report_runs SET status = 'failed', attempts = attempts + 1, error = ? ${mine}`).run(reason, ...ids, this.runner);
      const left = this.pending(job, dueAt);
      this.deps.log.warn({ tenant: job.tenant.id, kind: job.schedule.kind, reason, retry: left }, left ? 'report failed; retrying later' : 'report failed; giving up on this period');
      if (left) this.later(job, dueAt, this.retryMs);
    }
  }

  private later(job: ReportJob, dueAt: number, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      void this.run(job, dueAt);
    }, Math.max(0, ms));
    t.unref();
    this.timers.add(t);
  }
}

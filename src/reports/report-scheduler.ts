import { randomUUID } from 'node:crypto';
import cron, { type ScheduledTask } from 'node-cron';
import type { Tenant } from '../shared/tenant.js';
import type { ReportRunKey, ReportRunRecord } from '../storage/state/reports.js';
import type { StateStore } from '../storage/state/store.js';
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

/** A run as stored: its kind is this area's, as it wrote it. */
type ReportRun = Omit<ReportRunRecord, 'kind'> & { readonly kind: ReportKind };

export interface SchedulerDeps {
  rows: StateStore['reports'];
  clock: () => number;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void };
  jobs: () => ReportJob[];
  /** Builds and sends the report due at `dueAt`; throws on failure. */
  send: (job: ReportJob, dueAt: number) => Promise<void>;
}

const runKey = (job: ReportJob, dueAt: number): ReportRunKey => ({ tenant: job.tenant.id, kind: job.schedule.kind, dueAt });

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
  async start(): Promise<void> {
    this.started = true;
    const now = this.deps.clock();
    for (const job of this.deps.jobs()) {
      const { tenant, schedule } = job;
      const firstSeen = await this.deps.rows.firstSeen(tenant.id, schedule.kind, now);
      const due = lastDue(schedule, tenant.timezone, now);
      if (due >= firstSeen && (await this.pending(job, due))) {
        this.deps.log.info({ tenant: tenant.id, kind: schedule.kind, due_at: new Date(due).toISOString() }, 'report: catching up a run missed while the service was down');
        void this.run(job, due);
      }
      this.tasks.push(cron.schedule(cronOf(schedule), () => void this.run(job, lastDue(schedule, tenant.timezone, this.deps.clock())), { timezone: tenant.timezone, name: `report-${tenant.id}-${schedule.kind}` }));
    }
  }

  /** Re-reads the schedules (a tenant changed through the API), if this node runs them. */
  async reschedule(): Promise<void> {
    if (!this.started) return;
    for (const t of this.tasks) void t.stop();
    this.tasks = [];
    await this.start();
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
  async history(tenant: string, kind?: ReportKind): Promise<ReportRun[]> {
    return (await this.deps.rows.list(tenant, kind, 100)) as ReportRun[];
  }

  private async pending(job: ReportJob, dueAt: number): Promise<boolean> {
    const row = await this.deps.rows.get(runKey(job, dueAt));
    return !row || (row.status !== 'sent' && row.attempts < MAX_ATTEMPTS);
  }

  /**
   * Claims the run for this runner: new, failed with attempts left, or pending under a claim that ran out. Returns
   * false when it was sent, given up on, or another runner holds it.
   */
  private claim(job: ReportJob, dueAt: number, now: number): Promise<boolean> {
    return this.deps.rows.claim(runKey(job, dueAt), this.runner, now + this.claimMs, MAX_ATTEMPTS, now);
  }

  private async attempt(job: ReportJob, dueAt: number): Promise<void> {
    const { rows } = this.deps;
    const key = runKey(job, dueAt);
    const now = this.deps.clock();
    if (!(await this.claim(job, dueAt, now))) {
      // Held by another runner (or one that died mid-send): look again when its claim runs out.
      const heldUntil = await rows.claimedUntil(key, MAX_ATTEMPTS);
      if (heldUntil !== undefined) this.later(job, dueAt, heldUntil - now);
      return;
    }
    // Outcomes are recorded only while this runner still holds the claim.
    try {
      await this.deps.send(job, dueAt);
      await rows.sent(key, this.runner, this.deps.clock());
      this.deps.log.info({ tenant: job.tenant.id, kind: job.schedule.kind, to: job.to.length }, 'report sent');
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      await rows.failed(key, this.runner, reason);
      const left = await this.pending(job, dueAt);
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

/**
 * Per-tenant budgets (PRODUCT.md §9b: series and points per tenant are hostile until bounded). Caps per dimension
 * do not bound their product — 500 regions × 100 values × 5 dimensions is 250 k series from 50 k samples — so each
 * tenant also has a budget of series, of points per window and of live sessions, under global ceilings of series
 * and sessions that keep the sum within the heap. Pure: time is an argument; the window store and liveness ask
 * before they create, and the counts here are what /metrics shows.
 */

/** What one tenant may hold; the environment's defaults, overridden per tenant (config file, admin API). */
export interface TenantLimits {
  /** Series in the window store. */
  series: number;
  /** Points written per window: rollups (closed, rewritten and late windows) and raw samples. */
  points: number;
  /** Sessions and nodes tracked as live. */
  sessions: number;
}

/** Ceilings over all tenants together. */
export interface GlobalLimits {
  series: number;
  sessions: number;
}

/** Which budget stopped something: a tenant's own, or the global ceiling. */
export type Budget = 'series' | 'global_series' | 'points' | 'sessions' | 'global_sessions';

/**
 * What happened to the excess: `folded` — a new series' samples went into `other` or into the region's total
 * (series), or a dimension point into the region's point (points); `raw_skipped` — a raw sample point was not
 * written (the rollups hold the sample); `refused` — samples of a batch refused with 429 before being journaled;
 * `untracked` — a session or node beyond the budget counts in the sums but not in the viewers/concurrency gauges;
 * `evicted` — a live session or node of the tenant holding the most was dropped from the gauges to make room under
 * the global ceiling for a tenant below its fair share.
 */
export type BudgetAction = 'folded' | 'raw_skipped' | 'refused' | 'untracked' | 'evicted';
export type Excess = `${Budget}/${BudgetAction}`;

type SeriesBudget = 'series' | 'global_series';
type SessionsBudget = 'sessions' | 'global_sessions';
/** Excess keys by the budget that was full (constants: no string is built per sample). */
export const FOLDED = { series: 'series/folded', global_series: 'global_series/folded' } as const satisfies Record<SeriesBudget, Excess>;
export const UNTRACKED = { sessions: 'sessions/untracked', global_sessions: 'global_sessions/untracked' } as const satisfies Record<SessionsBudget, Excess>;

export class TenantUsage {
  series = 0;
  sessions = 0;
  /** Points counted in window `period`. */
  points = 0;
  period = -Infinity;
  /** Samples, points or reporters beyond a budget, by budget and action, since the start. */
  readonly excess = new Map<Excess, number>();

  constructor(public limits: TenantLimits) {}
}

/** Past this share of a global ceiling, a tenant already holding its fair share of it gets no more. */
const PRESSURE = 0.75;

/**
 * One resource over all tenants (series, or live sessions) under a ceiling shared fairly: nobody gets more once it
 * is reached, and past PRESSURE of it a tenant holding its fair share (ceiling / tenants holding any) gets no more
 * either, so that the tenants filling it leave the last quarter to those below their share.
 */
class Shared {
  total = 0;
  /** Tenants holding at least one. */
  holders = 0;

  constructor(readonly ceiling: number) {}

  /** The fair share of a tenant holding `held` (one more holder if it holds none yet). */
  shareOf(held: number): number {
    return this.ceiling / (this.holders + (held === 0 ? 1 : 0));
  }

  fullFor(held: number): boolean {
    if (this.total >= this.ceiling) return true;
    return this.total >= PRESSURE * this.ceiling && held >= this.shareOf(held);
  }

  added(before: number): void {
    this.total++;
    if (before === 0) this.holders++;
  }

  removed(after: number): void {
    this.total--;
    if (after === 0) this.holders--;
  }
}

export class Budgets {
  private readonly usage = new Map<string, TenantUsage>();
  private readonly allSeries: Shared;
  private readonly allSessions: Shared;

  constructor(
    private readonly limitsOf: (tenant: string) => TenantLimits,
    readonly global: GlobalLimits,
    private readonly windowMs: number,
  ) {
    this.allSeries = new Shared(global.series);
    this.allSessions = new Shared(global.sessions);
  }

  of(tenant: string): TenantUsage {
    let u = this.usage.get(tenant);
    if (!u) this.usage.set(tenant, (u = new TenantUsage(this.limitsOf(tenant))));
    return u;
  }

  /** Reads every tenant's limits again (a tenant changed through the admin API); called on every tick. */
  refresh(): void {
    for (const [tenant, u] of this.usage) u.limits = this.limitsOf(tenant);
  }

  tenants(): IterableIterator<[string, TenantUsage]> {
    return this.usage.entries();
  }

  get series(): number {
    return this.allSeries.total;
  }

  get sessions(): number {
    return this.allSessions.total;
  }

  /** The budget a new series of this tenant would exceed, or undefined when there is room. */
  seriesFull(u: TenantUsage): SeriesBudget | undefined {
    if (u.series >= u.limits.series) return 'series';
    if (this.allSeries.fullFor(u.series)) return 'global_series';
    return undefined;
  }

  seriesAdded(u: TenantUsage): void {
    this.allSeries.added(u.series++);
  }

  seriesRemoved(u: TenantUsage): void {
    this.allSeries.removed(--u.series);
  }

  /** The budget a new live session or node of this tenant would exceed, or undefined when there is room. */
  sessionsFull(u: TenantUsage): SessionsBudget | undefined {
    if (u.sessions >= u.limits.sessions) return 'sessions';
    if (this.allSessions.fullFor(u.sessions)) return 'global_sessions';
    return undefined;
  }

  /**
   * Whose live session should make room for one of `u`'s, if any: when the ceiling is reached and `u` is below its
   * fair share, the tenant holding the most, if that one is over its share. Sessions come and go, so a flood must not
   * keep other tenants' new viewers out of the gauges (a viewers rule would see an outage); series are not taken
   * away (their windows hold data still to be written).
   */
  sessionsVictim(u: TenantUsage): string | undefined {
    const pool = this.allSessions;
    const share = pool.shareOf(u.sessions);
    if (pool.total < pool.ceiling || u.sessions >= share) return undefined;
    let victim: string | undefined;
    let most = share;
    for (const [tenant, o] of this.usage) {
      if (o.sessions > most) [victim, most] = [tenant, o.sessions];
    }
    return victim;
  }

  sessionAdded(u: TenantUsage): void {
    this.allSessions.added(u.sessions++);
  }

  sessionRemoved(u: TenantUsage): void {
    this.allSessions.removed(--u.sessions);
  }

  /** Counts one new point in the window holding `now`; false when it is beyond the tenant's points budget. */
  takePoint(u: TenantUsage, now: number): boolean {
    this.roll(u, now);
    return ++u.points <= u.limits.points;
  }

  /** True while the tenant has used its points budget of the window holding `now`. */
  pointsSpent(u: TenantUsage, now: number): boolean {
    this.roll(u, now);
    return u.points >= u.limits.points;
  }

  /** Milliseconds from `now` to the next window, when the points budget starts afresh. */
  nextWindowIn(now: number): number {
    return (Math.floor(now / this.windowMs) + 1) * this.windowMs - now;
  }

  exceeded(u: TenantUsage, what: Excess, n = 1): void {
    u.excess.set(what, (u.excess.get(what) ?? 0) + n);
  }

  private roll(u: TenantUsage, now: number): void {
    const period = Math.floor(now / this.windowMs);
    if (period !== u.period) {
      u.period = period;
      u.points = 0;
    }
  }
}

/**
 * Heap allowed per series and per live session by the automatic global ceilings. A series costs about 7 KiB in
 * steady state (the windows the rules read, with their sums and sketches) and a session about 0.5 KiB
 * (BENCHMARKS.md, scale of state): at these rates a full house takes about half the heap, as the README advises
 * (garbage, batches in flight and the rest of the state need the other half).
 */
const HEAP_PER_SERIES = 24 * 1024;
const HEAP_PER_SESSION = 2 * 1024;

/** The global ceilings for a heap of `heapLimitBytes` (V8's limit: 22 k series and 268 k sessions for 512 MiB). */
export function autoGlobalLimits(heapLimitBytes: number): GlobalLimits {
  return { series: Math.floor(heapLimitBytes / HEAP_PER_SERIES), sessions: Math.floor(heapLimitBytes / HEAP_PER_SESSION) };
}

/** Budgets large enough never to matter (stores and liveness built without a tenant setup, in tests). */
export function unlimitedBudgets(windowMs = 10_000): Budgets {
  const none = { series: Infinity, points: Infinity, sessions: Infinity };
  return new Budgets(() => none, { series: Infinity, sessions: Infinity }, windowMs);
}

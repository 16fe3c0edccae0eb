import { type Budgets, UNTRACKED, unlimitedBudgets } from './budgets.js';

/** Windows remembered per session for distinct counting (a sample for an older window counts again). */
const RECENT = 4;

/**
 * A series list shared by every reporter in the same series (a session or node holds a reference, not a copy), kept
 * while one holds it.
 */
interface Tuple {
  readonly ids: readonly number[];
  readonly key: string;
  refs: number;
  /** What the caller resolved these series from (`attachRoute`), opaque here. */
  route: unknown;
}

interface Entry {
  tenant: string;
  id: string;
  expires: number;
  series: Tuple;
  /** False once expired (it may still sit in a wheel bucket). */
  live: boolean;
}

/**
 * The last RECENT distinct windows counted (-1 = empty) and the next slot to overwrite, oldest first. Inline
 * fields rather than an array: at a million sessions the array (and its spare capacity) was a fifth of their memory.
 */
interface Recent {
  r0: number;
  r1: number;
  r2: number;
  r3: number;
  next: number;
}

/** A session's counted windows are inline; `errored` is created at its first error (most sessions have none). */
interface SessionEntry extends Entry, Recent {
  errored: Recent | undefined;
}

interface NodeEntry extends Entry {
  ts: number;
  value: number | undefined;
}

declare const handle: unique symbol;
/** A live session's entry as `find` answered it (opaque). */
export interface SessionHandle {
  readonly [handle]: true;
}

/** The series of a stale entry (counting only, in no gauge). */
const NONE: Tuple = { ids: [], key: '', refs: 0, route: undefined };

export const NEW_SESSION = 1;
export const NEW_ERROR = 2;

/** Current gauges by series id (only series with a live reporter); read-only, valid until the next call. */
export interface Gauges {
  viewers: ReadonlyMap<number, number>;
  concurrency: ReadonlyMap<number, number>;
}

/** Entries by tenant, then id: nested maps, so the per-sample lookup builds no key string. */
class ByTenant<E> {
  private readonly tenants = new Map<string, Map<string, E>>();
  /** The tenant last looked up and its map (kept until `clear`): a batch is one tenant's, so most lookups skip the outer map. */
  private lastTenant: string | undefined;
  private lastMap: Map<string, E> | undefined;
  size = 0;

  get(tenant: string, id: string): E | undefined {
    return this.mapOf(tenant)?.get(id);
  }

  set(tenant: string, id: string, e: E): void {
    let m = this.mapOf(tenant);
    if (!m) this.tenants.set(tenant, (m = new Map()));
    if (!m.has(id)) this.size++;
    m.set(id, e);
  }

  delete(tenant: string, id: string): void {
    if (this.mapOf(tenant)?.delete(id)) this.size--;
  }

  /** The tenant's entry stored first (the oldest still held). */
  first(tenant: string): E | undefined {
    return this.mapOf(tenant)?.values().next().value;
  }

  clear(): void {
    this.tenants.clear();
    this.lastTenant = this.lastMap = undefined;
    this.size = 0;
  }

  private mapOf(tenant: string): Map<string, E> | undefined {
    if (tenant === this.lastTenant) return this.lastMap;
    const m = this.tenants.get(tenant);
    if (m) {
      this.lastTenant = tenant;
      this.lastMap = m;
    }
    return m;
  }
}

const BUCKET_MS = 1000;

/**
 * Expiry by time bucket. An entry is filed under the bucket of its expiry when filed; a later sample only moves
 * `expires` forward, and the entry is re-filed when its old bucket comes due. So a sample costs O(1) and a sweep
 * touches only the entries whose bucket is due — not every live session every second.
 */
class ExpiryWheel<E extends Entry> {
  private readonly buckets = new Map<number, E[]>();
  private next = -Infinity;

  file(e: E): void {
    const b = Math.floor(e.expires / BUCKET_MS);
    let list = this.buckets.get(b);
    if (!list) this.buckets.set(b, (list = []));
    list.push(e);
    if (b < this.next) this.next = b;
  }

  /** Calls `expire` for every live entry with `expires <= now`. */
  sweep(now: number, expire: (e: E) => void): void {
    const due = Math.floor(now / BUCKET_MS);
    if (this.next > due) return;
    const keys = due - this.next > this.buckets.size ? [...this.buckets.keys()].filter((b) => b <= due) : range(this.next, due);
    for (const b of keys) {
      const list = this.buckets.get(b);
      if (!list) continue;
      this.buckets.delete(b);
      for (const e of list) {
        if (!e.live) continue;
        if (e.expires <= now) expire(e);
        else this.file(e);
      }
    }
    this.next = due + 1;
    for (const b of this.buckets.keys()) if (b < this.next) this.next = b;
  }
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let b = from; b <= to; b++) out.push(b);
  return out;
}

/** How long a reporter stays live at most, whatever interval it claims (the contract accepts up to 1 h). */
export const DEFAULT_MAX_LIVE_MS = 300_000;

/**
 * Who is live right now, for the `viewers` and `concurrency` gauges (PRODUCT.md §2): a session or node is live
 * for 3 × its interval after its last sample arrived, at most `maxLiveMs`. Arrival time is used rather than the
 * sample's `ts`, so a client with a skewed clock still counts. The gauges are kept per series as reporters come,
 * change series and expire. Also remembers in which windows a session was already counted, so `sessions` and
 * `error_sessions` are distinct per window. Live sessions and nodes together are bounded per tenant and in all
 * (budgets): one beyond is not tracked — its samples count in the sums, each as its own session, as an anonymous
 * beacon does, but not in the gauges.
 */
export class Liveness {
  private readonly sessions = new ByTenant<SessionEntry>();
  /**
   * Sessions seen only in samples too old to be live: their counting is remembered until the next `gauges` sweep,
   * which is when the store emits the late aggregates they count into (distinct sessions there too).
   */
  private readonly stale = new ByTenant<SessionEntry>();
  private readonly nodes = new ByTenant<NodeEntry>();
  private readonly sessionWheel = new ExpiryWheel<SessionEntry>();
  private readonly nodeWheel = new ExpiryWheel<NodeEntry>();
  private readonly viewers = new Map<number, number>();
  private readonly concurrency = new Map<number, number>();
  /** Live nodes with a gauge, per series: a series whose last one expires reports nothing (not 0) here. */
  private readonly gaugeNodes = new Map<number, number>();
  /** Series lists by their ids joined: sessions in the same series share one (most share a handful). */
  private readonly tuples = new Map<string, Tuple>();

  constructor(
    private readonly budgets: Budgets = unlimitedBudgets(),
    private readonly maxLiveMs = DEFAULT_MAX_LIVE_MS,
  ) {}

  get sessionCount(): number {
    return this.sessions.size;
  }

  get nodeCount(): number {
    return this.nodes.size;
  }

  /**
   * Records a session sample. Returns NEW_SESSION | NEW_ERROR flags telling whether the session (or its error)
   * is seen for the first time in `window`. `live` false records the counting only (a sample too old to say
   * anything about who is watching now).
   */
  session(tenant: string, id: string, series: readonly number[], window: number, receivedAt: number, intervalMs: number, error: boolean, live: boolean): number {
    return this.sessionOf(this.find(tenant, id), tenant, id, series, window, receivedAt, intervalMs, error, live);
  }

  /** The live session (tenant, id), as a handle for `routeOf` and `sessionOf`: one lookup serves a whole sample. */
  find(tenant: string, id: string): SessionHandle | undefined {
    return this.sessions.get(tenant, id) as SessionHandle | undefined;
  }

  /**
   * `session` for the entry `find` answered for (tenant, id). A handle that has expired since (a sweep ran in
   * between) is looked up again, so it is never counted into.
   */
  sessionOf(found: SessionHandle | undefined, tenant: string, id: string, series: readonly number[], window: number, receivedAt: number, intervalMs: number, error: boolean, live: boolean): number {
    let e = found as SessionEntry | undefined;
    if (e && !e.live) e = this.sessions.get(tenant, id);
    if (!e && !live) {
      e = this.stale.get(tenant, id);
      if (!e) this.stale.set(tenant, id, (e = sessionEntry(tenant, id, 0, NONE, false)));
    }
    if (!e) {
      if (!this.track(tenant)) return NEW_SESSION | (error ? NEW_ERROR : 0);
      e = sessionEntry(tenant, id, receivedAt + this.lifetime(intervalMs), this.hold(series), true);
      this.sessions.set(tenant, id, e);
      this.sessionWheel.file(e);
      add(this.viewers, e.series.ids, 1);
    } else if (live) {
      e.expires = Math.max(e.expires, receivedAt + this.lifetime(intervalMs));
      if (!sameSeries(e.series.ids, series)) {
        add(this.viewers, e.series.ids, -1);
        this.release(e.series);
        e.series = this.hold(series);
        add(this.viewers, e.series.ids, 1);
      }
    }
    let flags = 0;
    if (remember(e, window)) flags |= NEW_SESSION;
    if (error && remember((e.errored ??= recent()), window)) flags |= NEW_ERROR;
    return flags;
  }

  /** The route attached to a live session's series list (see `attachRoute`), if any. */
  routeOf(found: SessionHandle | undefined): unknown {
    const e = found as SessionEntry | undefined;
    return e?.live ? e.series.route : undefined;
  }

  /**
   * Attaches to a live session's series list what the caller resolved it from (shared with every reporter in the
   * same series), so that the next sample of any of them can skip resolving it again.
   */
  attachRoute(tenant: string, id: string, route: () => unknown): void {
    const e = this.sessions.get(tenant, id);
    if (e && e.series.route === undefined) e.series.route = route();
  }

  /** Records a node sample; its latest `concurrency` (by sample ts) is its gauge. */
  node(tenant: string, id: string, series: readonly number[], ts: number, receivedAt: number, intervalMs: number, concurrency: number | undefined): void {
    let e = this.nodes.get(tenant, id);
    if (!e) {
      if (!this.track(tenant)) return;
      e = { tenant, id, expires: receivedAt + this.lifetime(intervalMs), series: this.hold(series), live: true, ts: -Infinity, value: undefined };
      this.nodes.set(tenant, id, e);
      this.nodeWheel.file(e);
    } else {
      e.expires = Math.max(e.expires, receivedAt + this.lifetime(intervalMs));
    }
    const changed = !sameSeries(e.series.ids, series);
    const fresh = concurrency !== undefined && ts >= e.ts;
    if (!changed && !fresh) return;
    this.contribute(e, -1);
    if (changed) {
      this.release(e.series);
      e.series = this.hold(series);
    }
    if (fresh) {
      e.ts = ts;
      e.value = concurrency;
    }
    this.contribute(e, 1);
  }

  /** Expires what is due at `now` and returns the gauges per series id. */
  gauges(now: number): Gauges {
    this.stale.clear();
    this.sessionWheel.sweep(now, (e) => this.endSession(e));
    this.nodeWheel.sweep(now, (e) => this.endNode(e));
    return { viewers: this.viewers, concurrency: this.concurrency };
  }

  /** Distinct series lists held by live sessions and nodes. */
  get tupleCount(): number {
    return this.tuples.size;
  }

  private endSession(e: SessionEntry): void {
    e.live = false;
    this.sessions.delete(e.tenant, e.id);
    this.budgets.sessionRemoved(this.budgets.of(e.tenant));
    add(this.viewers, e.series.ids, -1);
    this.release(e.series);
  }

  private endNode(e: NodeEntry): void {
    this.contribute(e, -1);
    e.live = false;
    this.nodes.delete(e.tenant, e.id);
    this.budgets.sessionRemoved(this.budgets.of(e.tenant));
    this.release(e.series);
  }

  /** The shared tuple for these series (a copy: the caller reuses its array), one more holder counted. */
  private hold(series: readonly number[]): Tuple {
    const key = series.join();
    let t = this.tuples.get(key);
    if (!t) this.tuples.set(key, (t = { ids: series.slice(), key, refs: 0, route: undefined }));
    t.refs++;
    return t;
  }

  private release(t: Tuple): void {
    if (--t.refs === 0) this.tuples.delete(t.key);
  }

  /** 3 × the claimed interval, at most `maxLiveMs`. */
  private lifetime(intervalMs: number): number {
    return Math.min(3 * intervalMs, this.maxLiveMs);
  }

  /**
   * Takes a place in the tenant's sessions budget for a new reporter; false (counted) when there is none. Under the
   * global ceiling, a tenant below its fair share takes the place of the oldest reporter of the one holding the most.
   */
  private track(tenant: string): boolean {
    const usage = this.budgets.of(tenant);
    let full = this.budgets.sessionsFull(usage);
    const victim = full === 'global_sessions' ? this.budgets.sessionsVictim(usage) : undefined;
    if (victim !== undefined) {
      const s = this.sessions.first(victim);
      if (s) this.endSession(s);
      else this.endNode(this.nodes.first(victim)!);
      this.budgets.exceeded(this.budgets.of(victim), 'global_sessions/evicted');
      full = this.budgets.sessionsFull(usage);
    }
    if (full) {
      this.budgets.exceeded(usage, UNTRACKED[full]);
      return false;
    }
    this.budgets.sessionAdded(usage);
    return true;
  }

  /** Adds (sign 1) or removes (sign -1) a node's gauge from its series. */
  private contribute(e: NodeEntry, sign: 1 | -1): void {
    if (e.value === undefined) return;
    add(this.gaugeNodes, e.series.ids, sign);
    for (const id of e.series.ids) {
      if (this.gaugeNodes.has(id)) this.concurrency.set(id, (this.concurrency.get(id) ?? 0) + sign * e.value);
      else this.concurrency.delete(id);
    }
  }
}

/** Adds `delta` to each series' count, forgetting series that reach 0. */
function add(counts: Map<number, number>, series: readonly number[], delta: number): void {
  for (const id of series) {
    const n = (counts.get(id) ?? 0) + delta;
    if (n === 0) counts.delete(id);
    else counts.set(id, n);
  }
}

function sameSeries(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const recent = (): Recent => ({ r0: -1, r1: -1, r2: -1, r3: -1, next: 0 });

function sessionEntry(tenant: string, id: string, expires: number, series: Tuple, live: boolean): SessionEntry {
  return { tenant, id, expires, series, live, r0: -1, r1: -1, r2: -1, r3: -1, next: 0, errored: undefined };
}

/** True when `window` was not yet among the recent windows (which it then joins, over the oldest). */
function remember(r: Recent, window: number): boolean {
  if (r.r0 === window || r.r1 === window || r.r2 === window || r.r3 === window) return false;
  switch (r.next) {
    case 0: r.r0 = window; break;
    case 1: r.r1 = window; break;
    case 2: r.r2 = window; break;
    default: r.r3 = window;
  }
  r.next = (r.next + 1) % RECENT;
  return true;
}

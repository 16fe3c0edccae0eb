/**
 * Who is live right now, for the `viewers` and `concurrency` gauges (PRODUCT.md §2): a session or node is live
 * for 3 × its interval after its last sample arrived. Arrival time is used rather than the sample's `ts`, so a
 * client with a skewed clock still counts. Also remembers in which windows a session was already counted, so
 * `sessions` and `error_sessions` are distinct per window.
 */
const RECENT = 4;

interface SessionEntry {
  expires: number;
  series: readonly number[];
  counted: number[];
  errored: number[];
}

interface NodeEntry {
  expires: number;
  series: readonly number[];
  ts: number;
  value: number | undefined;
}

export const NEW_SESSION = 1;
export const NEW_ERROR = 2;

export interface Gauges {
  viewers: Map<number, number>;
  concurrency: Map<number, number>;
}

/** Entries by tenant, then id: nested maps, so the per-sample lookup builds no key string. */
class ByTenant<E> {
  private readonly tenants = new Map<string, Map<string, E>>();
  size = 0;

  get(tenant: string, id: string): E | undefined {
    return this.tenants.get(tenant)?.get(id);
  }

  set(tenant: string, id: string, e: E): void {
    let m = this.tenants.get(tenant);
    if (!m) this.tenants.set(tenant, (m = new Map()));
    if (!m.has(id)) this.size++;
    m.set(id, e);
  }

  clear(): void {
    this.tenants.clear();
    this.size = 0;
  }

  /** Visits every entry; those for which `drop` returns true are removed. */
  sweep(drop: (e: E) => boolean): void {
    for (const m of this.tenants.values()) {
      for (const [id, e] of m) {
        if (drop(e)) {
          m.delete(id);
          this.size--;
        }
      }
    }
  }
}

export class Liveness {
  private readonly sessions = new ByTenant<SessionEntry>();
  /**
   * Sessions seen only in samples too old to be live: their counting is remembered until the next `gauges` sweep,
   * which is when the store emits the late aggregates they count into (distinct sessions there too).
   */
  private readonly stale = new ByTenant<SessionEntry>();
  private readonly nodes = new ByTenant<NodeEntry>();

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
    let e = this.sessions.get(tenant, id);
    if (!e && !live) {
      e = this.stale.get(tenant, id);
      if (!e) this.stale.set(tenant, id, (e = { expires: 0, series: [], counted: [], errored: [] }));
    }
    if (!e) {
      e = { expires: 0, series: series.slice(), counted: [], errored: [] };
      this.sessions.set(tenant, id, e);
    }
    if (live) {
      e.expires = Math.max(e.expires, receivedAt + 3 * intervalMs);
      if (!sameSeries(e.series, series)) e.series = series.slice();
    }
    let flags = 0;
    if (remember(e.counted, window)) flags |= NEW_SESSION;
    if (error && remember(e.errored, window)) flags |= NEW_ERROR;
    return flags;
  }

  /** Records a node sample; its latest `concurrency` (by sample ts) is its gauge. */
  node(tenant: string, id: string, series: readonly number[], ts: number, receivedAt: number, intervalMs: number, concurrency: number | undefined): void {
    let e = this.nodes.get(tenant, id);
    if (!e) {
      e = { expires: 0, series: series.slice(), ts: -Infinity, value: undefined };
      this.nodes.set(tenant, id, e);
    }
    e.expires = Math.max(e.expires, receivedAt + 3 * intervalMs);
    if (!sameSeries(e.series, series)) e.series = series.slice();
    if (concurrency !== undefined && ts >= e.ts) {
      e.ts = ts;
      e.value = concurrency;
    }
  }

  /** Drops what has expired at `now` and returns the gauges per series id. */
  gauges(now: number): Gauges {
    const viewers = new Map<number, number>();
    const concurrency = new Map<number, number>();
    this.stale.clear();
    this.sessions.sweep((e) => {
      if (e.expires <= now) return true;
      for (const id of e.series) viewers.set(id, (viewers.get(id) ?? 0) + 1);
      return false;
    });
    this.nodes.sweep((e) => {
      if (e.expires <= now) return true;
      if (e.value !== undefined) for (const id of e.series) concurrency.set(id, (concurrency.get(id) ?? 0) + e.value);
      return false;
    });
    return { viewers, concurrency };
  }
}

function sameSeries(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True when `window` was not yet in the small list of recent windows (which it then joins). */
function remember(list: number[], window: number): boolean {
  if (list.includes(window)) return false;
  list.push(window);
  if (list.length > RECENT) list.shift();
  return true;
}

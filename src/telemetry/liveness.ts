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

export class Liveness {
  private readonly sessions = new Map<string, SessionEntry>();
  /**
   * Sessions seen only in samples too old to be live: their counting is remembered until the next `gauges` sweep,
   * which is when the store emits the late aggregates they count into (distinct sessions there too).
   */
  private readonly stale = new Map<string, SessionEntry>();
  private readonly nodes = new Map<string, NodeEntry>();

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
  session(key: string, series: readonly number[], window: number, receivedAt: number, intervalMs: number, error: boolean, live: boolean): number {
    let e = this.sessions.get(key);
    if (!e && !live) {
      e = this.stale.get(key);
      if (!e) this.stale.set(key, (e = { expires: 0, series: [], counted: [], errored: [] }));
    }
    if (!e) {
      e = { expires: 0, series: series.slice(), counted: [], errored: [] };
      this.sessions.set(key, e);
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
  node(key: string, series: readonly number[], ts: number, receivedAt: number, intervalMs: number, concurrency: number | undefined): void {
    let e = this.nodes.get(key);
    if (!e) {
      e = { expires: 0, series: series.slice(), ts: -Infinity, value: undefined };
      this.nodes.set(key, e);
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
    for (const [k, e] of this.sessions) {
      if (e.expires <= now) {
        this.sessions.delete(k);
        continue;
      }
      for (const id of e.series) viewers.set(id, (viewers.get(id) ?? 0) + 1);
    }
    for (const [k, e] of this.nodes) {
      if (e.expires <= now) {
        this.nodes.delete(k);
        continue;
      }
      if (e.value === undefined) continue;
      for (const id of e.series) concurrency.set(id, (concurrency.get(id) ?? 0) + e.value);
    }
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

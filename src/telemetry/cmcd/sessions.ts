import type { Sample } from '../sample-schema.js';

/** One CMCD v2 event report, decoded and bounded (cmcd/parse.ts): only the keys the session state reads. */
export interface CmcdReport {
  sid: string;
  /** Client epoch milliseconds (CMCD `ts`). */
  ts: number;
  /** Event type (`e`): `t` time interval, `ps` play state, `e` error, … */
  e: string;
  /** Player state (`sta`): s starting, p playing, k seeking, r rebuffering, a paused, w waiting, e ended, f fatal error, q quit, d preloading. */
  sta?: string;
  /** Streaming format (`sf`): h HLS, d DASH, s Smooth, o other. */
  sf?: string;
  /** Stream type (`st`): v VOD, l live, ll low-latency live. */
  st?: string;
  /** Live latency in ms (`ltc`). */
  ltc?: number;
  /** Media start delay in ms (`msd`): play request to first frame, sent once. */
  msd?: number;
  /** Backgrounded (`bg`): the player was not visible. */
  bg?: boolean;
}

export interface CmcdSessionOptions {
  windowMs: number;
  /** A session not heard from for this long (by arrival) is forgotten. Also the most one gap between two reports accounts. */
  ttlMs: number;
  /** Sessions one tenant may hold. */
  maxPerTenant(tenant: string): number;
  /** Sessions all tenants together may hold. */
  maxTotal: number;
}

export interface CmcdApplied {
  samples: Sample[];
  /** Reports of a session that could not be tracked (budget full): they yield nothing. */
  untracked: number;
  /** Reports older than what the session already accounted (reordered or replayed): only an error or latency is kept. */
  late: number;
}

/** A rebuffering period becomes a stall once it lasts longer than this (PRODUCT.md §2, web). */
export const STALL_MIN_MS = 500;
/** Bounds of a sample's `interval_ms` (sample-schema.ts). */
const MIN_INTERVAL_MS = 100;
const MAX_INTERVAL_MS = 3_600_000;
const MAX_STARTUP_MS = 600_000;
const MAX_LATENCY_MS = 600_000;

interface Session {
  tenant: string;
  sid: string;
  protocol: string | undefined;
  sta: string | undefined;
  /** Client time up to which the session is accounted. */
  at: number;
  /** Client time of its latest report. */
  lastTs: number;
  startingAt: number | undefined;
  played: boolean;
  startupDone: boolean;
  failed: boolean;
  hidden: boolean;
  /** Rebuffering that follows a seek is part of the seek, not a stall. */
  afterSeek: boolean;
  rebufferFrom: number | undefined;
  stallCounted: boolean;
  /** Rebuffering not yet known to be a stall: [window, ms] pieces (at most STALL_MIN_MS, so at most 2 windows). */
  pending: number[];
  expires: number;
}

/** What one call adds to a session's window. */
interface Acc {
  from: number;
  play: number;
  stall: number;
  count: number;
  startup?: number;
  error?: string;
  latency?: number;
}

/** `sf` (+ `st`) as the `protocol` dimension the rules use (latency targets differ by delivery class). */
export function protocolOf(sf: string | undefined, st: string | undefined): string | undefined {
  const ll = st === 'll' ? 'll-' : '';
  if (sf === 'h') return `${ll}hls`;
  if (sf === 'd') return `${ll}dash`;
  if (sf === 's') return 'smooth';
  return undefined;
}

/**
 * Per-session state that turns CMCD player-state reports into samples (pure: arrival time is an argument).
 * Between two reports a session is in the state the earlier one named: `p` counts as play, `r` as rebuffering —
 * a stall once it lasts > STALL_MIN_MS, unless it follows a seek, comes before the first `p`, or the player is
 * backgrounded (`bg`). Time is split at window boundaries so each sample lies in one window. Startup is first `s` →
 * first `p`, or `msd` from a player that never reports `s`; a fatal error (`sta=f`) is `startup_failed` before the first `p`, else
 * `playback_failed`. Sessions are bounded per tenant and in all, and forgotten `ttlMs` after their last report.
 */
export class CmcdSessions {
  /** By tenant + NUL + sid, in order of last arrival (re-inserted on each), so expiry sweeps from the front. */
  private readonly sessions = new Map<string, Session>();
  private readonly perTenant = new Map<string, number>();

  constructor(private readonly opts: CmcdSessionOptions) {}

  get size(): number {
    return this.sessions.size;
  }

  /** Applies one request's reports (any order, any sessions) of `tenant` received at `now`. */
  apply(tenant: string, region: string, reports: readonly CmcdReport[], now: number): CmcdApplied {
    this.expire(now);
    const out: CmcdApplied = { samples: [], untracked: 0, late: 0 };
    const bySid = new Map<string, CmcdReport[]>();
    for (const r of reports) {
      let list = bySid.get(r.sid);
      if (!list) bySid.set(r.sid, (list = []));
      list.push(r);
    }
    for (const [sid, list] of bySid) {
      list.sort((a, b) => a.ts - b.ts);
      const s = this.session(tenant, sid, list[0]!.ts, now);
      if (!s) {
        out.untracked += list.length;
        continue;
      }
      const accs = new Map<number, Acc>();
      let gap = 0;
      for (const r of list) {
        if (r.ts < s.lastTs) {
          out.late++;
          this.fail(s, r, accs);
          this.latency(r, accs);
          continue;
        }
        gap = Math.max(gap, r.ts - s.lastTs);
        s.lastTs = r.ts;
        this.advance(s, r.ts, accs);
        this.acc(accs, r.ts);
        s.protocol = protocolOf(r.sf, r.st) ?? s.protocol;
        s.hidden = r.bg === true;
        if (r.sta !== undefined && r.sta !== s.sta) this.transition(s, r.sta, r.ts, accs);
        // msd only when the player never reported `s`: dash.js 5 sends msd with its first event after the play
        // request (a few ms), Shaka 5 once the first frame is shown (load() to first frame)
        if (r.msd !== undefined && !s.startupDone && s.startingAt === undefined && r.msd >= 0 && r.msd <= MAX_STARTUP_MS) {
          s.startupDone = true;
          this.acc(accs, r.ts).startup = r.msd;
        }
        this.fail(s, r, accs);
        this.latency(r, accs);
      }
      const interval = Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, this.opts.windowMs, gap));
      for (const a of [...accs.values()].sort((x, y) => x.from - y.from)) out.samples.push(this.sample(s, region, interval, a));
    }
    return out;
  }

  /** The session of `sid`, created (at client time `ts`) if there is room; re-filed as the most recently heard. */
  private session(tenant: string, sid: string, ts: number, now: number): Session | undefined {
    const key = `${tenant}\0${sid}`;
    let s = this.sessions.get(key);
    if (s) {
      this.sessions.delete(key);
    } else {
      const held = this.perTenant.get(tenant) ?? 0;
      if (held >= this.opts.maxPerTenant(tenant) || this.sessions.size >= this.opts.maxTotal) return undefined;
      this.perTenant.set(tenant, held + 1);
      s = {
        tenant, sid, protocol: undefined, sta: undefined, at: ts, lastTs: ts, startingAt: undefined, played: false, startupDone: false,
        failed: false, hidden: false, afterSeek: false, rebufferFrom: undefined, stallCounted: false, pending: [], expires: 0,
      };
    }
    s.expires = now + this.opts.ttlMs;
    this.sessions.set(key, s);
    return s;
  }

  /** Forgets the sessions not heard from for ttlMs (also done by each apply). */
  expire(now: number): void {
    for (const [key, s] of this.sessions) {
      if (s.expires > now) break;
      this.sessions.delete(key);
      const held = (this.perTenant.get(s.tenant) ?? 1) - 1;
      if (held === 0) this.perTenant.delete(s.tenant);
      else this.perTenant.set(s.tenant, held);
    }
  }

  private acc(accs: Map<number, Acc>, ts: number): Acc {
    const w = Math.floor(ts / this.opts.windowMs);
    let a = accs.get(w);
    if (!a) accs.set(w, (a = { from: ts, play: 0, stall: 0, count: 0 }));
    else if (ts < a.from) a.from = ts;
    return a;
  }

  /** Accounts the session's current state from where it was accounted to client time `to` (one gap at most ttlMs). */
  private advance(s: Session, to: number, accs: Map<number, Acc>): void {
    const from = s.at;
    const end = Math.min(to, from + this.opts.ttlMs);
    s.at = to;
    if (end <= from) return;
    if (s.sta === 'p') {
      this.spread(from, end, accs, (a, ms) => (a.play += ms));
    } else if (s.sta === 'r' && this.stalling(s)) {
      if (s.stallCounted) {
        this.spread(from, end, accs, (a, ms) => (a.stall += ms));
        return;
      }
      // one piece per window, however many reports arrive within the period (a hostile client sends thousands)
      this.spread(from, end, accs, (_a, ms, w) => {
        const n = s.pending.length;
        if (n > 0 && s.pending[n - 2] === w) s.pending[n - 1]! += ms;
        else s.pending.push(w, ms);
      });
      if (end - s.rebufferFrom! > STALL_MIN_MS) {
        s.stallCounted = true;
        this.acc(accs, s.rebufferFrom!).count++;
        this.settlePending(s, accs, 'stall');
      }
    }
  }

  /** Calls `add` for each window piece of [from, to). */
  private spread(from: number, to: number, accs: Map<number, Acc>, add: (a: Acc, ms: number, window: number) => void): void {
    const { windowMs } = this.opts;
    for (let t = from; t < to; ) {
      const w = Math.floor(t / windowMs);
      const next = Math.min(to, (w + 1) * windowMs);
      add(this.acc(accs, t), next - t, w);
      t = next;
    }
  }

  private stalling(s: Session): boolean {
    return s.played && !s.afterSeek && !s.hidden && s.rebufferFrom !== undefined;
  }

  /** Moves the pending rebuffering into its windows, as stall or (a short glitch) as play. */
  private settlePending(s: Session, accs: Map<number, Acc>, as: 'stall' | 'play'): void {
    const { windowMs } = this.opts;
    for (let i = 0; i < s.pending.length; i += 2) {
      const w = s.pending[i]!;
      this.acc(accs, Math.max(w * windowMs, Math.min(s.rebufferFrom!, (w + 1) * windowMs - 1)))[as] += s.pending[i + 1]!;
    }
    s.pending = [];
  }

  private transition(s: Session, sta: string, ts: number, accs: Map<number, Acc>): void {
    const prev = s.sta;
    if (prev === 'r') {
      if (!s.stallCounted) this.settlePending(s, accs, 'play');
      s.rebufferFrom = undefined;
      s.stallCounted = false;
    }
    s.sta = sta;
    if (sta === 'r') {
      s.rebufferFrom = ts;
      s.afterSeek = prev === 'k';
    } else if (sta === 's') {
      if (!s.played && s.startingAt === undefined) s.startingAt = ts;
    } else if (sta === 'p' && !s.played) {
      s.played = true;
      if (!s.startupDone && s.startingAt !== undefined && ts - s.startingAt <= MAX_STARTUP_MS) {
        s.startupDone = true;
        this.acc(accs, ts).startup = ts - s.startingAt;
      }
    }
  }

  private fail(s: Session, r: CmcdReport, accs: Map<number, Acc>): void {
    if (r.sta !== 'f' || s.failed) return;
    s.failed = true;
    this.acc(accs, r.ts).error = s.played ? 'playback_failed' : 'startup_failed';
  }

  private latency(r: CmcdReport, accs: Map<number, Acc>): void {
    if (r.ltc !== undefined && r.ltc >= 0 && r.ltc <= MAX_LATENCY_MS) this.acc(accs, r.ts).latency = r.ltc;
  }

  private sample(s: Session, region: string, interval: number, a: Acc): Sample {
    const out: Sample = { ts: a.from, interval_ms: interval, region, session: s.sid, play_ms: a.play, stall_ms: a.stall, stall_count: a.count };
    if (a.startup !== undefined) out.startup_ms = a.startup;
    if (a.error !== undefined) out.error = a.error;
    if (a.latency !== undefined) out.latency_ms = a.latency;
    out.dims = s.protocol ? { sdk: 'cmcd', protocol: s.protocol } : { sdk: 'cmcd' };
    return out;
  }
}

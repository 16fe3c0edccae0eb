import { describe, expect, it } from 'vitest';
import { type CmcdReport, CmcdSessions, STALL_MIN_MS, protocolOf } from '../../src/telemetry/cmcd/sessions.js';
import type { Sample } from '../../src/telemetry/sample-schema.js';

/** The session state machine with fake time: client `ts` and arrival `now` are arguments. */

const W = 10_000;
const T0 = 1_800_000_000_000; // a window boundary
const TTL = 300_000;

function sessions(o: { perTenant?: number; total?: number } = {}) {
  return new CmcdSessions({ windowMs: W, ttlMs: TTL, maxPerTenant: () => o.perTenant ?? 1000, maxTotal: o.total ?? 1000 });
}

const ps = (ts: number, sta: string, extra: Partial<CmcdReport> = {}): CmcdReport => ({ sid: 's1', ts, e: 'ps', sta, ...extra });
const t = (ts: number, sta: string, extra: Partial<CmcdReport> = {}): CmcdReport => ({ sid: 's1', ts, e: 't', sta, ...extra });

/** Feeds each report in its own request (as hls.js sends them, batch size 1), arriving at its own ts. */
function feed(c: CmcdSessions, reports: CmcdReport[], tenant = 'acme'): Sample[] {
  return reports.flatMap((r) => c.apply(tenant, 'eu', [r], r.ts).samples);
}

function totals(samples: Sample[]) {
  const sum = (f: (s: Sample) => number | undefined) => samples.reduce((n, s) => n + (f(s) ?? 0), 0);
  return { play: sum((s) => s.play_ms), stall: sum((s) => s.stall_ms), count: sum((s) => s.stall_count) };
}

/** Totals per window index. */
function byWindow(samples: Sample[]) {
  const out = new Map<number, { play: number; stall: number; count: number }>();
  for (const s of samples) {
    const w = Math.floor((s.ts - T0) / W);
    const o = out.get(w) ?? { play: 0, stall: 0, count: 0 };
    o.play += s.play_ms ?? 0;
    o.stall += s.stall_ms ?? 0;
    o.count += s.stall_count ?? 0;
    out.set(w, o);
  }
  return Object.fromEntries(out);
}

describe('CMCD sessions: play and stalls', () => {
  it('counts playing as play_ms and a rebuffering period longer than 500 ms as one stall, split at window boundaries', () => {
    const c = sessions();
    const samples = feed(c, [ps(T0, 's'), ps(T0 + 1000, 'p'), ps(T0 + 8000, 'r'), ps(T0 + 12_500, 'p'), t(T0 + 20_000, 'p')]);
    expect(totals(samples)).toEqual({ play: 7000 + 7500, stall: 4500, count: 1 });
    // the stall started in window 0 (2 s of it) and ended in window 1 (2.5 s)
    // the report at +20 s opens window 2 (a zero sample: the viewer is still there)
    expect(byWindow(samples)).toEqual({ 0: { play: 7000, stall: 2000, count: 1 }, 1: { play: 7500, stall: 2500, count: 0 }, 2: { play: 0, stall: 0, count: 0 } });
    for (const s of samples) expect(s).toMatchObject({ region: 'eu', session: 's1', dims: { sdk: 'cmcd' } });
  });

  it('counts a rebuffering period of at most 500 ms as play, not a stall', () => {
    const c = sessions();
    const samples = feed(c, [ps(T0, 's'), ps(T0 + 1000, 'p'), ps(T0 + 3000, 'r'), ps(T0 + 3000 + STALL_MIN_MS, 'p'), t(T0 + 6000, 'p')]);
    expect(totals(samples)).toEqual({ play: 5000, stall: 0, count: 0 });
  });

  it('adds up a rebuffering period reported many times (one report per millisecond) exactly once', () => {
    const c = sessions();
    const rebuffering = Array.from({ length: 800 }, (_, i) => t(T0 + 9600 + i, 'r'));
    const samples = feed(c, [ps(T0, 's'), ps(T0 + 1000, 'p'), ps(T0 + 9600, 'r'), ...rebuffering.slice(1), ps(T0 + 10_400, 'p'), t(T0 + 11_000, 'p')]);
    expect(totals(samples)).toEqual({ play: 8600 + 600, stall: 800, count: 1 });
    expect(byWindow(samples)).toEqual({ 0: { play: 8600, stall: 400, count: 1 }, 1: { play: 600, stall: 400, count: 0 } });
  });

  it('knows a stall as soon as it has lasted 500 ms, before it ends (a time-interval report during it)', () => {
    const c = sessions();
    const samples = feed(c, [ps(T0, 's'), ps(T0 + 1000, 'p'), ps(T0 + 2000, 'r'), t(T0 + 5000, 'r')]);
    expect(totals(samples)).toEqual({ play: 1000, stall: 3000, count: 1 });
    const more = feed(c, [t(T0 + 9000, 'r'), ps(T0 + 9500, 'p')]);
    expect(totals(more)).toEqual({ play: 0, stall: 4500, count: 0 });
  });

  it('does not count rebuffering after a seek, before the first frame, or while backgrounded', () => {
    const seek = feed(sessions(), [ps(T0, 's'), ps(T0 + 1000, 'p'), ps(T0 + 2000, 'k'), ps(T0 + 2100, 'r'), ps(T0 + 5000, 'p'), t(T0 + 6000, 'p')]);
    expect(totals(seek)).toEqual({ play: 2000, stall: 0, count: 0 });
    const startup = feed(sessions(), [ps(T0, 's'), ps(T0 + 100, 'r'), ps(T0 + 4000, 'p'), t(T0 + 5000, 'p')]);
    expect(totals(startup)).toEqual({ play: 1000, stall: 0, count: 0 });
    const hidden = feed(sessions(), [ps(T0, 's'), ps(T0 + 1000, 'p'), ps(T0 + 2000, 'r', { bg: true }), ps(T0 + 5000, 'p'), t(T0 + 6000, 'p')]);
    expect(totals(hidden)).toEqual({ play: 2000, stall: 0, count: 0 });
    // a later rebuffering while visible and playing is a stall again
    const again = feed(sessions(), [ps(T0, 's'), ps(T0 + 1000, 'p'), ps(T0 + 2000, 'k'), ps(T0 + 2100, 'r'), ps(T0 + 3000, 'p'), ps(T0 + 4000, 'r'), ps(T0 + 6000, 'p')]);
    expect(totals(again)).toEqual({ play: 2000, stall: 2000, count: 1 });
  });

  it('counts nothing while paused, ended or seeking, and viewers in those states still yield a (zero) sample', () => {
    const samples = feed(sessions(), [ps(T0, 's'), ps(T0 + 1000, 'p'), ps(T0 + 2000, 'a'), t(T0 + 7000, 'a'), ps(T0 + 8000, 'p'), ps(T0 + 9000, 'e')]);
    expect(totals(samples)).toEqual({ play: 2000, stall: 0, count: 0 });
    expect(samples.length).toBeGreaterThan(0);
  });

  it('accounts a gap between two reports for at most the TTL (a forged or skewed ts cannot claim hours)', () => {
    const c = sessions();
    const samples = [
      ...c.apply('acme', 'eu', [ps(T0, 's'), ps(T0 + 1000, 'p')], T0 + 1000).samples,
      ...c.apply('acme', 'eu', [t(T0 + 1000 + 3 * 3_600_000, 'p')], T0 + 1000 + 60_000).samples,
    ];
    expect(totals(samples).play).toBe(TTL);
  });

  it('applies the reports of one request in ts order, and counts a report older than what its session accounted as late', () => {
    const c = sessions();
    const r = c.apply('acme', 'eu', [ps(T0 + 8000, 'p'), ps(T0 + 1000, 'p'), ps(T0, 's'), ps(T0 + 5000, 'r')], T0 + 8000);
    expect(totals(r.samples)).toEqual({ play: 4000, stall: 3000, count: 1 });
    expect(r.late).toBe(0);
    const late = c.apply('acme', 'eu', [ps(T0 + 7000, 'a')], T0 + 9000);
    expect(late.late).toBe(1);
    expect(totals(late.samples)).toEqual({ play: 0, stall: 0, count: 0 });
  });

  it('sets interval_ms to the gap between reports (at least the window), so a session reporting every 30 s stays live', () => {
    const c = sessions();
    feed(c, [ps(T0, 's'), ps(T0 + 1000, 'p')]);
    const samples = feed(c, [t(T0 + 31_000, 'p')]);
    expect(samples.map((s) => s.interval_ms)).toEqual([30_000, 30_000, 30_000, 30_000]);
    expect(totals(samples).play).toBe(30_000);
  });
});

describe('CMCD sessions: startup, errors, latency, protocol', () => {
  it('derives startup from the first s → p, once per session', () => {
    const samples = feed(sessions(), [ps(T0, 's'), ps(T0 + 1234, 'p'), ps(T0 + 2000, 'a'), ps(T0 + 3000, 's'), ps(T0 + 3500, 'p')]);
    expect(samples.filter((s) => s.startup_ms !== undefined).map((s) => s.startup_ms)).toEqual([1234]);
  });

  it('takes msd (media start delay) from a player that never reports s, ignores it when s → p is known, and derives nothing without either', () => {
    // Shaka 5: no s; msd (load() to first frame) comes with the report after p
    const shaka = feed(sessions(), [ps(T0, 'p'), ps(T0 + 900, 'a', { msd: 870 }), t(T0 + 5000, 'a', { msd: 870 })]);
    expect(shaka.filter((s) => s.startup_ms !== undefined).map((s) => s.startup_ms)).toEqual([870]);
    // dash.js 5: msd is the time to its first event after the play request (3 ms here), sent with s
    const dash = feed(sessions(), [ps(T0, 's', { msd: 3 }), ps(T0 + 1200, 'p'), t(T0 + 5000, 'p')]);
    expect(dash.filter((s) => s.startup_ms !== undefined).map((s) => s.startup_ms)).toEqual([1200]);
    const none = feed(sessions(), [ps(T0, 'd'), ps(T0 + 900, 'p'), t(T0 + 5000, 'p')]);
    expect(none.some((s) => s.startup_ms !== undefined)).toBe(false);
  });

  it('tells a startup failure from a playback failure, once per session', () => {
    const startup = feed(sessions(), [ps(T0, 's'), ps(T0 + 2000, 'f'), t(T0 + 3000, 'f')]);
    expect(startup.filter((s) => s.error !== undefined).map((s) => s.error)).toEqual(['startup_failed']);
    const playback = feed(sessions(), [ps(T0, 's'), ps(T0 + 1000, 'p'), ps(T0 + 5000, 'f'), t(T0 + 6000, 'f')]);
    expect(playback.filter((s) => s.error !== undefined).map((s) => s.error)).toEqual(['playback_failed']);
  });

  it('keeps a late fatal error', () => {
    const c = sessions();
    feed(c, [ps(T0, 's'), ps(T0 + 1000, 'p'), t(T0 + 5000, 'p')]);
    const r = c.apply('acme', 'eu', [ps(T0 + 4000, 'f')], T0 + 5001);
    expect(r.late).toBe(1);
    expect(r.samples.map((s) => s.error)).toEqual(['playback_failed']);
  });

  it('reports ltc as latency_ms and sf/st as the protocol dimension', () => {
    const samples = feed(sessions(), [t(T0, 'p', { sf: 'd', st: 'l', ltc: 3200 })]);
    expect(samples).toEqual([expect.objectContaining({ latency_ms: 3200, dims: { sdk: 'cmcd', protocol: 'dash' } })]);
    expect([protocolOf('h', 'v'), protocolOf('h', 'll'), protocolOf('d', 'll'), protocolOf('o', 'l'), protocolOf(undefined, undefined)]).toEqual(['hls', 'll-hls', 'll-dash', undefined, undefined]);
  });
});

describe('CMCD sessions: bounds', () => {
  it('holds at most maxPerTenant sessions per tenant and maxTotal in all; the others are untracked and yield nothing', () => {
    const c = sessions({ perTenant: 2, total: 3 });
    const r = c.apply('acme', 'eu', ['a', 'b', 'c'].map((sid) => ({ ...ps(T0, 's'), sid })), T0);
    expect(r.untracked).toBe(1);
    expect(new Set(r.samples.map((s) => s.session))).toEqual(new Set(['a', 'b']));
    expect(c.apply('other', 'eu', ['x', 'y'].map((sid) => ({ ...ps(T0, 's'), sid })), T0).untracked).toBe(1);
    expect(c.size).toBe(3);
    // a known session is never refused
    expect(c.apply('acme', 'eu', [{ ...ps(T0 + 1000, 'p'), sid: 'a' }], T0 + 1000).untracked).toBe(0);
  });

  it('forgets a session TTL after its last report (by arrival), which frees its place', () => {
    const c = sessions({ perTenant: 1 });
    c.apply('acme', 'eu', [ps(T0, 's')], T0);
    expect(c.apply('acme', 'eu', [{ ...ps(T0, 's'), sid: 's2' }], T0 + TTL - 1).untracked).toBe(1);
    expect(c.apply('acme', 'eu', [{ ...ps(T0, 's'), sid: 's2' }], T0 + TTL).untracked).toBe(0);
    expect(c.size).toBe(1);
  });
});

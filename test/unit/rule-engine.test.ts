import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AlertState } from '../../src/rules/alert-state.js';
import { type AlertEvent, type AlertRow, RuleEngine } from '../../src/rules/engine.js';
import { compileRuleFiles } from '../../src/rules/load.js';
import type { Rule } from '../../src/rules/rule-schema.js';
import { CardinalityCaps } from '../../src/telemetry/cardinality.js';
import type { Sample } from '../../src/telemetry/sample-schema.js';
import { RELATIVE_ACCURACY } from '../../src/telemetry/sketch.js';
import { WindowStore } from '../../src/telemetry/window-store.js';

// Explicit times only: the store and the engine are pure, time is always an argument.
const W = 10_000; // aggregation window
const T0 = 1_700_000_000_000; // a multiple of W
const SEC = 1_000;
const MIN = 60_000;
const EU = 'tenant=t,region=eu';
const US = 'tenant=t,region=us';

// ---- rules, written as YAML the way operators write them ----

/** One rule as a YAML flow mapping: `rule('stall', 'metric: stall_ratio, ...')`. */
const rule = (id: string, body: string) => `{ id: ${id}, description: test rule ${id}, ${body} }`;

function compile(...rules: string[]): Rule[] {
  const text = `rules:\n${rules.map((r) => `  - ${r}`).join('\n')}\n`;
  return [...compileRuleFiles([{ path: 't.yaml', text }], { windowMs: W, horizonMs: 300_000 }).rules];
}

const STALL = 'metric: stall_ratio, window: 1m, thresholds: { P0: "> 0.20", P1: "> 0.05", P2: "> 0.02" }';

// ---- samples ----

/** A sample without ts (the harness stamps the time it is ingested at) and region eu unless given. */
type Beat = Omit<Sample, 'ts' | 'region'> & { ts?: number; region?: string };

/** `n` viewer sessions (`prefix`0 … `prefix`n−1), each sending `fields`. */
function crowd(n: number, fields: Beat, prefix = 's'): Beat[] {
  return Array.from({ length: n }, (_, i) => ({ session: `${prefix}${i}`, ...fields }));
}

/** n sessions beaconing every 10 s: what the viewers gauge counts. */
const audience = (n: number, prefix = 'v') => crowd(n, { interval_ms: 10_000, play_ms: 10_000 }, prefix);

// ---- harness: ingest at t → store.tick(t) → engine.observe(touched, t) → engine.evaluate(t) ----

class Harness {
  readonly store: WindowStore;
  readonly engine: RuleEngine;
  private nextId = 1;

  constructor(rules: readonly Rule[], opts: { startedAt?: number; restored?: AlertRow[] } = {}) {
    const startedAt = opts.startedAt ?? T0;
    const caps = new CardinalityCaps(() => 100);
    this.store = new WindowStore({ windowMs: W, graceMs: 2_000, horizonMs: 300_000, closedBefore: Math.floor(startedAt / W) }, caps);
    this.engine = new RuleEngine(this.store, rules, { startedAt }, opts.restored);
  }

  /** Samples arrive at t and their series are observed, without evaluating. */
  ingest(t: number, beats: readonly Beat[]): void {
    for (const b of beats) this.store.ingest('t', { ts: t, region: 'eu', ...b }, this.nextId++, t);
    this.store.tick(t);
    this.engine.observe(this.store.drainTouched(), t);
  }

  /** One pass at t: ingest `beats` (if any) and evaluate. */
  at(t: number, beats: readonly Beat[] = []): AlertEvent[] {
    this.ingest(t, beats);
    return this.engine.evaluate(t);
  }

  /** Passes at from, from + step, … ≤ to, with `beats(t)` at each; the events of all of them. */
  run(from: number, to: number, step: number, beats: (t: number) => readonly Beat[] = () => []): AlertEvent[] {
    const out: AlertEvent[] = [];
    for (let t = from; t <= to; t += step) out.push(...this.at(t, beats(t)));
    return out;
  }

  state(ruleId: string, key = EU): Readonly<AlertState> | undefined {
    for (const a of this.engine.alerts()) if (a.rule.id === ruleId && a.key === key) return a.state;
    return undefined;
  }

  /** What a restart would read back: every row the engine wants written. */
  rows(): AlertRow[] {
    return this.engine.takeChanged(true).upserts;
  }
}

/** The parts of an event a timeline shows, for compact expectations. */
function brief(e: AlertEvent): string {
  const p = e.type === 'cleared' ? `${e.previous}→` : e.type === 'priority_changed' ? `${e.previous}→${e.priority}` : e.priority;
  return `${e.type} ${p} ${e.key} @T0+${e.at - T0}`;
}

/** Σstall / Σ(play + stall) of a set of samples, computed the one way it must be. */
function stallRatio(beats: readonly Beat[]): number {
  let stall = 0, play = 0;
  for (const b of beats) {
    stall += b.stall_ms ?? 0;
    play += b.play_ms ?? 0;
  }
  return stall / (stall + play);
}

describe('RuleEngine: threshold rules over the window store', () => {
  it('a stall storm in one region fires P1 with the ratio of sums and its evidence; a healthy region stays quiet', () => {
    const h = new Harness(compile(rule('stall', STALL)));
    const storm = [3_000, 500, 1_200, 800, 0, 2_000, 700, 900, 400, 1_500].map((stall, i): Beat => ({ session: `eu${i}`, play_ms: 10_000 - stall, stall_ms: stall }));
    const healthy = crowd(10, { region: 'us', play_ms: 10_000, stall_ms: 50 }, 'us');

    const events = h.at(T0 + SEC, [...storm, ...healthy]);

    const value = stallRatio(storm); // 11 000 / 100 000
    expect(value).toBe(0.11);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'fired', priority: 'P1', key: EU, labels: { tenant: 't', region: 'eu' }, at: T0 + SEC });
    expect(events[0]!.values).toEqual({ metric: 'stall_ratio', value, threshold: '> 0.05', window_ms: MIN, samples: 10, sessions: 10 });
    expect(h.state('stall', US)).toBeUndefined();
    expect(h.state('stall')).toMatchObject({ status: 'firing', priority: 'P1', firedAt: T0 + SEC });
  });

  it('weighs a long view by its watch time: ratio of sums, never the average of ratios', () => {
    const h = new Harness(compile(rule('stall', STALL)));
    const long: Beat = { session: 'long', play_ms: 7_000_000, stall_ms: 200_000 }; // ~2 h watched, 2.8 % stalled
    const short: Beat = { session: 'short', play_ms: 2_000, stall_ms: 8_000 }; // 10 s, 80 % stalled
    const averageOfRatios = (200_000 / 7_200_000 + 8_000 / 10_000) / 2;
    expect(averageOfRatios).toBeGreaterThan(0.2); // would page P0

    const [e, ...rest] = h.at(T0 + SEC, [long, short]);

    expect(rest).toEqual([]);
    expect(e).toMatchObject({ type: 'fired', priority: 'P2', values: { value: 208_000 / 7_210_000, threshold: '> 0.02', samples: 2, sessions: 2 } });
  });

  it('reads the same ratio of sums however samples are split across sessions and windows (property)', () => {
    const beat = fc.record({ play: fc.integer({ min: 1, max: 20_000 }), stall: fc.integer({ min: 0, max: 20_000 }), window: fc.integer({ min: 0, max: 5 }), session: fc.integer({ min: 0, max: 9 }) });
    fc.assert(
      fc.property(fc.array(beat, { minLength: 1, maxLength: 40 }), (beats) => {
        const h = new Harness(compile(rule('any', 'metric: stall_ratio, window: 1m, thresholds: { P3: ">= 0" }')));
        const sorted = [...beats].sort((a, b) => a.window - b.window);
        for (const b of sorted) h.ingest(T0 + b.window * W + SEC, [{ session: `s${b.session}`, play_ms: b.play, stall_ms: b.stall }]);
        const events = h.engine.evaluate(T0 + 5 * W + SEC);
        const stall = beats.reduce((n, b) => n + b.stall, 0);
        const play = beats.reduce((n, b) => n + b.play, 0);
        // Distinct sessions of the busiest window: viewers beacon every interval, so that is the viewers seen.
        const perWindow = new Map<number, Set<number>>();
        for (const b of beats) perWindow.set(b.window, (perWindow.get(b.window) ?? new Set()).add(b.session));
        const sessions = Math.max(...[...perWindow.values()].map((set) => set.size));
        expect(events).toHaveLength(1);
        expect(events[0]!.values).toMatchObject({ value: stall / (stall + play), samples: beats.length, sessions });
      }),
      { numRuns: 100 },
    );
  });

  it('reads a quantile metric from merged sketches: latency p95 within 1 % of the true p95', () => {
    const h = new Harness(compile(rule('lat', 'metric: latency_p95, window: 1m, thresholds: { P2: ">= 800" }, for: 20s')));
    // 1 … 1000 ms from 100 sessions, odd values in one window and even ones in the next (a closed and an open sketch).
    const lat = (parity: number) => Array.from({ length: 500 }, (_, i): Beat => ({ session: `s${i % 100}`, latency_ms: 2 * i + 1 + parity }));
    const trueP95 = 950; // rank 0.95 · (1000 − 1) → the 950th smallest

    expect(h.at(T0 + SEC, lat(0))).toEqual([]); // pending
    const events = [...h.at(T0 + 15 * SEC, lat(1)), ...h.run(T0 + 20 * SEC, T0 + 21 * SEC, SEC)];

    expect(events.map(brief)).toEqual([`fired P2 ${EU} @T0+21000`]);
    const v = events[0]!.values!;
    expect(v).toMatchObject({ metric: 'latency_p95', threshold: '>= 800', samples: 1000, sessions: 100 });
    expect(Math.abs(v.value - trueP95)).toBeLessThanOrEqual(RELATIVE_ACCURACY * trueP95);
  });

  it('coalesces: many samples for one group between two evaluations make at most one event', () => {
    const h = new Harness(compile(rule('stall', STALL)));
    // One by one these would cross P2, then P1, then P0; evaluated together they are one P0 firing.
    for (let i = 0; i < 60; i++) h.ingest(T0 + SEC + i, [{ session: `s${i}`, play_ms: 10_000 - i * 150, stall_ms: i * 150 }]);

    const events = h.engine.evaluate(T0 + 2 * SEC);

    expect(events.map(brief)).toEqual([`fired P0 ${EU} @T0+2000`]);
    expect(events[0]!.values).toMatchObject({ samples: 60, sessions: 60 });
    expect(h.engine.evaluate(T0 + 2 * SEC)).toEqual([]);
    expect(h.at(T0 + 3 * SEC, crowd(5, { stall_ms: 9_000, play_ms: 1_000 }, 'more'))).toEqual([]);
  });
});

describe('RuleEngine: for, clear_for and priority changes', () => {
  const storm = crowd(10, { play_ms: 9_000, stall_ms: 1_000 }, 'storm'); // 10 %: P1
  const calm = (n: number, prefix = 'calm') => crowd(n, { play_ms: 10_000, stall_ms: 0 }, prefix);

  it('`for`: a breach is pending, and fires on a timer once it has held for `for`, without new samples', () => {
    const h = new Harness(compile(rule('stall', `${STALL}, for: 30s`)));

    expect(h.at(T0 + SEC, storm)).toEqual([]);
    expect(h.state('stall')).toMatchObject({ status: 'pending', priority: 'P1', since: T0 + SEC });
    // window boundaries re-read the (still breaching) window; 30.5 s, 30.999 s and 31 s share a window and a slow tick
    for (const t of [10, 20, 30.5, 30.999].map((s) => T0 + s * SEC)) expect(h.at(t), `T0+${t - T0}`).toEqual([]);

    const events = h.at(T0 + 31 * SEC);

    expect(events.map(brief)).toEqual([`fired P1 ${EU} @T0+31000`]);
    expect(events[0]!.values).toMatchObject({ value: 0.1, samples: 10 });
  });

  it('`for`: a pending alert is cancelled when the values recover before it elapses', () => {
    const h = new Harness(compile(rule('stall', `${STALL}, for: 30s`)));
    h.at(T0 + SEC, storm);

    expect(h.at(T0 + 11 * SEC, calm(100))).toEqual([]); // 10 000 / 1 100 000 < 2 %

    expect(h.state('stall')).toBeUndefined();
    expect(h.run(T0 + 20 * SEC, T0 + 2 * MIN, SEC)).toEqual([]);
  });

  it('clear_for: a recovery clears only after clear_for, and a new breach meanwhile keeps it firing without a new page', () => {
    const h = new Harness(compile(rule('stall', `${STALL}, clear_for: 2m`)));
    expect(h.at(T0 + SEC, storm).map(brief)).toEqual([`fired P1 ${EU} @T0+1000`]);

    expect(h.at(T0 + 11 * SEC, calm(100))).toEqual([]);
    expect(h.state('stall')).toMatchObject({ status: 'clearing', priority: 'P1', since: T0 + 11 * SEC });
    expect(h.at(T0 + 20 * SEC, crowd(10, { play_ms: 1_000, stall_ms: 9_000 }, 'again'))).toEqual([]); // 100 000 / 1 200 000: P1 again
    expect(h.state('stall')).toMatchObject({ status: 'firing', priority: 'P1', firedAt: T0 + SEC });

    expect(h.at(T0 + 21 * SEC, calm(500, 'calm2'))).toEqual([]);
    const since = T0 + 21 * SEC;
    expect(h.run(T0 + 22 * SEC, since + 2 * MIN - 1, SEC)).toEqual([]);
    const cleared = h.at(since + 2 * MIN);
    expect(cleared.map(brief)).toEqual([`cleared P1→ ${EU} @T0+141000`]);
    expect(h.state('stall')).toBeUndefined();
  });

  it('windows slide: samples leaving the window count at the next window boundary, without new samples', () => {
    const h = new Harness(compile(rule('stall', 'metric: stall_ratio, window: 30s, thresholds: { P1: "> 0.05" }, clear_for: 5s')));
    h.at(T0 + SEC, storm); // window w0: fires
    h.at(T0 + 11 * SEC, calm(5)); // window w0+1: 10 000 / 150 000, still P1

    expect(h.at(T0 + 29_999)).toEqual([]);
    expect(h.state('stall')).toMatchObject({ status: 'firing' });
    expect(h.at(T0 + 30 * SEC)).toEqual([]); // w0 left the 30 s window [w0+1, w0+3]
    expect(h.state('stall')).toMatchObject({ status: 'clearing', since: T0 + 30 * SEC });
    expect(h.at(T0 + 34_999)).toEqual([]);

    const events = h.at(T0 + 35 * SEC);

    expect(events.map(brief)).toEqual([`cleared P1→ ${EU} @T0+35000`]);
    expect(events[0]!.values).toEqual({ metric: 'stall_ratio', value: 0, threshold: '> 0.05', window_ms: 30_000, samples: 5, sessions: 5 });
  });

  it('a clearing alert shows the values of the recovery, not those of the last breach (AlertState.values)', () => {
    const h = new Harness(compile(rule('stall', `${STALL}, clear_for: 2m`)));
    h.at(T0 + SEC, storm);

    h.at(T0 + 11 * SEC, calm(100));

    expect(h.state('stall')).toMatchObject({ status: 'clearing', values: { value: 10_000 / 1_100_000, samples: 110, threshold: '> 0.02' } });
  });

  it('priority: rises at once while firing (P1 → P0), falls only after the lower level held for clear_for (P0 → P1)', () => {
    const h = new Harness(compile(rule('stall', `${STALL}, clear_for: 30s`)));
    expect(h.at(T0 + SEC, storm).map(brief)).toEqual([`fired P1 ${EU} @T0+1000`]);

    const up = h.at(T0 + 2 * SEC, crowd(10, { play_ms: 1_000, stall_ms: 9_000 }, 'heavy')); // 100 000 / 200 000
    expect(up.map(brief)).toEqual([`priority_changed P1→P0 ${EU} @T0+2000`]);
    expect(up[0]!.values).toMatchObject({ value: 0.5, threshold: '> 0.20' });

    expect(h.at(T0 + 3 * SEC, calm(50))).toEqual([]); // 100 000 / 700 000 ≈ 14 %: P1 level
    expect(h.state('stall')).toMatchObject({ status: 'firing', priority: 'P0', lowerSince: T0 + 3 * SEC, lowerTo: 'P1' });
    expect(h.run(T0 + 4 * SEC, T0 + 32 * SEC, SEC)).toEqual([]);

    const down = h.at(T0 + 33 * SEC);
    expect(down.map(brief)).toEqual([`priority_changed P0→P1 ${EU} @T0+33000`]);
    expect(down[0]!.values).toMatchObject({ value: 100_000 / 700_000, threshold: '> 0.05' });
  });
});

describe('RuleEngine: sample guards', () => {
  it('min_samples: a breach from too few samples never fires; it fires once there are enough', () => {
    const h = new Harness(compile(rule('stall', `${STALL}, min_samples: 5`)));
    const bad = (n: number, prefix: string) => crowd(n, { play_ms: 5_000, stall_ms: 5_000 }, prefix);

    expect(h.run(T0 + SEC, T0 + 5 * MIN, 10 * SEC, (t) => (t === T0 + SEC ? bad(4, 'a') : []))).toEqual([]);
    expect(h.at(T0 + 5 * MIN + 2 * SEC, bad(4, 'b'))).toEqual([]); // 4 in the last minute
    const events = h.at(T0 + 5 * MIN + 3 * SEC, bad(1, 'c'));
    expect(events.map(brief)).toEqual([`fired P0 ${EU} @T0+303000`]);
    expect(events[0]!.values).toMatchObject({ samples: 5, sessions: 5 });
  });

  it('min_sessions: many samples from one session are not enough', () => {
    const h = new Harness(compile(rule('stall', `${STALL}, min_sessions: 3`)));
    const bad = (session: string) => ({ session, play_ms: 5_000, stall_ms: 5_000 });

    expect(h.at(T0 + SEC, Array.from({ length: 20 }, () => bad('one')))).toEqual([]);
    expect(h.run(T0 + 2 * SEC, T0 + 49 * SEC, SEC)).toEqual([]);
    // Sessions count per window (one viewer beaconing six times a minute is one session, not six).
    expect(h.at(T0 + 50 * SEC, [bad('one'), bad('two')])).toEqual([]);
    const events = h.at(T0 + 51 * SEC, [bad('three')]);
    expect(events.map(brief)).toEqual([`fired P0 ${EU} @T0+51000`]);
    expect(events[0]!.values).toMatchObject({ samples: 23, sessions: 3 });
  });
});

describe('RuleEngine: grouping and filters', () => {
  it('group_by [tenant, region, isp]: one alert per ISP, only the bad ISP fires, its labels name the ISP', () => {
    const h = new Harness(compile(rule('isp', `${STALL}, group_by: [tenant, region, isp]`)));
    const good = crowd(10, { play_ms: 10_000, stall_ms: 0, dims: { isp: 'good-net', cdn: 'edge-a' } }, 'g');
    const bad = crowd(3, { play_ms: 8_000, stall_ms: 2_000, dims: { isp: 'bad-net', cdn: 'edge-a' } }, 'b');

    const events = h.at(T0 + SEC, [...good, ...bad]);

    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'fired', priority: 'P1', key: 'tenant=t,region=eu,isp=bad-net', labels: { tenant: 't', region: 'eu', isp: 'bad-net' } });
    expect(events[0]!.values).toMatchObject({ value: 0.2, samples: 3 }); // the region as a whole would be 6 000 / 130 000
    expect([...h.engine.alerts()].map((a) => a.key)).toEqual(['tenant=t,region=eu,isp=bad-net']);
  });

  it('filter {cdn: x}: watches only that CDN\'s series', () => {
    const h = new Harness(compile(rule('cdn', `${STALL}, filter: { cdn: edge-a }`)));
    const on = (cdn: string, stall: number, prefix: string) => crowd(4, { play_ms: 10_000 - stall, stall_ms: stall, dims: { cdn } }, prefix);

    expect(h.at(T0 + SEC, [...on('edge-a', 0, 'a'), ...on('edge-b', 5_000, 'b')])).toEqual([]);
    const events = h.at(T0 + 2 * SEC, on('edge-a', 3_000, 'a2')); // edge-a: 12 000 / 80 000

    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'fired', priority: 'P1', key: EU, labels: { tenant: 't', region: 'eu' } });
    expect(events[0]!.values).toMatchObject({ value: 12_000 / 80_000, samples: 8 });
  });

  it('group_by [tenant]: regions merge into one group, the ratio over the sums of both', () => {
    const h = new Harness(compile(rule('tenant', `${STALL}, group_by: [tenant]`)));
    const eu = crowd(1, { play_ms: 9_000, stall_ms: 1_000 }, 'eu');
    const us = crowd(3, { region: 'us', play_ms: 9_900, stall_ms: 100 }, 'us');

    const events = h.at(T0 + SEC, [...eu, ...us]);

    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'fired', priority: 'P2', key: 'tenant=t', labels: { tenant: 't' } });
    expect(events[0]!.values).toMatchObject({ value: 1_300 / 40_000, samples: 4, sessions: 4 });
  });
});

describe('RuleEngine: absent rules', () => {
  const ABSENT = rule('silent', 'kind: absent, for: 60s, lookback: 5m');
  const usHeartbeat = () => [{ region: 'us', session: 'u', play_ms: 10_000 }];

  it('a region that goes silent fires P0 after `for` (time moves by evaluations only) and clears when samples return', () => {
    const h = new Harness(compile(ABSENT));
    h.at(T0 + SEC, [{ session: 'e', play_ms: 10_000 }, ...usHeartbeat()]);

    const events = h.run(T0 + 10 * SEC, T0 + 10 * MIN, SEC, (t) => (t % (10 * SEC) === SEC ? usHeartbeat() : []));

    expect(events.map(brief)).toEqual([`fired P0 ${EU} @T0+61000`]); // held past the 5 m lookback while firing
    expect(events[0]!.values).toEqual({ metric: 'silence_ms', value: MIN, threshold: '>= 60000ms' });
    const back = h.at(T0 + 10 * MIN + 500, [{ session: 'e', play_ms: 10_000 }]);
    expect(back.map(brief)).toEqual([`cleared P0→ ${EU} @T0+600500`]);
  });

  it('silence counts from max(last seen, service start): a restored group does not fire before start + for', () => {
    const before = new Harness(compile(ABSENT));
    before.at(T0 + SEC, [{ session: 'e', play_ms: 10_000 }]);
    const start = T0 + 2 * MIN; // down for two minutes: already longer than `for`

    const h = new Harness(compile(ABSENT), { startedAt: start, restored: before.rows() });
    const events = h.run(start, start + 2 * MIN, SEC);

    expect(events.map(brief)).toEqual([`fired P0 ${EU} @T0+180000`]);
    expect(events[0]!.values).toMatchObject({ value: MIN });
  });

  it('a group last seen longer ago than the lookback does not fire', () => {
    const before = new Harness(compile(ABSENT));
    before.at(T0 + SEC, [{ session: 'e', play_ms: 10_000 }]);
    const start = T0 + 10 * MIN;

    const h = new Harness(compile(ABSENT), { startedAt: start, restored: before.rows() });

    expect(h.run(start, start + 5 * MIN, SEC)).toEqual([]);
  });

  it('restart: a firing absent alert stays firing while the region is still silent (no cleared/fired flap)', () => {
    const before = new Harness(compile(ABSENT));
    before.at(T0 + SEC, [{ session: 'e', play_ms: 10_000 }]);
    expect(before.run(T0 + 2 * SEC, T0 + 61 * SEC, SEC).map(brief)).toEqual([`fired P0 ${EU} @T0+61000`]);
    const start = T0 + 2 * MIN;

    const h = new Harness(compile(ABSENT), { startedAt: start, restored: before.rows() });

    expect(h.run(start, start + 3 * MIN, SEC).map(brief)).toEqual([]);
    expect(h.state('silent')).toMatchObject({ status: 'firing', firedAt: T0 + 61 * SEC });
  });
});

describe('RuleEngine: absent rules with min_baseline (the audience a silence cut off)', () => {
  const GUARDED = rule('silent', 'kind: absent, for: 60s, lookback: 1h, min_baseline: 100, baseline: 1m');
  /** `n` viewers beacon every 10 s from T0 until `until`, then nothing; evaluations every second until `to`. */
  const watch = (h: Harness, n: (t: number) => number, until: number, to: number) =>
    h.run(T0 + SEC, to, SEC, (t) => (t <= until && t % W === SEC ? audience(n(t)) : []));

  it('150 viewers cut off at once: P0, with the audience in the values', () => {
    const h = new Harness(compile(GUARDED));
    const events = watch(h, () => 150, T0 + 3 * MIN + SEC, T0 + 5 * MIN); // last beacon at T0 + 3 min + 1 s
    expect(events.map(brief)).toEqual([`fired P0 ${EU} @T0+${3 * MIN + SEC + MIN}`]);
    expect(events[0]!.values).toEqual({ metric: 'silence_ms', value: MIN, threshold: '>= 60000ms', baseline: 150 });
  });

  it('a handful of viewers, or an audience that dwindled to a handful over minutes, falls silent: nothing', () => {
    expect(watch(new Harness(compile(GUARDED)), () => 20, T0 + 3 * MIN, T0 + 10 * MIN)).toEqual([]);
    // 1000 viewers at first, fewer every 10 s: 8 left in the last minute
    const dwindle = (t: number) => Math.round(1000 * Math.exp(-(t - T0) / MIN));
    expect(dwindle(T0 + 4 * MIN)).toBeLessThan(20);
    const h = new Harness(compile(GUARDED));
    expect(watch(h, dwindle, T0 + 5 * MIN, T0 + 15 * MIN)).toEqual([]);
    expect(h.state('silent')).toBeUndefined();
  });

  it('the audience survives a restart: a silence across the restart still fires', () => {
    const before = new Harness(compile(GUARDED));
    watch(before, () => 150, T0 + 3 * MIN, T0 + 3 * MIN + 30 * SEC);
    const start = T0 + 4 * MIN;
    const h = new Harness(compile(GUARDED), { startedAt: start, restored: before.rows() });
    expect(h.run(start, start + 2 * MIN, SEC).map(brief)).toEqual([`fired P0 ${EU} @T0+${start + MIN - T0}`]);
  });
});

describe('RuleEngine: drop rules (viewers against a baseline)', () => {
  const DROP = 'kind: drop, metric: viewers, baseline: 2m, thresholds: { P0: ">= 50%", P1: ">= 30%" }, for: 30s';
  /** Pass k happens at T0 + k·10 s + 1 s, when every live session beacons. */
  const pass = (k: number) => T0 + k * W + SEC;
  const STEADY = 15; // passes 0 … 14 with everyone watching: more than the 12-window baseline

  /** `before` sessions watch for the steady passes, then only `after` of them keep beaconing until pass `until`. */
  function collapse(h: Harness, before: number, after: number, until: number): AlertEvent[] {
    return h.run(pass(0), pass(until), W, (t) => audience(t < pass(STEADY) ? before : after));
  }

  it.each([
    { kept: 40, priority: 'P0', threshold: '>= 50%' },
    { kept: 65, priority: 'P1', threshold: '>= 30%' },
  ])('viewers 100 → $kept fires $priority once the silent sessions expire (3 × interval) and `for` passes', ({ kept, priority, threshold }) => {
    const h = new Harness(compile(rule('viewers', DROP)));

    const events = collapse(h, 100, kept, STEADY + 10);

    // the last full beacon is pass 14; its sessions expire 30 s later (pass 17); `for` 30 s → pass 20
    expect(events.map(brief)).toEqual([`fired ${priority} ${EU} @T0+${pass(STEADY + 5) - T0}`]);
    expect(events[0]!.values).toEqual({ metric: 'viewers', value: (100 - kept) / 100, baseline: 100, current: kept, samples: 12, threshold });
  });

  it('freezes the baseline while firing: a long collapse does not become the new normal; recovery clears', () => {
    const h = new Harness(compile(rule('viewers', DROP)));
    expect(collapse(h, 100, 40, STEADY + 40).map(brief)).toEqual([`fired P0 ${EU} @T0+${pass(STEADY + 5) - T0}`]); // 4+ min at 40

    expect(h.state('viewers')).toMatchObject({ status: 'firing', priority: 'P0', values: { baseline: 100, current: 40 } });
    const back = h.run(pass(STEADY + 41), pass(STEADY + 42), W, () => audience(100));
    expect(back.map(brief)).toEqual([`cleared P0→ ${EU} @T0+${pass(STEADY + 42) - T0}`]);
  });

  it('within: a fall over minutes (an audience leaving) starts nothing; the same fall at once does', () => {
    const WITHIN = rule('viewers', `${DROP}, within: 30s`);
    // 100 viewers, then 10 % fewer every 30 s down to 40: 60 % below the baseline, never 30 % within 30 s
    const leaving = new Harness(compile(WITHIN));
    expect(leaving.run(pass(0), pass(STEADY + 40), W, (t) => audience(t < pass(STEADY) ? 100 : Math.max(40, Math.round(100 - 10 * Math.ceil((t - pass(STEADY) + 1) / (3 * W))))))).toEqual([]);
    expect(collapse(new Harness(compile(WITHIN)), 100, 40, STEADY + 10).map(brief)).toEqual([`fired P0 ${EU} @T0+${pass(STEADY + 5) - T0}`]);
  });

  it('min_baseline: a region too small to judge never fires', () => {
    const h = new Harness(compile(rule('viewers', `${DROP}, min_baseline: 50`)));

    expect(collapse(h, 30, 5, STEADY + 20)).toEqual([]);
    expect(h.state('viewers')).toBeUndefined();
  });
});

describe('RuleEngine: restart from stored rows', () => {
  const storm = (prefix: string) => crowd(10, { play_ms: 9_000, stall_ms: 1_000 }, prefix);

  it('a pending alert continues its `for` from the original since (fires at since + for, not restart + for)', () => {
    const rules = compile(rule('stall', `${STALL}, for: 60s`));
    const before = new Harness(rules);
    before.at(T0 + SEC, storm('a'));
    before.at(T0 + 20 * SEC, storm('b'));
    const start = T0 + 30 * SEC;

    const h = new Harness(rules, { startedAt: start, restored: before.rows() });
    const events = [...h.at(start + SEC, storm('c')), ...h.run(start + 2 * SEC, start + MIN, SEC)];

    expect(events.map(brief)).toEqual([`fired P1 ${EU} @T0+61000`]);
  });

  it('a firing alert stays firing, with no new page, when breaching data arrives in the new engine', () => {
    const rules = compile(rule('stall', STALL));
    const before = new Harness(rules);
    expect(before.at(T0 + SEC, storm('a')).map(brief)).toEqual([`fired P1 ${EU} @T0+1000`]);
    const start = T0 + 30 * SEC;

    const h = new Harness(rules, { startedAt: start, restored: before.rows() });
    const events = h.run(start + SEC, start + 2 * MIN, 10 * SEC, () => storm('c'));

    expect(events).toEqual([]);
    expect(h.state('stall')).toMatchObject({ status: 'firing', priority: 'P1', firedAt: T0 + SEC });
  });
});

describe('RuleEngine: setRules (reload)', () => {
  const LOSS = 'metric: packet_loss, window: 1m, thresholds: { P1: "> 0.05" }';
  const bad = (prefix: string) => crowd(5, { play_ms: 8_000, stall_ms: 2_000, packets_lost: 10, packets_expected: 100 }, prefix); // 20 % stall, 10 % loss

  it('a removed rule clears its firing alert; a kept rule keeps its state and judges by its new thresholds', () => {
    const h = new Harness(compile(rule('stall', STALL), rule('loss', LOSS)));
    expect(h.at(T0 + SEC, bad('a')).map((e) => `${e.rule.id} ${brief(e)}`).sort()).toEqual([`loss fired P1 ${EU} @T0+1000`, `stall fired P1 ${EU} @T0+1000`]);
    h.engine.takeChanged(true);

    const reload = h.engine.setRules(compile(rule('stall', 'metric: stall_ratio, window: 1m, thresholds: { P0: "> 0.10" }')), T0 + 5 * SEC);

    expect(reload).toHaveLength(1);
    expect(reload[0]).toMatchObject({ type: 'cleared', previous: 'P1', key: EU, at: T0 + 5 * SEC, rule: { id: 'loss' } });
    expect(h.engine.takeChanged(false).deletes).toEqual([{ rule_id: 'loss', group_key: EU }]);
    expect(h.state('loss')).toBeUndefined();
    expect(h.state('stall')).toMatchObject({ status: 'firing', priority: 'P1', firedAt: T0 + SEC });
    // the kept alert is not paged again: it rises to the new P0 level
    const after = h.run(T0 + 6 * SEC, T0 + MIN, SEC, (t) => (t === T0 + 11 * SEC ? bad('b') : []));
    expect(after.map((e) => `${e.rule.id} ${brief(e)}`)).toEqual([`stall priority_changed P1→P0 ${EU} @T0+6000`]);
  });

  it('a kept rule whose filter changed judges only the series the new filter watches', () => {
    const h = new Harness(compile(rule('stall', `${STALL}, clear_for: 10s`)));
    const traffic = (t: number): Beat[] => [
      ...crowd(5, { play_ms: 10_000, stall_ms: 0, dims: { cdn: 'edge-a' } }, `a${t}-`),
      ...crowd(5, { play_ms: 5_000, stall_ms: 5_000, dims: { cdn: 'edge-b' } }, `b${t}-`),
    ];
    expect(h.at(T0 + SEC, traffic(0)).map(brief)).toEqual([`fired P0 ${EU} @T0+1000`]); // region: 25 %

    expect(h.engine.setRules(compile(rule('stall', `${STALL}, clear_for: 10s, filter: { cdn: edge-a }`)), T0 + 5 * SEC)).toEqual([]);
    const after = h.run(T0 + 11 * SEC, T0 + 2 * MIN, SEC, (t) => (t % W === SEC ? traffic(t) : []));

    // edge-a stalls 0 %: the alert, which now means "stall on edge-a in eu", clears after clear_for
    expect(after.map(brief)).toEqual([`cleared P0→ ${EU} @T0+21000`]);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Liveness, NEW_ERROR, NEW_SESSION } from '../../src/telemetry/liveness.js';

const T = 1_700_000_000_000;
const I = 10_000; // reporting interval

describe('Liveness: distinct sessions per window', () => {
  it('flags a session as new once per window, and its error once per window', () => {
    const l = new Liveness();
    expect(l.session('tn', 's', [1], 5, T, I, false, true)).toBe(NEW_SESSION);
    expect(l.session('tn', 's', [1], 5, T, I, false, true)).toBe(0);
    expect(l.session('tn', 's', [1], 5, T, I, true, true)).toBe(NEW_ERROR); // first error in the window
    expect(l.session('tn', 's', [1], 5, T, I, true, true)).toBe(0);
    expect(l.session('tn', 's', [1], 6, T, I, true, true)).toBe(NEW_SESSION | NEW_ERROR);
    expect(l.session('tn', 't', [1], 5, T, I, true, true)).toBe(NEW_SESSION | NEW_ERROR);
  });

  it('remembers the recent windows of a session when samples arrive out of order', () => {
    const l = new Liveness();
    for (const w of [10, 11, 12, 13]) expect(l.session('tn', 's', [1], w, T, I, false, true)).toBe(NEW_SESSION);
    for (const w of [12, 10, 13, 11]) expect(l.session('tn', 's', [1], w, T, I, false, true)).toBe(0);
  });

  it('counting does not depend on liveness: a sample too old to be live is still counted once per window', () => {
    const l = new Liveness();
    expect(l.session('tn', 'old', [1], 3, T, I, true, false)).toBe(NEW_SESSION | NEW_ERROR);
    expect(l.session('tn', 'old', [1], 3, T, I, true, false)).toBe(0);
    expect(l.session('tn', 'old', [1], 2, T, I, false, false)).toBe(NEW_SESSION);
    // ...but it is not a viewer, and is forgotten at the next sweep (its late aggregate is emitted then)
    expect(l.sessionCount).toBe(0);
    expect(l.gauges(T).viewers.size).toBe(0);
    expect(l.session('tn', 'old', [1], 3, T, I, false, false)).toBe(NEW_SESSION);
  });

  it('an old sample of a live session does not extend its life', () => {
    const l = new Liveness();
    l.session('tn', 's', [1], 5, T, I, false, true); // live until T + 30 s
    l.session('tn', 's', [1], 1, T + 20_000, I, false, false);
    expect(l.gauges(T + 29_999).viewers.get(1)).toBe(1);
    expect(l.gauges(T + 30_000).viewers.get(1)).toBeUndefined();
  });
});

describe('Liveness: viewers', () => {
  it('a session is live for 3 × its interval after arrival', () => {
    const l = new Liveness();
    l.session('tn', 'a', [1, 2], 0, T, I, false, true);
    l.session('tn', 'b', [1, 3], 0, T + 5_000, 2_000, false, true); // 2 s interval: until T + 11 s
    expect(l.sessionCount).toBe(2);
    let g = l.gauges(T + 10_999);
    expect([...g.viewers].sort()).toEqual([[1, 2], [2, 1], [3, 1]]);
    g = l.gauges(T + 11_000);
    expect([...g.viewers].sort()).toEqual([[1, 1], [2, 1]]);
    expect(l.sessionCount).toBe(1);
    expect(l.gauges(T + 29_999).viewers.get(1)).toBe(1);
    expect(l.gauges(T + 30_000).viewers.size).toBe(0);
    expect(l.sessionCount).toBe(0);
  });

  it('a later arrival extends the life; an earlier arrival never shortens it', () => {
    const l = new Liveness();
    l.session('tn', 'a', [1], 0, T + 10_000, I, false, true); // until T + 40 s
    l.session('tn', 'a', [1], 0, T, I, false, true); // arrival time going backwards
    expect(l.gauges(T + 39_999).viewers.get(1)).toBe(1);
    l.session('tn', 'a', [1], 4, T + 39_999, I, false, true); // until T + 69 999
    expect(l.gauges(T + 69_998).viewers.get(1)).toBe(1);
    expect(l.gauges(T + 69_999).viewers.get(1)).toBeUndefined();
  });

  it('a session counts in the series of its latest sample', () => {
    const l = new Liveness();
    l.session('tn', 'a', [1, 2], 0, T, I, false, true);
    l.session('tn', 'a', [1, 3], 0, T + 1, I, false, true);
    const g = l.gauges(T + 2);
    expect(g.viewers.get(1)).toBe(1);
    expect(g.viewers.get(2)).toBeUndefined();
    expect(g.viewers.get(3)).toBe(1);
  });

  it('copies the series list (the caller reuses its array)', () => {
    const l = new Liveness();
    const ids = [7, 8];
    l.session('tn', 'a', ids, 0, T, I, false, true);
    l.node('tn', 'n', ids, T, T, I, 5);
    ids[1] = 9;
    const g = l.gauges(T + 1);
    expect(g.viewers.get(8)).toBe(1);
    expect(g.viewers.get(9)).toBeUndefined();
    expect(g.concurrency.get(8)).toBe(5);
  });
});

describe('Liveness: session handles', () => {
  it('a handle from find counts into its session as a lookup would', () => {
    const l = new Liveness();
    l.session('tn', 's', [1], 5, T, I, false, true);
    const h = l.find('tn', 's');
    expect(h).toBeDefined();
    expect(l.sessionOf(h, 'tn', 's', [1], 5, T + 1, I, false, true)).toBe(0);
    expect(l.sessionOf(h, 'tn', 's', [2], 6, T + 1, I, false, true)).toBe(NEW_SESSION);
    expect(l.sessionCount).toBe(1);
    expect([...l.gauges(T + 2).viewers]).toEqual([[2, 1]]);
  });

  it('a handle whose session expired is looked up again: never counted into, no route, no viewer lost', () => {
    const l = new Liveness();
    l.session('tn', 's', [1], 5, T, I, false, true);
    const h = l.find('tn', 's');
    l.attachRoute('tn', 's', () => 'route');
    expect(l.routeOf(h)).toBe('route');
    expect(l.gauges(T + 3 * I).viewers.size).toBe(0); // expired
    expect(l.routeOf(h)).toBeUndefined();
    // the session comes back: its new entry is the one counted into, through the stale handle too
    expect(l.session('tn', 's', [1], 5, T + 3 * I, I, false, true)).toBe(NEW_SESSION);
    expect(l.sessionOf(h, 'tn', 's', [1], 5, T + 3 * I, I, false, true)).toBe(0);
    expect(l.sessionCount).toBe(1);
    expect(l.gauges(T + 3 * I + 1).viewers.get(1)).toBe(1);
    // and with no new entry, a stale handle starts one
    const h2 = l.find('tn', 's');
    l.gauges(T + 7 * I);
    expect(l.sessionOf(h2, 'tn', 's', [1], 9, T + 7 * I, I, false, true)).toBe(NEW_SESSION);
    expect(l.sessionCount).toBe(1);
    expect(l.gauges(T + 7 * I + 1).viewers.get(1)).toBe(1);
  });

  it('keeps tenants apart when their samples interleave', () => {
    const l = new Liveness();
    expect(l.session('a', 's', [1], 5, T, I, false, true)).toBe(NEW_SESSION);
    expect(l.session('b', 's', [2], 5, T, I, false, true)).toBe(NEW_SESSION);
    expect(l.session('a', 's', [1], 5, T, I, false, true)).toBe(0);
    expect(l.find('b', 's')).not.toBe(l.find('a', 's'));
    expect(l.find('c', 's')).toBeUndefined();
    expect(l.sessionCount).toBe(2);
  });
});

describe('Liveness: concurrency', () => {
  it('sums each live node’s latest value by sample ts, ignoring older out-of-order samples', () => {
    const l = new Liveness();
    l.node('tn', 'n1', [1], T + 1_000, T + 1_000, I, 100);
    l.node('tn', 'n2', [1, 2], T + 1_000, T + 1_000, I, 50);
    expect(l.gauges(T + 2_000).concurrency.get(1)).toBe(150);
    l.node('tn', 'n1', [1], T + 500, T + 3_000, I, 999); // older ts: ignored (but the node is alive)
    expect(l.gauges(T + 3_000).concurrency.get(1)).toBe(150);
    l.node('tn', 'n1', [1], T + 4_000, T + 4_000, I, 120);
    l.node('tn', 'n1', [1], T + 5_000, T + 5_000, I, undefined); // no gauge in this sample: value kept
    const g = l.gauges(T + 6_000);
    expect(g.concurrency.get(1)).toBe(170);
    expect(g.concurrency.get(2)).toBe(50);
    expect(l.nodeCount).toBe(2);
    // n2 last arrived at T+1 s → gone at T+31 s; n1 at T+5 s → T+35 s
    expect(l.gauges(T + 31_000).concurrency.get(2)).toBeUndefined();
    expect(l.gauges(T + 34_999).concurrency.get(1)).toBe(120);
    expect(l.gauges(T + 35_000).concurrency.size).toBe(0);
    expect(l.nodeCount).toBe(0);
  });

  it('a node that never sent a concurrency value adds nothing', () => {
    const l = new Liveness();
    l.node('tn', 'n', [1], T, T, I, undefined);
    expect(l.nodeCount).toBe(1);
    expect(l.gauges(T + 1).concurrency.has(1)).toBe(false);
  });

  it('nodes are not viewers and sessions are not concurrency', () => {
    const l = new Liveness();
    l.node('tn', 'n', [1], T, T, I, 10);
    l.session('tn', 's', [1], 0, T, I, false, true);
    const g = l.gauges(T + 1);
    expect(g.viewers.get(1)).toBe(1);
    expect(g.concurrency.get(1)).toBe(10);
  });
});

describe('Liveness: incremental gauges equal a from-scratch count (model-based)', () => {
  type Op =
    | { kind: 'session'; tenant: number; id: number; series: number[]; dt: number; interval: number; live: boolean }
    | { kind: 'node'; tenant: number; id: number; series: number[]; dt: number; interval: number; ts: number; value: number | undefined }
    | { kind: 'gauges'; dt: number };
  const seriesArb = fc.uniqueArray(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 });
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('session' as const), tenant: fc.integer({ min: 0, max: 1 }), id: fc.integer({ min: 0, max: 8 }), series: seriesArb, dt: fc.integer({ min: 0, max: 7000 }), interval: fc.constantFrom(1000, 2000, 10_000), live: fc.boolean() }),
    fc.record({ kind: fc.constant('node' as const), tenant: fc.integer({ min: 0, max: 1 }), id: fc.integer({ min: 0, max: 4 }), series: seriesArb, dt: fc.integer({ min: 0, max: 7000 }), interval: fc.constantFrom(1000, 5000, 10_000), ts: fc.integer({ min: 0, max: 50 }), value: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined }) }),
    fc.record({ kind: fc.constant('gauges' as const), dt: fc.integer({ min: 0, max: 40_000 }) }),
  );

  it('over random arrivals, series changes, out-of-order gauges and expiries', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const l = new Liveness();
        const sessions = new Map<string, { expires: number; series: number[] }>();
        const nodes = new Map<string, { expires: number; series: number[]; ts: number; value?: number }>();
        let now = T;
        for (const o of ops) {
          now += o.dt;
          if (o.kind === 'session') {
            l.session(`t${o.tenant}`, `s${o.id}`, o.series, 0, now, o.interval, false, o.live);
            const k = `${o.tenant}/${o.id}`;
            const m = sessions.get(k);
            if (o.live) sessions.set(k, { expires: Math.max(m?.expires ?? 0, now + 3 * o.interval), series: o.series });
          } else if (o.kind === 'node') {
            l.node(`t${o.tenant}`, `n${o.id}`, o.series, o.ts, now, o.interval, o.value);
            const k = `${o.tenant}/${o.id}`;
            const m = nodes.get(k) ?? { expires: 0, series: o.series, ts: -Infinity };
            m.expires = Math.max(m.expires, now + 3 * o.interval);
            m.series = o.series;
            if (o.value !== undefined && o.ts >= m.ts) Object.assign(m, { ts: o.ts, value: o.value });
            nodes.set(k, m);
          } else {
            const g = l.gauges(now);
            // The model drops what expired at this sweep, as Liveness does.
            for (const [k, m] of sessions) if (m.expires <= now) sessions.delete(k);
            for (const [k, m] of nodes) if (m.expires <= now) nodes.delete(k);
            const viewers = new Map<number, number>();
            for (const m of sessions.values()) for (const id of m.series) viewers.set(id, (viewers.get(id) ?? 0) + 1);
            const concurrency = new Map<number, number>();
            for (const m of nodes.values()) if (m.value !== undefined) for (const id of m.series) concurrency.set(id, (concurrency.get(id) ?? 0) + m.value);
            expect(new Map(g.viewers)).toEqual(viewers);
            expect(new Map(g.concurrency)).toEqual(concurrency);
            expect(l.sessionCount).toBe(sessions.size);
            expect(l.nodeCount).toBe(nodes.size);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('Liveness: packed session state against a plain model', () => {
  type Op =
    | { kind: 'session'; id: number; series: number[]; window: number; dt: number; interval: number; error: boolean; live: boolean }
    | { kind: 'node'; id: number; series: number[]; dt: number }
    | { kind: 'gauges'; dt: number };
  const seriesArb = fc.uniqueArray(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 });
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('session' as const), id: fc.integer({ min: 0, max: 6 }), series: seriesArb, window: fc.integer({ min: 0, max: 9 }), dt: fc.integer({ min: 0, max: 5000 }), interval: fc.constantFrom(1000, 10_000), error: fc.boolean(), live: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('node' as const), id: fc.integer({ min: 0, max: 2 }), series: seriesArb, dt: fc.integer({ min: 0, max: 5000 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('gauges' as const), dt: fc.integer({ min: 0, max: 40_000 }) }) },
  );

  /** The last 4 distinct windows, oldest replaced first; true when `w` was not among them. */
  function remember(list: number[], w: number): boolean {
    if (list.includes(w)) return false;
    list.push(w);
    if (list.length > 4) list.shift();
    return true;
  }

  it('flags new sessions and errors per window as the model does, and shares one series list per distinct series', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 150 }), (ops) => {
        const l = new Liveness();
        interface M { expires: number; series: number[]; counted: number[]; errored: number[] }
        const live = new Map<number, M>();
        let stale = new Map<number, M>();
        const nodes = new Map<number, { expires: number; series: number[] }>();
        let now = T;
        for (const o of ops) {
          now += o.dt;
          if (o.kind === 'session') {
            const caller = [...o.series];
            const flags = l.session('tn', `s${o.id}`, caller, o.window, now, o.interval, o.error, o.live);
            caller.fill(99); // the caller reuses its array
            let m = live.get(o.id);
            if (!m && !o.live) {
              m = stale.get(o.id);
              if (!m) stale.set(o.id, (m = { expires: 0, series: [], counted: [], errored: [] }));
            }
            if (!m) live.set(o.id, (m = { expires: now + 3 * o.interval, series: o.series, counted: [], errored: [] }));
            else if (o.live) {
              m.expires = Math.max(m.expires, now + 3 * o.interval);
              m.series = o.series;
            }
            const want = (remember(m.counted, o.window) ? NEW_SESSION : 0) | (o.error && remember(m.errored, o.window) ? NEW_ERROR : 0);
            expect(flags).toBe(want);
          } else if (o.kind === 'node') {
            l.node('tn', `n${o.id}`, o.series, now, now, I, 1);
            nodes.set(o.id, { expires: Math.max(nodes.get(o.id)?.expires ?? 0, now + 3 * I), series: o.series });
          } else {
            const g = l.gauges(now);
            stale = new Map();
            for (const [k, m] of live) if (m.expires <= now) live.delete(k);
            for (const [k, m] of nodes) if (m.expires <= now) nodes.delete(k);
            const viewers = new Map<number, number>();
            for (const m of live.values()) for (const id of m.series) viewers.set(id, (viewers.get(id) ?? 0) + 1);
            expect(new Map(g.viewers)).toEqual(viewers);
            expect(l.sessionCount).toBe(live.size);
          }
          const distinct = new Set([...live.values(), ...nodes.values()].map((m) => m.series.join()));
          expect(l.tupleCount).toBe(distinct.size);
        }
      }),
      { numRuns: 500 },
    );
  });
});

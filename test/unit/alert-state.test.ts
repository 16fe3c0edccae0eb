import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AlertState, type Observation, type Transition, type Values, inactiveState, step } from '../../src/rules/alert-state.js';
import { parseComparison } from '../../src/rules/comparison.js';
import type { MetricReading } from '../../src/rules/metric-read.js';
import { absentObservation, dropObservation, median, thresholdObservation } from '../../src/rules/observe.js';
import type { AbsentRule, DropRule, Level, ThresholdRule } from '../../src/rules/rule-schema.js';
import { PRIORITIES, type Priority } from '../../src/shared/priority.js';

/** Time is an argument everywhere: every test counts milliseconds from T0. */
const T0 = 1_700_000_000_000;
const S = 1000;
const MIN = 60 * S;
const HOUR = 60 * MIN;

const values = (value: number): Values => ({ metric: 'stall_ratio', value });
const breach = (priority: Priority, value = 0.1): Observation => ({ kind: 'breach', priority, values: values(value) });
const OK: Observation = { kind: 'ok', values: values(0.01) };
const NODATA: Observation = { kind: 'nodata' };
const INSUFFICIENT: Observation = { kind: 'insufficient', values: values(0.3) };

/** One alert with its `for` and `clear_for`; `at(t, o)` steps it with observation o at T0 + t. */
function alert(forMs: number, clearForMs: number) {
  const state: AlertState = inactiveState(T0);
  return { state, at: (t: number, o: Observation): Transition | undefined => step(state, o, T0 + t, forMs, clearForMs) };
}

/** An alert that fired at `priority` at T0. */
function firingAlert(priority: Priority, clearForMs: number) {
  const a = alert(0, clearForMs);
  expect(a.at(0, breach(priority))).toMatchObject({ type: 'fired', priority });
  return a;
}

describe('alert state: for', () => {
  it('fires at exactly since + for, not 1 ms before', () => {
    const a = alert(30 * S, MIN);
    expect(a.at(0, breach('P1'))).toBeUndefined();
    expect(a.state).toMatchObject({ status: 'pending', since: T0, priority: 'P1' });
    expect(a.at(30 * S - 1, breach('P1'))).toBeUndefined();
    expect(a.state.status).toBe('pending');
    expect(a.at(30 * S, breach('P1', 0.2))).toEqual({ type: 'fired', priority: 'P1', values: values(0.2) });
    expect(a.state).toMatchObject({ status: 'firing', priority: 'P1', since: T0 + 30 * S, firedAt: T0 + 30 * S });
  });

  it('for 0 fires on the first breach', () => {
    expect(alert(0, MIN).at(0, breach('P0'))).toEqual({ type: 'fired', priority: 'P0', values: values(0.1) });
  });

  it('a pending alert fires with the priority of the breach that completes for', () => {
    const a = alert(30 * S, MIN);
    a.at(0, breach('P2'));
    a.at(10 * S, breach('P0'));
    expect(a.at(30 * S, breach('P1'))).toMatchObject({ type: 'fired', priority: 'P1' });
  });

  it.each([['ok', OK], ['nodata', NODATA], ['insufficient', INSUFFICIENT]])('pending is cancelled by %s and for starts again', (_, o) => {
    const a = alert(30 * S, MIN);
    a.at(0, breach('P1'));
    expect(a.at(10 * S, o)).toBeUndefined();
    expect(a.state).toEqual(inactiveState(T0 + 10 * S));
    a.at(20 * S, breach('P1'));
    expect(a.at(30 * S, breach('P1'))).toBeUndefined(); // would have fired without the cancel
    expect(a.at(50 * S - 1, breach('P1'))).toBeUndefined();
    expect(a.at(50 * S, breach('P1'))).toMatchObject({ type: 'fired' });
  });

  it('insufficient data never starts an alert, even with for 0', () => {
    const a = alert(0, MIN);
    expect(a.at(0, INSUFFICIENT)).toBeUndefined();
    expect(a.state.status).toBe('inactive');
  });
});

describe('alert state: clear_for and hysteresis', () => {
  it('a value below the lowest threshold only starts clearing; it clears after clear_for of non-breach, not 1 ms before', () => {
    const a = firingAlert('P1', MIN);
    expect(a.at(10 * S, OK)).toBeUndefined();
    expect(a.state).toMatchObject({ status: 'clearing', since: T0 + 10 * S, priority: 'P1', values: OK.values });
    expect(a.at(40 * S, NODATA)).toBeUndefined(); // no data counts as recovered
    expect(a.at(70 * S - 1, OK)).toBeUndefined();
    expect(a.state.status).toBe('clearing');
    expect(a.at(70 * S, OK)).toEqual({ type: 'cleared', previous: 'P1', values: OK.values });
    expect(a.state).toEqual(inactiveState(T0 + 70 * S));
  });

  it('clearing on no data reports no values', () => {
    const a = firingAlert('P2', MIN);
    a.at(10 * S, NODATA);
    expect(a.at(70 * S, NODATA)).toEqual({ type: 'cleared', previous: 'P2', values: undefined });
  });

  it('a breach during clearing returns to firing with no event and restarts the clear timer', () => {
    const a = firingAlert('P1', MIN);
    a.at(10 * S, OK);
    expect(a.at(40 * S, breach('P1'))).toBeUndefined();
    expect(a.state).toMatchObject({ status: 'firing', priority: 'P1', since: T0 + 40 * S, firedAt: T0 });
    expect(a.at(50 * S, OK)).toBeUndefined();
    expect(a.at(70 * S, OK)).toBeUndefined(); // the first timer would have cleared here
    expect(a.at(110 * S - 1, OK)).toBeUndefined();
    expect(a.at(110 * S, OK)).toMatchObject({ type: 'cleared', previous: 'P1' });
  });

  it('clear_for 0 clears on the first non-breach', () => {
    expect(firingAlert('P0', 0).at(10 * S, OK)).toMatchObject({ type: 'cleared', previous: 'P0' });
  });
});

describe('alert state: priority changes', () => {
  it('a rise while firing is immediate', () => {
    const a = firingAlert('P2', MIN);
    expect(a.at(10 * S, breach('P0', 0.5))).toEqual({ type: 'priority_changed', priority: 'P0', previous: 'P2', values: values(0.5) });
    expect(a.state).toMatchObject({ status: 'firing', priority: 'P0' });
  });

  it('a rise while clearing is immediate and returns to firing', () => {
    const a = firingAlert('P2', MIN);
    a.at(10 * S, OK);
    expect(a.at(20 * S, breach('P1'))).toMatchObject({ type: 'priority_changed', priority: 'P1', previous: 'P2' });
    expect(a.state.status).toBe('firing');
  });

  it('a fall waits until lower levels held clear_for, then goes to the most severe of them', () => {
    const a = firingAlert('P0', MIN);
    expect(a.at(10 * S, breach('P2'))).toBeUndefined();
    expect(a.at(40 * S, breach('P1'))).toBeUndefined();
    expect(a.at(70 * S - 1, breach('P3'))).toBeUndefined();
    expect(a.state.priority).toBe('P0');
    expect(a.at(70 * S, breach('P3', 0.03))).toEqual({ type: 'priority_changed', priority: 'P1', previous: 'P0', values: values(0.03) });
    a.at(80 * S, OK);
    expect(a.at(140 * S, OK)).toMatchObject({ type: 'cleared', previous: 'P1' });
  });

  it('a return to the firing level restarts the wait for a fall', () => {
    const a = firingAlert('P0', MIN);
    a.at(10 * S, breach('P1'));
    expect(a.at(30 * S, breach('P0'))).toBeUndefined();
    a.at(40 * S, breach('P1'));
    expect(a.at(70 * S, breach('P1'))).toBeUndefined(); // 60 s after the first P1, but only 30 s after the second
    expect(a.at(100 * S - 1, breach('P1'))).toBeUndefined();
    expect(a.at(100 * S, breach('P1'))).toMatchObject({ type: 'priority_changed', priority: 'P1', previous: 'P0' });
  });
});

describe('alert state: insufficient data', () => {
  it('keeps a firing alert firing', () => {
    const a = firingAlert('P1', MIN);
    for (const t of [10 * S, MIN, HOUR]) expect(a.at(t, INSUFFICIENT)).toBeUndefined();
    expect(a.state).toMatchObject({ status: 'firing', priority: 'P1', since: T0 });
  });

  it('lets a clearing alert finish clearing', () => {
    const a = firingAlert('P1', MIN);
    a.at(10 * S, OK);
    expect(a.at(40 * S, INSUFFICIENT)).toBeUndefined();
    expect(a.at(70 * S, INSUFFICIENT)).toEqual({ type: 'cleared', previous: 'P1', values: INSUFFICIENT.values });
  });
});

describe('alert state: properties over random observation sequences', () => {
  const observation = fc.oneof(
    fc.constantFrom(...PRIORITIES).map((p) => breach(p)),
    fc.constantFrom(OK, NODATA, INSUFFICIENT),
  );
  const duration = fc.oneof(fc.constantFrom(0, 10 * S, MIN), fc.integer({ min: 0, max: 2 * MIN }));
  const steps = fc.array(fc.record({ dt: fc.integer({ min: 0, max: 45 * S }), o: observation }), { maxLength: 150 });

  it('events alternate fired … cleared, follow the priority reported, and respect for and clear_for', () => {
    fc.assert(fc.property(duration, duration, steps, (forMs, clearForMs, seq) => {
      const state = inactiveState(T0);
      let now = T0;
      let reported: Priority | undefined; // the priority of the open alert, as told by its events
      let breachRunSince: number | undefined; // since when every observation has been a breach
      let calmSince: number | undefined; // since when no observation has been a breach
      for (const { dt, o } of seq) {
        now += dt;
        if (o.kind === 'breach') [breachRunSince, calmSince] = [breachRunSince ?? now, undefined];
        else [breachRunSince, calmSince] = [undefined, calmSince ?? now];
        const e = step(state, o, now, forMs, clearForMs);
        switch (e?.type) {
          case 'fired':
            expect(reported, 'fired twice without a cleared between').toBeUndefined();
            expect(now - breachRunSince!).toBeGreaterThanOrEqual(forMs);
            reported = e.priority;
            break;
          case 'priority_changed':
            expect(e.previous).toBe(reported);
            expect(e.priority).not.toBe(e.previous);
            reported = e.priority;
            break;
          case 'cleared':
            expect(e.previous).toBe(reported);
            expect(now - calmSince!).toBeGreaterThanOrEqual(clearForMs);
            reported = undefined;
            break;
        }
        const open = state.status === 'firing' || state.status === 'clearing';
        expect(open).toBe(reported !== undefined);
        if (open) expect(state.priority).toBe(reported);
      }
    }), { numRuns: 500 });
  });
});

const level = (priority: Priority, text: string): Level => ({ priority, cmp: parseComparison(text)! });

const BASE: Omit<AbsentRule, 'kind' | 'priority' | 'lookbackMs' | 'minBaseline' | 'baselineMs'> = {
  id: 'rule', description: 'a rule', file: 'test.yaml', groupBy: ['tenant', 'region'], filter: new Map(), dim: undefined,
  forMs: 0, clearForMs: 0, runbook: undefined, labels: {},
};

const thresholdRule = (o: Partial<ThresholdRule> = {}): ThresholdRule => ({
  ...BASE, kind: 'threshold', metric: 'stall_ratio', windowMs: MIN, levels: [level('P1', '> 0.05'), level('P2', '> 0.02')],
  minSamples: 0, minSessions: 0, ...o,
});
const dropRule = (o: Partial<DropRule> = {}): DropRule => ({
  ...BASE, kind: 'drop', metric: 'viewers', baselineMs: 15 * MIN, levels: [level('P0', '>= 50%'), level('P1', '>= 30%')],
  minBaseline: 50, withinMs: undefined, ...o,
});
const absentRule: AbsentRule = { ...BASE, kind: 'absent', priority: 'P0', forMs: MIN, lookbackMs: HOUR, minBaseline: 0, baselineMs: MIN };

/** The priority of a breach, else the kind of observation. */
const verdict = (o: Observation): string => (o.kind === 'breach' ? o.priority : o.kind);
const reading = (value: number | undefined, samples = 100, sessions = 100): MetricReading => ({ value, samples, sessions });

describe('thresholdObservation', () => {
  it('no samples, or nothing the metric is made of, is nodata', () => {
    expect(thresholdObservation(thresholdRule(), reading(0.3, 0, 0))).toEqual({ kind: 'nodata' });
    expect(thresholdObservation(thresholdRule(), reading(undefined, 5, 5))).toEqual({ kind: 'nodata' });
  });

  it('below min_samples or min_sessions is insufficient, at the minimum it is judged', () => {
    const rule = thresholdRule({ minSamples: 30, minSessions: 20 });
    expect(thresholdObservation(rule, reading(0.3, 29, 25))).toEqual({
      kind: 'insufficient', values: { metric: 'stall_ratio', value: 0.3, window_ms: MIN, samples: 29, sessions: 25 },
    });
    expect(thresholdObservation(rule, reading(0.3, 40, 19)).kind).toBe('insufficient');
    expect(thresholdObservation(rule, reading(0.3, 30, 20))).toMatchObject({ kind: 'breach', priority: 'P1' });
  });

  it('the most severe level that holds breaches; below every level is ok with the least severe threshold', () => {
    const judge = (value: number) => thresholdObservation(thresholdRule(), reading(value, 40, 30));
    expect(judge(0.06)).toEqual({
      kind: 'breach', priority: 'P1',
      values: { metric: 'stall_ratio', value: 0.06, threshold: '> 0.05', window_ms: MIN, samples: 40, sessions: 30 },
    });
    expect(judge(0.05)).toMatchObject({ kind: 'breach', priority: 'P2', values: { threshold: '> 0.02' } });
    expect(judge(0.02)).toMatchObject({ kind: 'ok', values: { value: 0.02, threshold: '> 0.02' } });
  });

  it('downward levels breach on low values', () => {
    const rule = thresholdRule({ metric: 'viewers', levels: [level('P0', '< 10'), level('P2', '< 100')] });
    expect([5, 50, 100].map((v) => verdict(thresholdObservation(rule, reading(v))))).toEqual(['P0', 'P2', 'ok']);
  });
});

describe('median', () => {
  it.each<[number[], number | undefined]>([
    [[], undefined], [[7], 7], [[3, 1, 2], 2], [[4, 1, 3, 2], 2.5], [[10, 2, 100, 9, 1000], 10], [[5, 5, 1, 9], 5],
  ])('median(%j) = %s', (list, expected) => {
    expect(median(list)).toBe(expected);
  });

  it('sorts numerically and leaves its input alone', () => {
    const list = [100, 9, 20];
    expect(median(list)).toBe(20);
    expect(list).toEqual([100, 9, 20]);
  });
});

describe('dropObservation', () => {
  const BASELINE = [90, 100, 1000]; // median 100; its mean (396.7) would make any value look like a collapse

  it('no current value or no baseline is nodata', () => {
    expect(dropObservation(dropRule(), undefined, BASELINE)).toEqual({ kind: 'nodata' });
    expect(dropObservation(dropRule(), 10, [])).toEqual({ kind: 'nodata' });
  });

  it('fewer than 3 baseline windows, a baseline below min_baseline, or a zero baseline is insufficient', () => {
    expect(dropObservation(dropRule(), 10, [100, 100])).toMatchObject({ kind: 'insufficient', values: { samples: 2 } });
    expect(dropObservation(dropRule({ minBaseline: 150 }), 10, BASELINE)).toMatchObject({ kind: 'insufficient', values: { baseline: 100 } });
    expect(dropObservation(dropRule({ minBaseline: 0 }), 0, [0, 0, 0]).kind).toBe('insufficient');
  });

  it('a 60 % drop against the median breaches ">= 50%" with baseline and current values', () => {
    expect(dropObservation(dropRule(), 40, BASELINE)).toEqual({
      kind: 'breach', priority: 'P0',
      values: { metric: 'viewers', value: 0.6, threshold: '>= 50%', baseline: 100, current: 40, samples: 3 },
    });
  });

  it('levels hold at their boundary; a rise is no drop', () => {
    expect([50, 51, 70, 71, 150].map((current) => verdict(dropObservation(dropRule(), current, BASELINE)))).toEqual(['P0', 'P1', 'P1', 'ok', 'ok']);
    expect(dropObservation(dropRule(), 150, BASELINE)).toMatchObject({ values: { value: 0, threshold: '>= 30%' } });
  });

  it('with `within`, an inactive alert counts only the fall from the recent high; a started one the whole fall', () => {
    const within = dropRule({ withinMs: 30 * S });
    // the audience has been leaving for minutes: 100 → 70 recently, 60 now — 10 % of the median within 30 s
    expect(dropObservation(within, 60, BASELINE, { recent: 70 })).toMatchObject({ kind: 'ok', values: { value: 0.1 } });
    // at once: the recent high was the median
    expect(verdict(dropObservation(within, 40, BASELINE, { recent: 100 }))).toBe('P0');
    // a recent high above the median counts from the median
    expect(dropObservation(within, 40, BASELINE, { recent: 400 })).toMatchObject({ values: { value: 0.6 } });
    expect(verdict(dropObservation(within, 40, BASELINE, { recent: 45, active: true }))).toBe('P0');
    expect(verdict(dropObservation(dropRule(), 40, BASELINE, { recent: 45 }))).toBe('P0');
  });

  it('around the end of a planned event a fall is not judged (no new alert; a firing one holds)', () => {
    expect(dropObservation(dropRule(), 10, BASELINE, { plannedEnd: true })).toMatchObject({ kind: 'insufficient', values: { value: 0.9 } });
  });
});

describe('absentObservation', () => {
  const NOW = T0 + 10 * HOUR;
  const observe = (lastSeen: number | undefined, { startedAt = T0, firing = false } = {}) =>
    absentObservation(absentRule, lastSeen, NOW, startedAt, firing);

  it('a group never seen is nodata', () => {
    expect(observe(undefined)).toEqual({ kind: 'nodata' });
  });

  it('breaches once silent for `for`, not 1 ms before', () => {
    expect(observe(NOW - MIN)).toEqual({
      kind: 'breach', priority: 'P0', values: { metric: 'silence_ms', value: MIN, threshold: `>= ${MIN}ms` },
    });
    expect(observe(NOW - MIN + 1)).toMatchObject({ kind: 'ok', values: { value: MIN - 1 } });
  });

  it('measures silence from the service start when that is later than the last sample', () => {
    expect(observe(NOW - 10 * MIN, { startedAt: NOW - 30 * S })).toMatchObject({ kind: 'ok', values: { value: 30 * S } });
    expect(observe(NOW - 10 * MIN, { startedAt: NOW - MIN })).toMatchObject({ kind: 'breach', values: { value: MIN } });
  });

  it('a firing alert keeps counting from the last sample across a restart (no clear and re-page)', () => {
    expect(observe(NOW - 10 * MIN, { startedAt: NOW - 30 * S, firing: true })).toMatchObject({ kind: 'breach', values: { value: 10 * MIN } });
  });

  it('a group last seen before the lookback is not judged, unless its alert is already firing', () => {
    expect(observe(NOW - HOUR).kind).toBe('breach');
    expect(observe(NOW - HOUR - 1)).toMatchObject({ kind: 'ok', values: { value: HOUR + 1 } });
    expect(observe(NOW - 2 * HOUR, { startedAt: NOW - 5 * MIN }).kind).toBe('ok');
    expect(observe(NOW - HOUR - 1, { firing: true })).toMatchObject({ kind: 'breach', values: { value: HOUR + 1 } });
  });

  it('with min_baseline, a silence that cut off fewer viewers is not judged; the audience is in the values', () => {
    const guarded: AbsentRule = { ...absentRule, minBaseline: 100 };
    const at = (audience: number | undefined) => absentObservation(guarded, NOW - 2 * MIN, NOW, T0, false, { audience });
    expect(at(99)).toEqual({ kind: 'insufficient', values: { metric: 'silence_ms', value: 2 * MIN, threshold: `>= ${MIN}ms`, baseline: 99 } });
    expect(at(undefined).kind).toBe('insufficient');
    expect(at(100)).toMatchObject({ kind: 'breach', priority: 'P0', values: { baseline: 100 } });
    expect(absentObservation(guarded, NOW - 30 * S, NOW, T0, false, { audience: 5 })).toMatchObject({ kind: 'ok', values: { baseline: 5 } });
  });

  it('a silence after the planned end of an event is not judged, whatever the audience', () => {
    expect(absentObservation(absentRule, NOW - 2 * MIN, NOW, T0, false, { plannedEnd: true }).kind).toBe('insufficient');
  });
});

import { describe, expect, it } from 'vitest';
import { LoopLag, PROBE_INTERVAL_MS, SATURATED_AFTER_MS, WORK_BUDGETS } from '../../src/telemetry/loop-lag.js';

const MAX = 100;

/** A LoopLag (budget MAX ms) on a fake clock and a fake CPU clock (idle unless a test spends CPU). */
function fake() {
  const c = { t: 0, cpu: 0 };
  const lag = new LoopLag(MAX, () => c.t, () => c.cpu);
  /** Turns of `turnMs` for `ms`, the probe running between them. */
  const turns = (turnMs: number, ms: number) => {
    for (let s = 0; s < ms; s += PROBE_INTERVAL_MS + turnMs) {
      c.t += PROBE_INTERVAL_MS + turnMs;
      lag.probe();
    }
  };
  return { c, lag, turns };
}

describe('LoopLag: the turn', () => {
  it('reads 0 while the probe runs on time', () => {
    const { c, lag } = fake();
    for (let i = 0; i < 5; i++) {
      c.t += PROBE_INTERVAL_MS;
      expect(lag.turnMs()).toBe(0);
      lag.probe();
    }
  });

  it('sees a long turn while it lasts, before the probe can run, and forgets it once the probe has run', () => {
    const { c, lag } = fake();
    c.t = PROBE_INTERVAL_MS + 40;
    expect(lag.turnMs()).toBe(40);
    c.t = PROBE_INTERVAL_MS + 500;
    expect(lag.turnMs()).toBe(500);
    lag.probe();
    c.t += 2;
    expect(lag.turnMs()).toBe(0);
  });
});

describe('LoopLag: saturation and shedding', () => {
  it('sheds a long turn once every turn has lasted over the budget for SATURATED_AFTER_MS', () => {
    const { c, lag, turns } = fake();
    turns(150, SATURATED_AFTER_MS - 200);
    c.t += PROBE_INTERVAL_MS + 150;
    expect(lag.busy()).toBeUndefined(); // not for long enough yet
    lag.probe();
    turns(150, 400);
    expect(lag.saturatedMs()).toBeGreaterThanOrEqual(SATURATED_AFTER_MS);
    c.t += PROBE_INTERVAL_MS + 90;
    expect(lag.busy()).toBeUndefined(); // this turn is within the budget
    c.t += 30;
    expect(lag.busy()).toMatch(/^every event-loop turn over 100 ms for 1\.\d s, this one for 120 ms$/);
  });

  it('a turn within the budget ends the saturation', () => {
    const { c, lag, turns } = fake();
    turns(150, 2000);
    c.t += PROBE_INTERVAL_MS + 20;
    lag.probe();
    expect(lag.saturatedMs()).toBe(0);
    c.t += PROBE_INTERVAL_MS + 500;
    expect(lag.busy()).toBeUndefined();
  });

  it('sheds nothing for one long pause, however long (a process stopped while it waited for requests)', () => {
    const { c, lag, turns } = fake();
    turns(0, 1000);
    c.t += 3000; // stopped: the probe has not run since
    expect(lag.turnMs()).toBeGreaterThan(2000);
    expect(lag.busy()).toBeUndefined();
    lag.probe(); // the late probe, then a request in a long turn right after
    c.t += PROBE_INTERVAL_MS + 150;
    expect(lag.busy()).toBeDefined(); // only if the loop stays late: the next on-time turn clears it
    lag.probe();
    c.t += PROBE_INTERVAL_MS;
    lag.probe();
    c.t += PROBE_INTERVAL_MS + 150;
    expect(lag.busy()).toBeUndefined();
  });

  it('sheds nothing for pauses between which the loop catches up (stopped 150 ms of every 200 ms, lightly loaded)', () => {
    const { c, lag } = fake();
    for (let period = 0; period < 50; period++) {
      c.t += 150; // stopped
      c.t += 5; // the requests that arrived meanwhile, in the turn that follows
      expect(lag.busy()).toBeUndefined();
      for (let k = 0; k < 4; k++) {
        lag.probe(); // late the first time, on time the next: the loop has caught up and waits for I/O
        c.t += PROBE_INTERVAL_MS;
      }
      c.t += 5;
    }
  });

  it('sheds a long turn at once when the process spent WORK_BUDGETS budgets of it on the CPU (a flood on a free CPU)', () => {
    const { c, lag, turns } = fake();
    turns(0, 1000);
    c.t += PROBE_INTERVAL_MS + 400;
    c.cpu += MAX * WORK_BUDGETS - 1;
    expect(lag.busy()).toBeUndefined(); // long, but half of it off the CPU: a pause or a contended core
    c.t += 5;
    c.cpu += 2;
    expect(lag.busy()).toBe('event-loop turn over 100 ms: 405 ms, 201 ms of it on the CPU');
    lag.probe(); // the turn ended: the next one starts with no CPU spent
    c.t += PROBE_INTERVAL_MS + 150;
    expect(lag.busy()).toBeUndefined();
  });

  it('does not count CPU spent within the budget: a turn must last over it first', () => {
    const { c, lag } = fake();
    c.t += PROBE_INTERVAL_MS + 90;
    c.cpu += 250; // several threads (GC helpers, workers) can spend more CPU than the loop's wall time
    expect(lag.busy()).toBeUndefined();
  });
});

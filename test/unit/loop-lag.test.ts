import { describe, expect, it } from 'vitest';
import { BUSY_UTILIZATION, BUSY_WINDOW_MS, LoopLag, PROBE_INTERVAL_MS, QUEUED_REQUESTS } from '../../src/telemetry/loop-lag.js';

/** A LoopLag on a fake clock: `t` ms now, `idle` ms of it spent waiting for I/O so far. */
function fake() {
  const c = { t: 0, idle: 0 };
  const lag = new LoopLag(() => c.t, () => c.idle);
  /** The loop runs `ms`, busy for `busyShare` of it, the probe on time. */
  const run = (ms: number, busyShare: number) => {
    for (let s = 0; s < ms; s += PROBE_INTERVAL_MS) {
      c.t += PROBE_INTERVAL_MS;
      c.idle += PROBE_INTERVAL_MS * (1 - busyShare);
      lag.probe();
    }
  };
  /** `n` requests arrive at a shedding point; how many are shed. */
  const take = (n: number, maxMs: number) => Array.from({ length: n }, () => lag.take(maxMs)).filter(Boolean).length;
  return { c, lag, run, take };
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

describe('LoopLag: utilization', () => {
  it('is the busy share of the last second, the current turn counting as busy so far', () => {
    const { c, lag, run } = fake();
    run(3000, 0.25);
    expect(lag.utilization()).toBeCloseTo(0.25, 2);
    run(BUSY_WINDOW_MS + 200, 1);
    expect(lag.utilization()).toBeCloseTo(1, 2);
    run(BUSY_WINDOW_MS + 200, 0);
    expect(lag.utilization()).toBeLessThan(0.15);
    c.t += 500; // a turn of 500 ms, not over yet, after a second of idle snapshots: ~500 / 1500
    expect(lag.utilization()).toBeGreaterThan(0.3);
  });

  it('counts less history than the window as idle: a start-up’s work is not an overload', () => {
    const { lag, run } = fake();
    run(300, 1);
    expect(lag.utilization()).toBeCloseTo(0.3, 2);
  });

  it('counts a pause spent waiting for I/O as idle (a process stopped while idle)', () => {
    const { c, lag, run } = fake();
    run(2000, 0.1);
    c.t += 150;
    c.idle += 150;
    lag.probe();
    expect(lag.utilization()).toBeLessThan(0.2);
  });
});

describe('LoopLag: what sheds', () => {
  it('a saturated loop: the requests of a long turn after its first QUEUED_REQUESTS', () => {
    const { c, run, take } = fake();
    run(2000, 1);
    expect(BUSY_UTILIZATION).toBeLessThan(1);
    c.t += PROBE_INTERVAL_MS + 150;
    expect(take(QUEUED_REQUESTS + 10, 100)).toBe(10);
  });

  it('nothing while the turn is within maxMs, however many requests it takes', () => {
    const { c, run, take } = fake();
    run(2000, 1);
    c.t += PROBE_INTERVAL_MS + 90;
    expect(take(1000, 100)).toBe(0);
  });

  it('nothing once the probe has run: each turn gets its own QUEUED_REQUESTS', () => {
    const { c, lag, run, take } = fake();
    run(2000, 1);
    c.t += PROBE_INTERVAL_MS + 150;
    expect(take(QUEUED_REQUESTS + 1, 100)).toBe(1);
    lag.probe();
    expect(take(QUEUED_REQUESTS, 100)).toBe(0);
  });

  it('nothing for a few slow requests in a saturated loop (cold code, a GC): the queue is short', () => {
    const { c, run, take } = fake();
    run(2000, 1);
    c.t += PROBE_INTERVAL_MS + 500;
    expect(take(QUEUED_REQUESTS, 100)).toBe(0);
  });

  it('nothing after a pause of a lightly loaded loop (throttled, stopped, descheduled), however long the turn and deep the queue', () => {
    const { c, run, take } = fake();
    run(2000, 0.3);
    c.t += 400; // stopped mid-turn: busy as far as the loop can tell
    expect(take(200, 100)).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { LoopLag, PROBE_INTERVAL_MS } from '../../src/telemetry/loop-lag.js';

describe('LoopLag', () => {
  it('reads 0 while the probe runs on time', () => {
    let t = 1000;
    const lag = new LoopLag(() => t);
    for (let i = 0; i < 5; i++) {
      t += PROBE_INTERVAL_MS;
      expect(lag.turnMs()).toBe(0);
      lag.probe();
    }
  });

  it('sees a long turn while it lasts, before the probe can run', () => {
    let t = 0;
    const lag = new LoopLag(() => t);
    t = PROBE_INTERVAL_MS + 40;
    expect(lag.turnMs()).toBe(40);
    t = PROBE_INTERVAL_MS + 300;
    expect(lag.turnMs()).toBe(300);
  });

  it('forgets a long turn once the probe has run: a lone stall (a GC pause, a descheduled process) sheds nothing after it', () => {
    let t = 0;
    const lag = new LoopLag(() => t);
    t = 510;
    expect(lag.turnMs()).toBe(500);
    lag.probe();
    t = 512;
    expect(lag.turnMs()).toBe(0);
  });
});

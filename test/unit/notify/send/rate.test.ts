import { describe, expect, it } from 'vitest';
import { RateStage } from '../../../../src/notify/send/rate.js';

/** The rate stage on its own: token buckets per channel, time passed in. */

const T0 = Date.UTC(2030, 0, 7, 12);
/** Chat 1 per second (burst 3), email 20 per minute (burst 60, one token every 3 s). */
const rates = { chat: { max: 1, windowMs: 1000 }, email: { max: 20, windowMs: 60_000 } };

/**
 * A wait that is `ms` up to the rounding of a fractional token (Math.ceil over floating point may add 1 ms; never
 * less, so a page is never let through early).
 */
function nearly(wait: number, ms: number): void {
  expect(wait).toBeGreaterThanOrEqual(ms);
  expect(wait).toBeLessThanOrEqual(ms + 1);
}

/** Takes pages on `channel` at `now` until one is refused; returns how many went and the wait then reported. */
function drain(stage: RateStage, channel: string, kind: 'chat' | 'email', now: number): { sent: number; wait: number } {
  for (let sent = 0; sent < 1000; sent++) {
    const wait = stage.wait(channel, kind, now);
    if (wait > 0) return { sent, wait };
  }
  throw new Error('the bucket never ran dry');
}

describe('RateStage', () => {
  it("lets a burst of three windows' worth through at once, then says how long until the next token", () => {
    const stage = new RateStage(rates);
    expect(drain(stage, 'ops-hook', 'chat', T0)).toEqual({ sent: 3, wait: 1000 });
    // Refusals take nothing: asking again at the same time gives the same answer.
    expect(stage.wait('ops-hook', 'chat', T0)).toBe(1000);
    // Part of a token has come back: the wait is what is left of it.
    expect(stage.wait('ops-hook', 'chat', T0 + 400)).toBe(600);
    nearly(stage.wait('ops-hook', 'chat', T0 + 999), 1);
  });

  it('a page may go exactly when the wait it was given has passed (and counts)', () => {
    const stage = new RateStage(rates);
    const { wait } = drain(stage, 'ops-hook', 'chat', T0);
    expect(stage.wait('ops-hook', 'chat', T0 + wait)).toBe(0);
    // That page took the token that came back: the next one waits a full token again.
    expect(stage.wait('ops-hook', 'chat', T0 + wait)).toBe(1000);
  });

  it('refills at the rate, never beyond the burst', () => {
    const stage = new RateStage(rates);
    drain(stage, 'ops-hook', 'chat', T0);
    // An hour idle refills three tokens, not 3600.
    expect(drain(stage, 'ops-hook', 'chat', T0 + 3_600_000)).toEqual({ sent: 3, wait: 1000 });
    // Two seconds later: two tokens back.
    expect(drain(stage, 'ops-hook', 'chat', T0 + 3_602_000)).toEqual({ sent: 2, wait: 1000 });
  });

  it('each chat endpoint has its own bucket', () => {
    const stage = new RateStage(rates);
    drain(stage, 'ops-hook', 'chat', T0);
    expect(stage.wait('ops-hook', 'chat', T0)).toBeGreaterThan(0);
    expect(drain(stage, 'sre-hook', 'chat', T0)).toEqual({ sent: 3, wait: 1000 });
    expect(drain(stage, 'team-wecom', 'chat', T0)).toEqual({ sent: 3, wait: 1000 });
  });

  it('email uses the email rate: a burst of 60, then one every 3 s', () => {
    const stage = new RateStage(rates);
    expect(drain(stage, 'email', 'email', T0)).toEqual({ sent: 60, wait: 3000 });
    nearly(stage.wait('email', 'email', T0 + 1000), 2000);
    expect(stage.wait('email', 'email', T0 + 3000)).toBe(0);
    // Chat endpoints are not held up by email running dry.
    expect(stage.wait('ops-hook', 'chat', T0 + 3000)).toBe(0);
  });

  it('time is an argument: nothing refills unless the time given moves', () => {
    const stage = new RateStage(rates);
    drain(stage, 'ops-hook', 'chat', T0);
    const waits = [1, 2, 3].map(() => stage.wait('ops-hook', 'chat', T0 + 250));
    expect(waits).toEqual([750, 750, 750]);
  });
});

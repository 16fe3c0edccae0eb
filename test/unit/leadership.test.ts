import { describe, expect, it } from 'vitest';
import { type Duty, LocalLeadership } from '../../src/coordination/leadership.js';

/** A log that keeps what was logged at error level. */
function errorLog() {
  const errors: { duty: unknown; message: string }[] = [];
  return { errors, error: (o: object, message: string) => errors.push({ duty: (o as { duty?: unknown }).duty, message }) };
}

/** Duties that write what happens to them into `calls`. */
function recorder() {
  const calls: string[] = [];
  const duty = (name: string, opts: { startFails?: boolean; stopFails?: boolean } = {}): Duty => ({
    start: () => {
      calls.push(`start ${name}`);
      if (opts.startFails) throw new Error(`${name} cannot start`);
    },
    stop: async () => {
      calls.push(`stop ${name}`);
      if (opts.stopFails) throw new Error(`${name} cannot stop`);
    },
  });
  return { calls, duty };
}

function gate() {
  let open!: () => void;
  const closed = new Promise<void>((r) => (open = r));
  return { closed, open };
}

describe('LocalLeadership', () => {
  it('leads always, starts duties in registration order and stops them in reverse', async () => {
    const { calls, duty } = recorder();
    const l = new LocalLeadership(errorLog());
    expect(l.isLeader()).toBe(true);
    l.duty('a', duty('a'));
    l.duty('b', duty('b'));
    l.duty('c', duty('c'));
    expect(calls).toEqual([]);
    await l.start();
    expect(calls).toEqual(['start a', 'start b', 'start c']);
    await l.stop();
    expect(calls.slice(3)).toEqual(['stop c', 'stop b', 'stop a']);
  });

  it('waits for each start before the next, and for each stop before the previous duty stops', async () => {
    const calls: string[] = [];
    const slow = gate();
    const l = new LocalLeadership(errorLog());
    l.duty('slow', {
      start: async () => {
        await slow.closed;
        calls.push('slow started');
      },
      stop: () => void calls.push('slow stopped'),
    });
    const pages = gate();
    l.duty('pager', {
      start: () => void calls.push('pager started'),
      stop: async () => {
        await pages.closed; // pages in flight
        calls.push('pager stopped');
      },
    });
    const started = l.start();
    await Promise.resolve();
    expect(calls).toEqual([]);
    slow.open();
    await started;
    expect(calls).toEqual(['slow started', 'pager started']);

    let stopped = false;
    const stopping = l.stop().then(() => (stopped = true));
    await new Promise((r) => setImmediate(r));
    expect(stopped).toBe(false);
    expect(calls).toEqual(['slow started', 'pager started']);
    pages.open();
    await stopping;
    expect(calls.slice(2)).toEqual(['pager stopped', 'slow stopped']);
  });

  it('starts a duty registered after the start at once, and stops it first', async () => {
    const { calls, duty } = recorder();
    const l = new LocalLeadership(errorLog());
    l.duty('a', duty('a'));
    await l.start();
    l.duty('late', duty('late'));
    expect(calls).toEqual(['start a', 'start late']);
    await l.stop();
    expect(calls.slice(2)).toEqual(['stop late', 'stop a']);
  });

  it('starts a duty registered while an earlier one is starting in its turn, once', async () => {
    const { calls, duty } = recorder();
    const l = new LocalLeadership(errorLog());
    l.duty('a', {
      start: async () => {
        calls.push('start a');
        await Promise.resolve();
        l.duty('b', duty('b'));
      },
      stop: () => {},
    });
    await l.start();
    expect(calls).toEqual(['start a', 'start b']);
  });

  it('a failing start fails the start (as a failing onReady hook did), leaves later duties idle, and is stopped at close', async () => {
    const { calls, duty } = recorder();
    const l = new LocalLeadership(errorLog());
    l.duty('a', duty('a'));
    l.duty('broken', duty('broken', { startFails: true }));
    l.duty('c', duty('c'));
    await expect(l.start()).rejects.toThrow('broken cannot start');
    expect(calls).toEqual(['start a', 'start broken']);
    // It may have started timers before it threw, so it is stopped; 'c' never started, so it is not.
    await l.stop();
    expect(calls.slice(2)).toEqual(['stop broken', 'stop a']);
  });

  it('logs a late duty whose start fails, naming it', async () => {
    const log = errorLog();
    const { duty } = recorder();
    const l = new LocalLeadership(log);
    await l.start();
    l.duty('late', duty('late', { startFails: true }));
    await new Promise((r) => setImmediate(r));
    expect(log.errors).toEqual([{ duty: 'late', message: 'a singleton duty failed to start' }]);
  });

  it('a failing stop does not keep the other duties running, and the stop rejects with it', async () => {
    const log = errorLog();
    const { calls, duty } = recorder();
    const l = new LocalLeadership(log);
    l.duty('a', duty('a'));
    l.duty('broken', duty('broken', { stopFails: true }));
    l.duty('c', duty('c'));
    await l.start();
    await expect(l.stop()).rejects.toThrow('broken cannot stop');
    expect(calls.slice(3)).toEqual(['stop c', 'stop broken', 'stop a']);
    expect(log.errors).toEqual([{ duty: 'broken', message: 'a singleton duty failed to stop' }]);
  });

  it('does not start a duty registered after the stop', async () => {
    const { calls, duty } = recorder();
    const l = new LocalLeadership(errorLog());
    await l.start();
    await l.stop();
    l.duty('too late', duty('too late'));
    expect(calls).toEqual([]);
  });
});

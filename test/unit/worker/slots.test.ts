import { describe, expect, it } from 'vitest';
import type { Lease } from '../../../src/cluster/leases.js';
import { PartitionSlots } from '../../../src/worker/slots.js';

class FakeWorker {
  stopped: boolean | undefined;
  constructor(
    readonly partition: number,
    readonly epoch: number,
  ) {}
  async stop(lost: boolean): Promise<void> {
    this.stopped = lost;
  }
}

const lease = (partition: number, epoch: number): Lease => ({ partition, epoch, revision: epoch });

/** Slots whose takeovers fail `failures` times first, then start a FakeWorker (held until `release()` when gated). */
function slots(failures = 0, gated = false) {
  let left = failures;
  let open: () => void = () => {};
  let gate = gated ? new Promise<void>((r) => (open = r)) : Promise.resolve();
  const tries: number[] = [];
  const s = new PartitionSlots<FakeWorker>({
    start: async (l) => {
      await gate;
      if (left-- > 0) throw new Error('PostgreSQL away');
      return new FakeWorker(l.partition, l.epoch);
    },
    retry: async (_err, _l, n) => {
      tries.push(n);
      return true;
    },
  });
  return {
    s,
    tries,
    release: () => {
      open();
      gate = Promise.resolve();
    },
  };
}

describe('partition slots', () => {
  it('a worker fenced off after this node took its partition over again stops alone: the new worker keeps the slot', async () => {
    // The drill's case: a paused owner wakes, loses the partition, takes it back; then its old worker's last write
    // is refused. Stopping "the partition" then stopped the new worker, and nobody evaluated it any more.
    const { s } = slots();
    const old = (await s.acquired(lease(4, 10)))!;
    await s.lost(4, false);
    const fresh = (await s.acquired(lease(4, 20)))!;
    await s.stale(old);
    expect(fresh.stopped).toBeUndefined();
    expect([...s.values()]).toEqual([fresh]);
    await s.stale(fresh);
    expect(fresh.stopped).toBe(true);
    expect(s.size).toBe(0);
  });

  it('retries a takeover that fails (the lease is held: nobody else evaluates the partition meanwhile)', async () => {
    const { s, tries } = slots(3);
    const w = await s.acquired(lease(1, 5));
    expect(tries).toEqual([1, 2, 3]);
    expect([...s.values()]).toEqual([w]);
  });

  it('stops a takeover that completes after its partition was lost, and hands over with a flush', async () => {
    const { s, release } = slots(0, true);
    const starting = s.acquired(lease(2, 7));
    const lost = s.lost(2, false);
    release();
    expect(await starting).toBeUndefined();
    await lost;
    expect(s.size).toBe(0);
    const w = (await s.acquired(lease(2, 8)))!;
    await s.lost(2, true);
    expect(w.stopped, 'a handover stops it with a flush (lost = false)').toBe(false);
  });

  it('does not wait for a takeover under way when its partition is lost: the takeover is aborted', async () => {
    let signalled: AbortSignal | undefined;
    const s = new PartitionSlots<FakeWorker>({
      // A replay that would go on for ever, but ends when aborted.
      start: (l, signal) => new Promise((resolve) => {
        signalled = signal;
        signal.addEventListener('abort', () => resolve(new FakeWorker(l.partition, l.epoch)));
      }),
      retry: async () => true,
    });
    const starting = s.acquired(lease(5, 1));
    await s.lost(5, false);
    expect(signalled?.aborted).toBe(true);
    const w = await starting;
    expect(w, 'the aborted takeover leaves no worker').toBeUndefined();
    expect(s.size).toBe(0);
  });

  it('gives a takeover up when told to (a newer owner wrote already)', async () => {
    const s = new PartitionSlots<FakeWorker>({ start: () => Promise.reject(new Error('stale')), retry: async () => false });
    expect(await s.acquired(lease(3, 1))).toBeUndefined();
    expect(s.size).toBe(0);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { Leases } from '../../../src/cluster/leases.js';
import type { Nats } from '../../../src/cluster/nats.js';
import { RawLog } from '../../../src/cluster/raw-log.js';
import { NATS_URL, testNats } from '../../helpers/nats.js';
import { waitFor } from '../../helpers/ports.js';

const text = (d: Uint8Array) => new TextDecoder().decode(d);
const bytes = (s: string) => new TextEncoder().encode(s);

/** Reads partition `p` from `from` until `n` records came. */
async function take(log: RawLog, p: number, from: number, n: number) {
  const out: { seq: number; data: string }[] = [];
  const stop = new AbortController();
  for await (const r of log.read(p, from, stop.signal)) {
    out.push({ seq: r.seq, data: text(r.data) });
    if (out.length === n) stop.abort();
  }
  return out;
}

describe.runIf(NATS_URL)('JetStream building blocks (on the machine\'s NATS server)', () => {
  let nats: (Nats & { remove(): Promise<void> })[] = [];
  const open = async (...args: Parameters<typeof testNats>) => {
    const n = await testNats(...args);
    nats.push(n);
    return n;
  };
  afterEach(async () => {
    for (const n of nats.reverse()) await n.remove();
    nats = [];
  });

  it('stores a batch once however often a collector resends it (Nats-Msg-Id), and a partition reads back only its own, in order', async () => {
    const n = await open();
    const log = new RawLog(n);
    const a = await log.publish(3, bytes('a'), 'node1:boot1:1');
    const again = await log.publish(3, bytes('a'), 'node1:boot1:1');
    expect(again).toEqual({ seq: a.seq, duplicate: true });
    const b = await log.publish(3, bytes('b'), 'node1:boot1:2');
    // Partition 5 shares partition 3's stream (2 streams for 8 partitions): its batches are not partition 3's.
    await log.publish(5, bytes('other partition'), 'node1:boot1:3');
    const c = await log.publish(3, bytes('c'), 'node1:boot1:4');
    expect(await take(log, 3, 0, 3)).toEqual([{ seq: a.seq, data: 'a' }, { seq: b.seq, data: 'b' }, { seq: c.seq, data: 'c' }]);
    expect(await take(log, 3, b.seq, 2), 'a checkpoint replays from its seq').toEqual([{ seq: b.seq, data: 'b' }, { seq: c.seq, data: 'c' }]);
    expect(await log.trim(3, c.seq)).toBe(2);
    expect(await take(log, 3, 0, 1), 'trimmed below the checkpoint; the other partition untouched').toEqual([{ seq: c.seq, data: 'c' }]);
    expect((await take(log, 5, 0, 1))[0]!.data).toBe('other partition');
  });

  it('a reader waiting at the end of a partition gets what is published after it started', async () => {
    const n = await open();
    const log = new RawLog(n);
    const reading = take(log, 1, 0, 2);
    await log.publish(1, bytes('x'), 'm1');
    await log.publish(1, bytes('y'), 'm2');
    expect((await reading).map((r) => r.data)).toEqual(['x', 'y']);
  });

  it('one of two nodes gets a free partition; its lease renews; released, or left to age out, the other takes it with a higher epoch', async () => {
    const n = await open({ leaseTtlMs: 1000 });
    const a = new Leases(n.leases, 'node-a');
    const b = new Leases(n.leases, 'node-b');
    const first = (await a.acquire(2))!;
    expect(first).toBeDefined();
    expect(await b.acquire(2), 'held: the other node cannot take it').toBeUndefined();
    expect(await a.holder(2)).toBe('node-a');
    const renewed = (await a.renew(first))!;
    expect(renewed.epoch, 'the epoch is the tenure, not the renewal').toBe(first.epoch);
    expect(renewed.revision).toBeGreaterThan(first.revision);
    expect(await a.renew(first), 'a renewal of an outdated revision fails').toBeUndefined();

    await a.release(renewed);
    const second = (await b.acquire(2))!;
    expect(second.epoch).toBeGreaterThan(first.epoch);

    // b stops renewing (dies): its lease ages out and a takes the partition back, with a still higher epoch.
    const third = await waitFor('the lease to age out', () => a.acquire(2), 5000, 100);
    expect(third.epoch).toBeGreaterThan(second.epoch);
    expect(await b.renew(second), 'the dead owner cannot renew what aged out and was taken').toBeUndefined();
  });
});

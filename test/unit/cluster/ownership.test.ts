import { afterEach, describe, expect, it } from 'vitest';
import { Leases } from '../../../src/cluster/leases.js';
import { type Nats, openNats } from '../../../src/cluster/nats.js';
import { LeaseOwnership, StaticOwnership } from '../../../src/cluster/ownership.js';
import { desiredPartitions } from '../../../src/cluster/partitions.js';
import { NATS_URL, testNats } from '../../helpers/nats.js';
import { waitFor } from '../../helpers/ports.js';

const P = 8;

describe('StaticOwnership (embedded mode)', () => {
  it('owns partition 0 at epoch 1 from its start', async () => {
    const o = new StaticOwnership();
    const acquired: number[] = [];
    o.on('acquired', (l) => void acquired.push(l.partition));
    expect(o.owned().size).toBe(0);
    await o.start();
    expect([...o.owned().values()]).toEqual([{ partition: 0, epoch: 1, revision: 1 }]);
    expect(acquired).toEqual([0]);
  });
});

describe.runIf(NATS_URL)('LeaseOwnership (on the machine\'s NATS server)', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {});
    cleanup.length = 0;
  });

  /** A node of the cluster on its own connection, recording what it gains and loses. */
  function node(n: Nats, self: string) {
    const o = new LeaseOwnership(new Leases(n.leases, self), n.members, { self, partitions: P, everyMs: 100, ttlMs: n.opts.leaseTtlMs });
    const log = { acquired: [] as { p: number; epoch: number }[], lost: [] as number[] };
    o.on('acquired', (l) => void log.acquired.push({ p: l.partition, epoch: l.epoch }));
    o.on('lost', (l) => void log.lost.push(l.partition));
    return { o, log, owned: () => [...o.owned().keys()].sort((a, b) => a - b) };
  }

  /** Two nodes on their own connections to one cluster's streams and buckets (node-b's connection returned too). */
  async function twoNodes(leaseTtlMs: number) {
    const n1 = await testNats({ partitions: P, leaseTtlMs });
    cleanup.push(() => n1.remove());
    const n2 = await openNats({ ...n1.opts });
    cleanup.push(() => n2.close());
    const a = node(n1, 'node-a');
    const b = node(n2, 'node-b');
    cleanup.push(() => a.o.stop());
    return { a, b, n2 };
  }

  it('a lone node owns every partition; a second one takes what rendezvous hashing gives it; when it dies, the first takes them back with higher epochs', async () => {
    const { a, b, n2 } = await twoNodes(1000);
    await a.o.start();
    expect(a.owned()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const firstEpochs = new Map(a.log.acquired.map((x) => [x.p, x.epoch]));

    await b.o.start();
    const mine = desiredPartitions('node-b', ['node-a', 'node-b'], P);
    expect(mine.length, 'node-b wins some partitions').toBeGreaterThan(0);
    await waitFor('node-b to own what it should', () => (JSON.stringify(b.owned()) === JSON.stringify(mine) ? true : undefined), 5000);
    expect(a.owned(), 'node-a gave those up and kept the rest').toEqual(desiredPartitions('node-a', ['node-a', 'node-b'], P));
    expect(a.log.lost.sort((x, y) => x - y)).toEqual(mine);
    for (const { p, epoch } of b.log.acquired) expect(epoch, `partition ${p} moved with a higher epoch`).toBeGreaterThan(firstEpochs.get(p)!);

    // node-b dies: its connection is gone, nothing is released; its membership and leases age out.
    await n2.nc.close();
    await waitFor('node-a to own every partition again', () => (a.owned().length === P ? true : undefined), 8000);
    const regained = a.log.acquired.slice(P);
    expect(regained.map((x) => x.p).sort((x, y) => x - y)).toEqual(mine);
    const bEpochs = new Map(b.log.acquired.map((x) => [x.p, x.epoch]));
    for (const { p, epoch } of regained) expect(epoch).toBeGreaterThan(bEpochs.get(p)!);
  });

  it('a node that stops releases its partitions: the other takes them without waiting for them to age out', async () => {
    const { a, b } = await twoNodes(30_000);
    await a.o.start();
    await b.o.start();
    await waitFor('node-b to own its share', () => (b.owned().length > 0 && a.owned().length + b.owned().length === P ? true : undefined), 5000);
    await b.o.stop();
    // Leases would live 30 s: only the release (and the removed membership) can hand them over this fast.
    await waitFor('node-a to own every partition', () => (a.owned().length === P ? true : undefined), 3000);
  });

  it('calls a lease fresh only within half its life of the last renewal: a node that did not renew (paused) stops writing before it could lose it', async () => {
    const n = await testNats({ partitions: P, leaseTtlMs: 600 });
    cleanup.push(() => n.remove());
    // Rounds an hour apart: after the start, nothing renews.
    const o = new LeaseOwnership(new Leases(n.leases, 'node-a'), n.members, { self: 'node-a', partitions: P, everyMs: 3_600_000, ttlMs: 600 });
    cleanup.push(() => o.stop());
    await o.start();
    expect(o.fresh(0)).toBe(true);
    expect(o.fresh(P), 'a partition not held').toBe(false);
    await new Promise((r) => setTimeout(r, 350));
    expect(o.owned().has(0), 'still held as far as this node knows').toBe(true);
    expect(o.fresh(0), 'past half a lease without renewal').toBe(false);
  });
});

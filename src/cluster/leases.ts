import type { KV } from '@nats-io/kv';

/**
 * A node's hold on a partition. `epoch` is the lease's revision when it was taken — revisions of a bucket only grow,
 * so each new owner's epoch is higher than any before it: the fencing token its writes carry (storage/state/fences.ts).
 * `revision` is the latest, for the next renewal's compare-and-set.
 */
export interface Lease {
  readonly partition: number;
  readonly epoch: number;
  readonly revision: number;
}

const key = (p: number) => `p${p}`;

/**
 * Partition leases in a JetStream key-value bucket whose entries live `ttl` (SCALE-OUT.md §4.3): taken with create
 * (only if free), renewed with a compare-and-set update, released with a compare-and-set delete. A node that stops
 * renewing (dead, cut off) loses its leases when their entries age out, and another node's create succeeds.
 */
export class Leases {
  constructor(
    private readonly kv: KV,
    private readonly self: string,
  ) {}

  /** Takes partition `p` if nobody holds it. */
  async acquire(p: number): Promise<Lease | undefined> {
    try {
      const revision = await this.kv.create(key(p), this.self);
      return { partition: p, epoch: revision, revision };
    } catch {
      return undefined;
    }
  }

  /** Extends the lease; undefined when it was lost (it aged out, or another node holds it now). */
  async renew(l: Lease): Promise<Lease | undefined> {
    try {
      return { ...l, revision: await this.kv.update(key(l.partition), this.self, l.revision) };
    } catch {
      return undefined;
    }
  }

  /** Gives the partition up (after flushing and checkpointing it): another node's create can take it at once. */
  async release(l: Lease): Promise<void> {
    await this.kv.delete(key(l.partition), { previousSeq: l.revision }).catch(() => {});
  }

  /** Who holds partition `p`, if anyone. */
  async holder(p: number): Promise<string | undefined> {
    const e = await this.kv.get(key(p));
    return e && e.operation === 'PUT' ? e.string() : undefined;
  }
}

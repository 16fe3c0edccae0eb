import type { KV } from '@nats-io/kv';
import type { Lease, Leases } from './leases.js';
import { desiredPartitions } from './partitions.js';

/**
 * Which partitions this node evaluates, and since which epoch (the fencing token of its writes). Listeners hear of
 * each change: a worker starts a partition on `acquired` (restore, replay from its checkpoint, go live) and drops it
 * on `lost` (stop writing at once: another node may own it already).
 */
export interface Ownership {
  owned(): ReadonlyMap<number, Lease>;
  /**
   * Whether this node's hold on `partition` is surely still valid: held, and renewed (or taken) less than a lease's
   * life ago on this process's monotonic clock. A process that was paused longer than that may have lost it without
   * knowing yet; it must not write as the owner until a renewal says so.
   */
  fresh(partition: number): boolean;
  /** Listeners may be async: the ownership waits for them (a worker flushes a partition before its lease goes). */
  on(event: 'acquired' | 'lost', fn: Listener): void;
  start(): Promise<void>;
  /** Releases every partition (after the caller flushed and checkpointed them), so others take them at once. */
  stop(): Promise<void>;
}

/** `handover` on `lost`: this node gives the partition up itself (flush and checkpoint first); else its lease went. */
type Listener = (l: Lease, handover: boolean) => void | Promise<void>;

/** The embedded mode: one node owns the one partition, for ever, at epoch 1. */
export class StaticOwnership implements Ownership {
  private readonly lease: Lease = { partition: 0, epoch: 1, revision: 1 };
  private readonly listeners: Listener[] = [];
  private started = false;

  owned(): ReadonlyMap<number, Lease> {
    return new Map(this.started ? [[0, this.lease]] : []);
  }

  fresh(partition: number): boolean {
    return this.started && partition === 0;
  }

  on(event: 'acquired' | 'lost', fn: Listener): void {
    if (event === 'acquired') this.listeners.push(fn);
  }

  async start(): Promise<void> {
    this.started = true;
    for (const fn of this.listeners) await fn(this.lease, false);
  }

  async stop(): Promise<void> {
    this.started = false;
  }
}

export interface LeaseOwnershipOptions {
  self: string;
  partitions: number;
  /** How often the node renews its leases and membership, and reconsiders what it should own. */
  everyMs: number;
  /** How long a lease lives without renewal (the bucket's TTL). */
  ttlMs: number;
}

/**
 * Cluster mode (SCALE-OUT.md §4.3): members announce themselves in a key-value bucket whose entries age out; each
 * node wants the partitions rendezvous hashing gives it among the live members, takes those that are free, renews
 * what it holds, and gives up what another member should have now (a join) — so ownership follows membership, one
 * owner at a time, each with a higher epoch than the last.
 */
export class LeaseOwnership implements Ownership {
  private readonly held = new Map<number, Lease>();
  /** When each held lease was last taken or renewed (performance.now()). */
  private readonly renewedAt = new Map<number, number>();
  private readonly listeners = { acquired: [] as Listener[], lost: [] as Listener[] };
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> = Promise.resolve();
  private memberRevision: number | undefined;

  constructor(
    private readonly leases: Leases,
    private readonly members: KV,
    private readonly opts: LeaseOwnershipOptions,
  ) {}

  owned(): ReadonlyMap<number, Lease> {
    return this.held;
  }

  fresh(partition: number): boolean {
    const at = this.renewedAt.get(partition);
    // Counted from when the renewal was asked for, and only half a lease: the server's clock started before ours.
    return this.held.has(partition) && at !== undefined && performance.now() - at < this.opts.ttlMs / 2;
  }

  on(event: 'acquired' | 'lost', fn: Listener): void {
    this.listeners[event].push(fn);
  }

  async start(): Promise<void> {
    await this.next();
    this.timer = setInterval(() => void this.next(), this.opts.everyMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.round;
    for (const l of [...this.held.values()]) await this.drop(l);
    await this.members.delete(this.opts.self).catch(() => {});
  }

  private next(): Promise<void> {
    this.round = this.round.then(() => this.reconsider()).catch(() => {});
    return this.round;
  }

  /** One round: renew, announce, give up what moved, take what is free. */
  private async reconsider(): Promise<void> {
    // Renewals first, all at once: one round trip for every lease, however many, before anything slower.
    const asked = performance.now();
    const held = [...this.held.values()];
    const renewed = await Promise.all(held.map((l) => this.leases.renew(l)));
    for (const [i, l] of held.entries()) {
      const r = renewed[i];
      if (r) {
        this.held.set(l.partition, r);
        this.renewedAt.set(l.partition, asked);
      } else {
        await this.lose(l, false);
      }
    }
    await this.announce();
    const desired = new Set(desiredPartitions(this.opts.self, await this.liveMembers(), this.opts.partitions));
    for (const l of [...this.held.values()]) if (!desired.has(l.partition)) await this.drop(l);
    for (const p of desired) {
      if (this.held.has(p)) continue;
      const asked = performance.now();
      const l = await this.leases.acquire(p);
      if (!l) continue;
      this.held.set(p, l);
      this.renewedAt.set(p, asked);
      for (const fn of this.listeners.acquired) await fn(l, false);
    }
  }

  private async announce(): Promise<void> {
    try {
      this.memberRevision = this.memberRevision === undefined ? await this.members.create(this.opts.self, '') : await this.members.update(this.opts.self, '', this.memberRevision);
    } catch {
      // Aged out (this node stalled) or left over from an earlier run: announce anew.
      this.memberRevision = await this.members.put(this.opts.self, '');
    }
  }

  private async liveMembers(): Promise<string[]> {
    const out: string[] = [];
    for await (const k of await this.members.keys()) out.push(k);
    return out;
  }

  /** Gives a partition up: listeners first (the worker flushes and checkpoints), then the lease, for the next owner. */
  private async drop(l: Lease): Promise<void> {
    await this.lose(l, true);
    await this.leases.release(l);
  }

  private async lose(l: Lease, handover: boolean): Promise<void> {
    if (!this.held.has(l.partition)) return;
    const gone = () => {
      this.held.delete(l.partition);
      this.renewedAt.delete(l.partition);
    };
    // A lease that went is no longer ours at once; one handed over stays ours (fresh) while its worker flushes.
    if (!handover) gone();
    for (const fn of this.listeners.lost) await fn(l, handover);
    gone();
  }
}

import type { Lease } from '../cluster/leases.js';

/** What the slots need of a partition's worker. */
export interface SlotWorker {
  readonly partition: number;
  stop(lost: boolean): Promise<void>;
}

export interface SlotHooks<W extends SlotWorker> {
  /** Takes the partition over (ending at once when `signal` aborts: it was lost meanwhile); throws when it cannot (yet). */
  start(lease: Lease, signal: AbortSignal): Promise<W>;
  /** A takeover failed: whether to try again (after a wait), or give up (`false`: a newer owner exists). */
  retry(err: unknown, lease: Lease, tries: number): Promise<boolean>;
  onStarted?(w: W, lease: Lease): void;
  onStopped?(partition: number): void;
}

interface Attempt<W> {
  readonly abort: AbortController;
  done: Promise<W | undefined>;
}

/**
 * The partitions a node evaluates, one worker per partition at most: takeovers run in the background (a replay
 * must not hold up lease renewals) and are retried while they fail, since the lease is held and nobody else evaluates
 * the partition meanwhile; a partition lost during its takeover aborts it (the worker it made is stopped); a worker
 * fenced off stops alone — never a newer takeover of the same partition by this node.
 */
export class PartitionSlots<W extends SlotWorker> {
  private readonly workers = new Map<number, W>();
  private readonly starting = new Map<number, Attempt<W>>();

  constructor(private readonly hooks: SlotHooks<W>) {}

  get size(): number {
    return this.workers.size;
  }

  values(): IterableIterator<W> {
    return this.workers.values();
  }

  /** Starts taking `lease`'s partition over; resolves when the takeover settled (tests wait for it). */
  acquired(lease: Lease): Promise<W | undefined> {
    const p = lease.partition;
    const attempt: Attempt<W> = { abort: new AbortController(), done: Promise.resolve(undefined) };
    attempt.done = this.takeOver(lease, attempt).then(async (w) => {
      if (w && attempt.abort.signal.aborted) {
        // Lost while taking over: the stop that cancelled it found no worker yet.
        await w.stop(true);
        return undefined;
      }
      if (w) {
        this.workers.set(p, w);
        this.hooks.onStarted?.(w, lease);
      }
      return w;
    });
    this.starting.set(p, attempt);
    void attempt.done.finally(() => {
      if (this.starting.get(p) === attempt) this.starting.delete(p);
    });
    return attempt.done;
  }

  /**
   * The partition is gone (`handover`: given up by this node, flushed first; else its lease went). A takeover under
   * way is aborted, not waited for: its replay can be long, and the caller's other leases must be renewed meanwhile.
   */
  async lost(partition: number, handover: boolean): Promise<void> {
    this.starting.get(partition)?.abort.abort();
    const w = this.workers.get(partition);
    if (!w) return;
    this.workers.delete(partition);
    this.hooks.onStopped?.(partition);
    await w.stop(!handover);
  }

  /** `w` was fenced off: it stops; the partition's slot is freed only if it still holds `w`. */
  async stale(w: W): Promise<void> {
    if (this.workers.get(w.partition) === w) {
      this.workers.delete(w.partition);
      this.hooks.onStopped?.(w.partition);
    }
    await w.stop(true);
  }

  private async takeOver(lease: Lease, attempt: Attempt<W>): Promise<W | undefined> {
    for (let tries = 1; !attempt.abort.signal.aborted; tries++) {
      try {
        return await this.hooks.start(lease, attempt.abort.signal);
      } catch (err) {
        if (!(await this.hooks.retry(err, lease, tries))) return undefined;
      }
    }
    return undefined;
  }
}

import { DeliverPolicy } from '@nats-io/jetstream';
import type { Nats } from './nats.js';

/** One stored batch of a partition. */
export interface RawRecord {
  readonly seq: number;
  readonly data: Uint8Array;
}

/**
 * The raw-sample log of the cluster (SCALE-OUT.md §4.2): collectors publish each accepted batch to its partition and
 * answer 202 only once JetStream stored it; the partition's owner reads it from its checkpoint, and trims what its
 * checkpoint covers.
 */
export class RawLog {
  constructor(private readonly n: Nats) {}

  /**
   * Stores a batch in partition `p`. `msgId` makes a resend of the same batch (a collector retrying after a lost
   * acknowledgement) a duplicate within the stream's window: stored once, acknowledged with the first one's seq.
   */
  async publish(p: number, data: Uint8Array, msgId: string): Promise<{ seq: number; duplicate: boolean }> {
    const ack = await this.n.js.publish(this.n.subjectOf(p), data, { msgID: msgId });
    return { seq: ack.seq, duplicate: ack.duplicate };
  }

  /** Partition `p`'s batches from seq `from` on, in order, as they arrive, until `signal` aborts. */
  async *read(p: number, from: number, signal: AbortSignal): AsyncGenerator<RawRecord> {
    if (signal.aborted) return;
    const consumer = await this.n.js.consumers.get(this.n.streamOf(p), {
      filter_subjects: this.n.subjectOf(p),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: Math.max(1, from),
    });
    const messages = await consumer.consume();
    const stop = () => void messages.close();
    signal.addEventListener('abort', stop, { once: true });
    try {
      for await (const m of messages) yield { seq: m.seq, data: m.data };
    } finally {
      signal.removeEventListener('abort', stop);
      await messages.close();
    }
  }

  /** The seq of partition `p`'s last stored batch, 0 when it has none: how far a new owner replays before going live. */
  async last(p: number): Promise<number> {
    try {
      return (await this.n.jsm.streams.getMessage(this.n.streamOf(p), { last_by_subj: this.n.subjectOf(p) }))?.seq ?? 0;
    } catch (err) {
      if (err instanceof Error && /no message found/i.test(err.message)) return 0;
      throw err;
    }
  }

  /** Drops partition `p`'s batches below seq `below` (its checkpoint covers them). */
  async trim(p: number, below: number): Promise<number> {
    return (await this.n.jsm.streams.purge(this.n.streamOf(p), { filter: this.n.subjectOf(p), seq: below })).purged;
  }
}

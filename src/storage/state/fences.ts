import type { Sql } from './sql.js';

/** An owner's claim to write for a partition: its lease's epoch (SCALE-OUT.md §4.3). */
export interface Fence {
  /** What is owned: 'p' for a partition of the ingest log. */
  readonly kind: string;
  readonly partition: number;
  readonly epoch: number;
}

/** A transaction fenced by an epoch older than one already seen: its writer lost the lease, and must stop writing. */
export class StaleEpochError extends Error {
  constructor(readonly fence: Fence) {
    super(`fenced off: epoch ${fence.epoch} of ${fence.kind}${fence.partition} is older than one already seen`);
  }
}

/**
 * The fences table: the highest epoch seen per owned thing. Holding it in a transaction keeps that row locked until
 * the transaction ends, so an old and a new owner's transactions cannot interleave; and once the new owner wrote,
 * every transaction of the old one is refused.
 */
export class FenceRepo {
  constructor(private readonly sql: Sql) {}

  /** Raises the epoch to `f.epoch` if it is not higher already; false when a newer epoch was seen (a stale writer). */
  async hold(f: Fence): Promise<boolean> {
    const row = await this.sql.get<{ epoch: number }>(
      `INSERT INTO fences (kind, partition, epoch) VALUES (?, ?, ?)
       ON CONFLICT (kind, partition) DO UPDATE SET epoch = excluded.epoch WHERE fences.epoch <= excluded.epoch
       RETURNING epoch`,
      f.kind, f.partition, f.epoch,
    );
    return row !== undefined;
  }

  /** The highest epoch seen, if any. */
  async epoch(kind: string, partition: number): Promise<number | undefined> {
    return (await this.sql.get<{ epoch: number }>('SELECT epoch FROM fences WHERE kind = ? AND partition = ?', kind, partition))?.epoch;
  }
}

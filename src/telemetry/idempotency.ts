import type { IngestResult } from './intake.js';

/** How long a batch's Idempotency-Key is remembered: as long as JetStream's duplicate window in a cluster. */
export const IDEMPOTENCY_WINDOW_MS = 120_000;

/**
 * The embedded mode's memory of recent batches by Idempotency-Key (a cluster's collectors use JetStream's message
 * deduplication instead): a resend within the window gets the first answer and is not journaled again. Bounded — the
 * oldest keys go first — and kept in memory only: a resend after the process restarted is stored again.
 */
export class RecentBatches {
  /** In insertion order, which is time order: the oldest are at the front. */
  private readonly byKey = new Map<string, { at: number; result: Promise<IngestResult> }>();

  constructor(
    private readonly windowMs = IDEMPOTENCY_WINDOW_MS,
    private readonly maxKeys = 100_000,
  ) {}

  /** The answer to the batch with this key: the first one's if it came within the window, else `store()`'s. */
  once(tenant: string, key: string, now: number, store: () => Promise<IngestResult>): Promise<IngestResult> {
    for (const [k, v] of this.byKey) {
      if (now - v.at < this.windowMs && this.byKey.size < this.maxKeys) break;
      this.byKey.delete(k);
    }
    const id = `${tenant}\u0000${key}`;
    const seen = this.byKey.get(id);
    if (seen) return seen.result;
    const result = store();
    this.byKey.set(id, { at: now, result });
    // Not stored: a resend with the same key must be able to store it.
    result.catch(() => this.byKey.delete(id));
    return result;
  }
}

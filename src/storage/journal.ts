import type { Db } from './sqlite.js';

export interface JournalEntry {
  tenant: string;
  receivedAt: number;
  /** The request body as received (decompressed JSON); replay validates it again at `receivedAt`. */
  body: string;
  /** The highest window index its accepted samples touch: the row is kept until that window is stored. */
  maxWindow: number;
}

export interface JournalRow extends JournalEntry {
  seq: number;
}

/** Rows deleted per prune step: a few ms of work each (measured with 22 KB rows). */
const PRUNE_CHUNK = 250;

interface Pending<T> {
  entry: JournalEntry;
  apply: (seq: number) => T;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

/**
 * The journal of accepted telemetry. A batch is acknowledged only after its row is committed, so an accepted
 * sample survives kill -9. Appends made in the same event-loop turn share one transaction (group commit), and
 * each entry's `apply` (aggregation) runs right after the commit, in journal order.
 */
export class Journal {
  private pending: Pending<unknown>[] = [];
  private scheduled = false;
  private pendingBytesNow = 0;
  private last = 0;
  private readonly insert;
  private readonly pruneStmt;
  private pruneTarget: { throughSeq: number; closedBefore: number } | undefined;
  private pruning = false;
  /** The last commit error, until a commit succeeds again. */
  failure: string | undefined;

  constructor(private readonly db: Db) {
    this.insert = db.prepare('INSERT INTO journal (tenant, received_at, body, max_window) VALUES (?, ?, ?, ?)');
    // Driven by the max_window index: only rows whose windows are stored are visited.
    this.pruneStmt = db.prepare('DELETE FROM journal WHERE seq IN (SELECT seq FROM journal INDEXED BY journal_max_window WHERE max_window < ? AND seq <= ? LIMIT ?)');
    this.last = (db.prepare("SELECT seq AS s FROM sqlite_sequence WHERE name = 'journal'").get() as { s: number } | undefined)?.s ?? 0;
  }

  /** Bytes appended but not yet committed: the ingest backpressure signal. */
  get pendingBytes(): number {
    return this.pendingBytesNow;
  }

  /** True while a gradual prune is still deleting rows. */
  get pruneInProgress(): boolean {
    return this.pruning;
  }

  /** The last committed and applied sequence number. */
  get lastSeq(): number {
    return this.last;
  }

  append<T>(entry: JournalEntry, apply: (seq: number) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ entry, apply, resolve, reject } as Pending<unknown>);
      this.pendingBytesNow += entry.body.length;
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits everything appended so far (also called before a tick, so a checkpoint never skips a batch). */
  flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    this.pendingBytesNow = 0;
    let seqs: number[];
    try {
      seqs = this.db.transaction(() =>
        batch.map((p) => Number(this.insert.run(p.entry.tenant, p.entry.receivedAt, p.entry.body, p.entry.maxWindow).lastInsertRowid)),
      )();
    } catch (err) {
      this.failure = err instanceof Error ? err.message : String(err);
      for (const p of batch) p.reject(err);
      return;
    }
    this.failure = undefined;
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      this.last = seqs[i]!;
      try {
        p.resolve(p.apply(seqs[i]!));
      } catch (err) {
        p.reject(err);
      }
    }
  }

  /** Rows in journal order, for replay after a restart. */
  *rows(): IterableIterator<JournalRow> {
    const stmt = this.db.prepare('SELECT seq, tenant, received_at AS receivedAt, body, max_window AS maxWindow FROM journal ORDER BY seq');
    yield* stmt.iterate() as IterableIterator<JournalRow>;
  }

  /** Deletes up to `limit` rows whose samples are all reflected in the spool; returns how many. */
  prune(throughSeq: number, closedBefore: number, limit = Number.MAX_SAFE_INTEGER): number {
    return this.pruneStmt.run(closedBefore, throughSeq, limit).changes;
  }

  /**
   * Prunes in chunks between other work: a window's rows can be hundreds of megabytes, and one DELETE of them
   * held the event loop for tens of ms. Pruning need not be atomic with the checkpoint: a row left behind by a
   * crash is skipped at replay as covered.
   */
  pruneGradually(throughSeq: number, closedBefore: number): void {
    // Rows become prunable when windows close; until then there is nothing new to look for.
    if (!this.pruning && closedBefore === this.pruneTarget?.closedBefore) return;
    this.pruneTarget = { throughSeq, closedBefore };
    if (this.pruning) return;
    this.pruning = true;
    const step = () => {
      const t = this.pruneTarget!;
      let n = 0;
      try {
        if (this.db.open) n = this.prune(t.throughSeq, t.closedBefore, PRUNE_CHUNK);
      } catch {
        n = 0; // the next checkpoint tries again
      }
      if (n === PRUNE_CHUNK) setImmediate(step);
      else this.pruning = false;
    };
    setImmediate(step);
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM journal').get() as { n: number }).n;
  }
}

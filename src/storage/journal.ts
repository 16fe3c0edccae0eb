import type { Db } from './sqlite.js';

export interface JournalEntry {
  tenant: string;
  receivedAt: number;
  /** The request body as received (decompressed JSON); replay validates it again at `receivedAt`. */
  body: string;
  /** The highest window index its accepted samples touch: the row is kept until that window is stored. */
  maxWindow: number;
  /** Dimensions derived at ingest from the client's address (JSON; geoip/records.ts), replayed with the body. */
  dims?: string | null;
}

export interface JournalRow extends JournalEntry {
  seq: number;
}

/** Rows deleted per prune step: a few ms of work each (measured with 22 KB rows). */
const PRUNE_CHUNK = 250;

/** Rows replayed under one replay marker: one small write per chunk keeps a large journal's replay fast. */
export const REPLAY_CHUNK = 1000;

export type QuarantineCause = 'error' | 'crash';

export interface Quarantined {
  seq: number;
  tenant: string;
  cause: QuarantineCause;
  reason: string;
}

export interface QuarantineEntry {
  seq: number;
  tenant: string;
  receivedAt: number;
  quarantinedAt: number;
  bytes: number;
  reason: string;
}

/** The process died while replaying the first `rows` rows after `afterSeq` (the marker a replay leaves while it works). */
interface ReplayMarker {
  afterSeq: number;
  rows: number;
}

const CRASH_REASON = 'the process died while replaying it (previous start)';

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
    this.insert = db.prepare('INSERT INTO journal (tenant, received_at, body, max_window, dims) VALUES (?, ?, ?, ?, ?)');
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
        batch.map((p) => Number(this.insert.run(p.entry.tenant, p.entry.receivedAt, p.entry.body, p.entry.maxWindow, p.entry.dims ?? null).lastInsertRowid)),
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

  /** Rows in journal order. */
  *rows(): IterableIterator<JournalRow> {
    const stmt = this.db.prepare('SELECT seq, tenant, received_at AS receivedAt, body, max_window AS maxWindow, dims FROM journal ORDER BY seq');
    yield* stmt.iterate() as IterableIterator<JournalRow>;
  }

  /**
   * Replays every row in journal order through `apply`, after a restart. A row whose `apply` throws is moved to
   * the quarantine table (kept with its reason) and replay goes on. A row that ends the process outright (out of
   * memory cannot be caught) is found by a durable marker: rows are replayed in chunks of REPLAY_CHUNK, each
   * marked before it starts; the start after a death in a chunk replays that chunk one row per marker, and the
   * start after a death on a single row quarantines it. So a deadly row costs two crashed starts, never a loop.
   * Returns the rows quarantined by this call.
   */
  replay(apply: (row: JournalRow) => void, now: number): Quarantined[] {
    const out: Quarantined[] = [];
    const marker = this.db.prepare('SELECT after_seq AS afterSeq, rows FROM replay_marker WHERE id = 1').get() as ReplayMarker | undefined;
    const firstAfter = this.db.prepare('SELECT seq, tenant FROM journal WHERE seq > ? ORDER BY seq LIMIT 1');
    const range = this.db.prepare('SELECT seq, tenant, received_at AS receivedAt, body, max_window AS maxWindow, dims FROM journal WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?');
    const mark = this.db.prepare('INSERT INTO replay_marker (id, after_seq, rows) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET after_seq = excluded.after_seq, rows = excluded.rows');
    const unmark = this.db.prepare('DELETE FROM replay_marker');
    const quarantine = (seq: number, tenant: string, cause: QuarantineCause, reason: string) => {
      this.db.transaction(() => {
        this.moveToQuarantine(seq, now, reason);
        // The row a death was pinned on is out of the way: the marker must not pin the next one.
        if (cause === 'crash') unmark.run();
      })();
      out.push({ seq, tenant, cause, reason });
    };

    if (marker?.rows === 1) {
      const row = firstAfter.get(marker.afterSeq) as { seq: number; tenant: string } | undefined;
      if (row) quarantine(row.seq, row.tenant, 'crash', CRASH_REASON);
    }
    /** Replays up to `limit` rows after `after` (through `upto`) under one marker; returns the last seq and how many. */
    const step = (after: number, upto: number, limit: number): { last: number; n: number } => {
      mark.run(after, limit);
      const failed: { seq: number; tenant: string; reason: string }[] = [];
      let last = after;
      let n = 0;
      // Nothing may write to this connection while the statement iterates: quarantines wait for its end.
      for (const row of range.iterate(after, upto, limit) as IterableIterator<JournalRow>) {
        last = row.seq;
        n++;
        try {
          apply(row);
        } catch (err) {
          failed.push({ seq: row.seq, tenant: row.tenant, reason: describeError(err) });
        }
      }
      for (const f of failed) quarantine(f.seq, f.tenant, 'error', f.reason);
      return { last, n };
    };
    const all = (after: number, upto: number, limit: number): number => {
      for (;;) {
        const r = step(after, upto, limit);
        after = r.last;
        if (r.n < limit) return after;
      }
    };

    let after = 0;
    if (marker && marker.rows > 1) {
      // The previous start died in this chunk: the rows before it as usual, then its rows one per marker.
      after = all(0, marker.afterSeq, REPLAY_CHUNK);
      for (let i = 0; i < marker.rows; i++) {
        const r = step(after, Number.MAX_SAFE_INTEGER, 1);
        if (r.n === 0) break;
        after = r.last;
      }
    }
    all(after, Number.MAX_SAFE_INTEGER, REPLAY_CHUNK);
    unmark.run();
    return out;
  }

  private moveToQuarantine(seq: number, now: number, reason: string): void {
    this.db
      .prepare('INSERT OR REPLACE INTO journal_quarantine (seq, tenant, received_at, body, max_window, dims, quarantined_at, reason) SELECT seq, tenant, received_at, body, max_window, dims, ?, ? FROM journal WHERE seq = ?')
      .run(now, reason, seq);
    this.db.prepare('DELETE FROM journal WHERE seq = ?').run(seq);
  }

  /** Rows kept in quarantine (README, Durability: how to inspect and replay them). */
  quarantineCount(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM journal_quarantine').get() as { n: number }).n;
  }

  /** The quarantined rows without their bodies, oldest first. */
  quarantined(): QuarantineEntry[] {
    return this.db
      .prepare('SELECT seq, tenant, received_at AS receivedAt, quarantined_at AS quarantinedAt, length(CAST(body AS BLOB)) AS bytes, reason FROM journal_quarantine ORDER BY seq')
      .all() as QuarantineEntry[];
  }

  /**
   * Puts a quarantined row back into the journal under a new sequence number, so that the next start replays it
   * (its samples then go to windows long closed: they are stored as late points that add to them). Only with the
   * service stopped: a running one would prune the row once a checkpoint passes it, without replaying it.
   * Returns the new sequence number, or undefined when no such row is quarantined.
   */
  requeue(seq: number): number | undefined {
    return this.db.transaction(() => {
      const moved = this.db
        .prepare('INSERT INTO journal (tenant, received_at, body, max_window, dims) SELECT tenant, received_at, body, max_window, dims FROM journal_quarantine WHERE seq = ?')
        .run(seq);
      if (moved.changes === 0) return undefined;
      this.db.prepare('DELETE FROM journal_quarantine WHERE seq = ?').run(seq);
      return Number(moved.lastInsertRowid);
    })();
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

/** A reason for the log and the quarantine table: the error's kind and message, never the row's body. */
function describeError(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

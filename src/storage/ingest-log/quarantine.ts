import type { Db } from '../sqlite.js';
import type { LogRecord, TextRecord } from './types.js';

export interface QuarantineEntry {
  seq: number;
  tenant: string;
  receivedAt: number;
  quarantinedAt: number;
  bytes: number;
  reason: string;
}

/** The process died while replaying the first `rows` records after `afterSeq` (the marker a replay leaves while it works). */
export interface ReplayMarker {
  afterSeq: number;
  rows: number;
}

/**
 * Log records whose replay failed, kept with the reason (table journal_quarantine of ingest.db: rare writes), and
 * the replay marker. A quarantined record stays in its segment until the segment goes: its seq is skipped by
 * every replay, also once it is requeued under a new seq (requeued_as), until no segment holds it any more.
 */
export class Quarantine {
  constructor(private readonly db: Db) {}

  marker(): ReplayMarker | undefined {
    return this.db.prepare('SELECT after_seq AS afterSeq, rows FROM replay_marker WHERE id = 1').get() as ReplayMarker | undefined;
  }

  mark(m: ReplayMarker): void {
    this.db.prepare('INSERT INTO replay_marker (id, after_seq, rows) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET after_seq = excluded.after_seq, rows = excluded.rows').run(m.afterSeq, m.rows);
  }

  unmark(): void {
    this.db.prepare('DELETE FROM replay_marker').run();
  }

  /** Keeps the record aside; with `unmark`, in the same transaction (the row a death was pinned on is out of the way). */
  add(r: LogRecord, now: number, reason: string, unmark = false): void {
    this.db.transaction(() => {
      this.db
        .prepare('INSERT OR REPLACE INTO journal_quarantine (seq, tenant, received_at, body, max_window, dims, quarantined_at, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(r.seq, r.tenant, r.receivedAt, r.body.toString('utf8'), r.maxWindow, r.dims ?? null, now, reason);
      if (unmark) this.unmark();
    })();
  }

  /** Every seq a replay must skip: quarantined, requeued or not. */
  seqs(): Set<number> {
    return new Set((this.db.prepare('SELECT seq FROM journal_quarantine').pluck().all() as number[]));
  }

  /** The highest seq ever quarantined (seqs are never reused). */
  maxSeq(): number {
    return (this.db.prepare('SELECT max(seq) FROM journal_quarantine').pluck().get() as number | null) ?? 0;
  }

  /** Records kept in quarantine and not requeued (README, Durability: how to inspect and replay them). */
  count(): number {
    return this.db.prepare('SELECT count(*) FROM journal_quarantine WHERE requeued_as IS NULL').pluck().get() as number;
  }

  /** The quarantined records without their bodies, oldest first. */
  list(): QuarantineEntry[] {
    return this.db
      .prepare('SELECT seq, tenant, received_at AS receivedAt, quarantined_at AS quarantinedAt, length(CAST(body AS BLOB)) AS bytes, reason FROM journal_quarantine WHERE requeued_as IS NULL ORDER BY seq')
      .all() as QuarantineEntry[];
  }

  /** The record as it was logged, if it is quarantined and not requeued. */
  get(seq: number): LogRecord | undefined {
    const r = this.db
      .prepare('SELECT seq, tenant, received_at AS receivedAt, body, max_window AS maxWindow, dims FROM journal_quarantine WHERE seq = ? AND requeued_as IS NULL')
      .get(seq) as TextRecord | undefined;
    return r && { ...r, body: Buffer.from(r.body) };
  }

  requeued(seq: number, as: number): void {
    this.db.prepare('UPDATE journal_quarantine SET requeued_as = ? WHERE seq = ?').run(as, seq);
  }

  /** Forgets requeued records below `lowestLogged` (the lowest seq a segment still holds): no replay can meet them. */
  forgetRequeued(lowestLogged: number): void {
    this.db.prepare('DELETE FROM journal_quarantine WHERE requeued_as IS NOT NULL AND seq < ?').run(lowestLogged);
  }
}

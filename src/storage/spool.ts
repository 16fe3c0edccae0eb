import type { Db } from './sqlite.js';

export interface Checkpoint {
  /** Journal rows up to this seq are reflected in the spool, except samples of windows >= closedBefore. */
  journalSeq: number;
  closedBefore: number;
}

export interface SpoolBatch {
  /** Last spool row included; acknowledge with it. */
  lastSeq: number;
  lines: string[];
}

export interface SpoolDepth {
  rows: number;
  lines: number;
  bytes: number;
}

/**
 * The on-disk queue of line-protocol points between the window store and InfluxDB. Points are committed here
 * together with the checkpoint (one transaction), then shipped in order; when it grows past `maxBytes` the oldest
 * rows are dropped and reported through `onDrop`.
 */
export class Spool {
  private readonly depthNow: SpoolDepth;
  private readonly insert;
  private readonly saveCheckpoint;

  constructor(
    private readonly db: Db,
    private readonly opts: { maxBytes: number; rowLines: number; onDrop: (lines: number) => void },
  ) {
    this.insert = db.prepare('INSERT INTO spool (body, lines, bytes) VALUES (?, ?, ?)');
    this.saveCheckpoint = db.prepare(
      'INSERT INTO checkpoint (id, journal_seq, closed_before) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET journal_seq = excluded.journal_seq, closed_before = excluded.closed_before',
    );
    const d = db.prepare('SELECT count(*) AS rows, coalesce(sum(lines), 0) AS lines, coalesce(sum(bytes), 0) AS bytes FROM spool').get() as SpoolDepth;
    this.depthNow = { ...d };
  }

  get depth(): Readonly<SpoolDepth> {
    return this.depthNow;
  }

  checkpoint(): Checkpoint | undefined {
    const row = this.db.prepare('SELECT journal_seq AS journalSeq, closed_before AS closedBefore FROM checkpoint WHERE id = 1').get() as Checkpoint | undefined;
    return row;
  }

  /** Appends points and moves the checkpoint atomically; `alsoInTx` runs in the same transaction. */
  commit(lines: readonly string[], cp: Checkpoint, alsoInTx?: () => void): void {
    let added = { rows: 0, lines: 0, bytes: 0 };
    this.db.transaction(() => {
      added = { rows: 0, lines: 0, bytes: 0 };
      for (let i = 0; i < lines.length; i += this.opts.rowLines) {
        const chunk = lines.slice(i, i + this.opts.rowLines);
        const body = chunk.join('\n');
        this.insert.run(body, chunk.length, body.length);
        added.rows++;
        added.lines += chunk.length;
        added.bytes += body.length;
      }
      this.saveCheckpoint.run(cp.journalSeq, cp.closedBefore);
      alsoInTx?.();
    })();
    this.depthNow.rows += added.rows;
    this.depthNow.lines += added.lines;
    this.depthNow.bytes += added.bytes;
    if (this.depthNow.bytes > this.opts.maxBytes) this.dropOldest();
  }

  /** The oldest rows, up to about `maxLines` lines (at least one row). */
  peek(maxLines: number): SpoolBatch | undefined {
    const rows = this.db.prepare('SELECT seq, body, lines FROM spool ORDER BY seq LIMIT ?').iterate(Math.max(1, Math.ceil(maxLines / this.opts.rowLines) * 2));
    const lines: string[] = [];
    let lastSeq = 0;
    for (const r of rows as IterableIterator<{ seq: number; body: string; lines: number }>) {
      if (lines.length > 0 && lines.length + r.lines > maxLines) break;
      lines.push(...r.body.split('\n'));
      lastSeq = r.seq;
    }
    return lines.length ? { lastSeq, lines } : undefined;
  }

  /** Removes rows up to `lastSeq` once InfluxDB has them (or has refused them for good). */
  ack(lastSeq: number): void {
    const gone = this.db.prepare('SELECT count(*) AS rows, coalesce(sum(lines), 0) AS lines, coalesce(sum(bytes), 0) AS bytes FROM spool WHERE seq <= ?').get(lastSeq) as SpoolDepth;
    this.db.prepare('DELETE FROM spool WHERE seq <= ?').run(lastSeq);
    this.depthNow.rows -= gone.rows;
    this.depthNow.lines -= gone.lines;
    this.depthNow.bytes -= gone.bytes;
  }

  private dropOldest(): void {
    const rows = this.db.prepare('SELECT seq, lines, bytes FROM spool ORDER BY seq').iterate() as IterableIterator<{ seq: number; lines: number; bytes: number }>;
    let over = this.depthNow.bytes - this.opts.maxBytes;
    let through = 0;
    let lines = 0;
    for (const r of rows) {
      if (over <= 0) break;
      over -= r.bytes;
      through = r.seq;
      lines += r.lines;
    }
    if (through > 0) {
      this.ack(through);
      this.opts.onDrop(lines);
    }
  }
}

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

/** The owner of the service's own points (incident events, self metrics): not a tenant id (those start with a-z0-9). */
export const SERVICE = '';

/** Points to spool by owner: a tenant id, or SERVICE. */
export type SpoolLines = ReadonlyMap<string, readonly string[]>;

const zero = (): SpoolDepth => ({ rows: 0, lines: 0, bytes: 0 });

/**
 * The on-disk queue of line-protocol points between the window store and InfluxDB. Points are committed here
 * together with the checkpoint (one transaction), then shipped in order. Each row holds one owner's points — a
 * tenant's, or the service's own — so that when the spool grows past `maxBytes` the owner holding the most loses
 * its oldest rows first: whoever is over its fair share (`maxBytes` / owners with points spooled) pays, and one
 * tenant's flood never evicts another's points while it has any of its own. Drops are reported through `onDrop`.
 */
export class Spool {
  private readonly depthNow: SpoolDepth;
  private readonly owners = new Map<string, SpoolDepth>();
  private readonly insert;
  private readonly saveCheckpoint;
  private readonly oldestOf;
  private readonly deleteRow;

  constructor(
    private readonly db: Db,
    private readonly opts: { maxBytes: number; rowLines: number; onDrop: (owner: string, lines: number) => void },
  ) {
    this.insert = db.prepare('INSERT INTO spool (tenant, body, lines, bytes) VALUES (?, ?, ?, ?)');
    this.saveCheckpoint = db.prepare(
      'INSERT INTO checkpoint (id, journal_seq, closed_before) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET journal_seq = excluded.journal_seq, closed_before = excluded.closed_before',
    );
    this.oldestOf = db.prepare('SELECT seq, lines, bytes FROM spool WHERE tenant = ? ORDER BY seq LIMIT 1');
    this.deleteRow = db.prepare('DELETE FROM spool WHERE seq = ?');
    this.depthNow = zero();
    const byOwner = db.prepare('SELECT tenant, count(*) AS rows, sum(lines) AS lines, sum(bytes) AS bytes FROM spool GROUP BY tenant').all() as ({ tenant: string } & SpoolDepth)[];
    for (const { tenant, ...d } of byOwner) this.add(tenant, d, 1);
  }

  get depth(): Readonly<SpoolDepth> {
    return this.depthNow;
  }

  /** Spooled rows, points and bytes by owner (tenant id, or SERVICE). */
  byOwner(): ReadonlyMap<string, Readonly<SpoolDepth>> {
    return this.owners;
  }

  checkpoint(): Checkpoint | undefined {
    const row = this.db.prepare('SELECT journal_seq AS journalSeq, closed_before AS closedBefore FROM checkpoint WHERE id = 1').get() as Checkpoint | undefined;
    return row;
  }

  /** Appends points and moves the checkpoint atomically; `alsoInTx` runs in the same transaction. */
  commit(points: SpoolLines, cp: Checkpoint, alsoInTx?: () => void): void {
    let added = new Map<string, SpoolDepth>();
    this.db.transaction(() => {
      added = new Map();
      for (const [owner, lines] of points) {
        for (let i = 0; i < lines.length; i += this.opts.rowLines) {
          const chunk = lines.slice(i, i + this.opts.rowLines);
          const body = chunk.join('\n');
          this.insert.run(owner, body, chunk.length, body.length);
          let d = added.get(owner);
          if (!d) added.set(owner, (d = zero()));
          d.rows++;
          d.lines += chunk.length;
          d.bytes += body.length;
        }
      }
      this.saveCheckpoint.run(cp.journalSeq, cp.closedBefore);
      alsoInTx?.();
    })();
    for (const [owner, d] of added) this.add(owner, d, 1);
    if (this.depthNow.bytes > this.opts.maxBytes) this.dropOverShare();
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
    const gone = this.db.prepare('SELECT tenant, count(*) AS rows, sum(lines) AS lines, sum(bytes) AS bytes FROM spool WHERE seq <= ? GROUP BY tenant').all(lastSeq) as ({ tenant: string } & SpoolDepth)[];
    this.db.prepare('DELETE FROM spool WHERE seq <= ?').run(lastSeq);
    for (const { tenant, ...d } of gone) this.add(tenant, d, -1);
  }

  /**
   * Drops rows until the spool is within `maxBytes`, each time the oldest row of the owner holding the most: that
   * owner is always over its fair share (the largest is at least the mean, and the mean is over maxBytes / owners
   * while the spool is over maxBytes), so an owner within its share never loses a point while another is over.
   */
  private dropOverShare(): void {
    const dropped = new Map<string, number>();
    while (this.depthNow.bytes > this.opts.maxBytes) {
      let owner: string | undefined;
      let most = -1;
      for (const [o, d] of this.owners) if (d.bytes > most) [owner, most] = [o, d.bytes];
      const row = owner === undefined ? undefined : (this.oldestOf.get(owner) as { seq: number; lines: number; bytes: number } | undefined);
      if (!row) break;
      this.deleteRow.run(row.seq);
      this.add(owner!, { rows: 1, lines: row.lines, bytes: row.bytes }, -1);
      dropped.set(owner!, (dropped.get(owner!) ?? 0) + row.lines);
    }
    for (const [owner, lines] of dropped) this.opts.onDrop(owner, lines);
  }

  private add(owner: string, d: SpoolDepth, sign: 1 | -1): void {
    let o = this.owners.get(owner);
    if (!o) this.owners.set(owner, (o = zero()));
    for (const t of [o, this.depthNow]) {
      t.rows += sign * d.rows;
      t.lines += sign * d.lines;
      t.bytes += sign * d.bytes;
    }
    if (o.rows === 0) this.owners.delete(owner);
  }
}

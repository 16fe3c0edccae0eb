import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openIngestDb } from '../../src/storage/ingest-db.js';
import { Journal } from '../../src/storage/journal.js';
import { Spool } from '../../src/storage/spool.js';
import type { Db } from '../../src/storage/sqlite.js';
import { tempDir } from '../helpers/tmp.js';

let dbs: Db[] = [];
const open = (dir: string) => {
  const db = openIngestDb(join(dir, 'ingest.db'));
  dbs.push(db);
  return db;
};
const tmp = () => tempDir('qoswatch-spool');
afterEach(() => {
  for (const db of dbs) if (db.open) db.close();
  dbs = [];
});

const lines = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `m,t=a f=${from + i} ${from + i}`);

describe('Spool', () => {
  it('keeps points in order in rows of at most rowLines, and across a reopen', () => {
    const dir = tmp();
    const drops: number[] = [];
    let spool = new Spool(open(dir), { maxBytes: 1e9, rowLines: 3, onDrop: (n) => drops.push(n) });
    spool.commit(lines(7), { journalSeq: 4, closedBefore: 10 });
    expect(spool.depth).toMatchObject({ rows: 3, lines: 7 });
    spool = new Spool(open(dir), { maxBytes: 1e9, rowLines: 3, onDrop: (n) => drops.push(n) });
    expect(spool.depth).toMatchObject({ rows: 3, lines: 7 });
    expect(spool.checkpoint()).toEqual({ journalSeq: 4, closedBefore: 10 });
    const batch = spool.peek(5)!;
    expect(batch.lines).toEqual(lines(3)); // whole rows only: a second row would exceed 5
    spool.ack(batch.lastSeq);
    expect(spool.peek(100)!.lines).toEqual(lines(4, 3));
    expect(spool.depth.lines).toBe(4);
    expect(drops).toEqual([]);
  });

  it('moves the checkpoint even with no points, atomically with what runs alongside', () => {
    const db = open(tmp());
    const spool = new Spool(db, { maxBytes: 1e9, rowLines: 10, onDrop: () => {} });
    spool.commit([], { journalSeq: 9, closedBefore: 3 });
    expect(spool.checkpoint()).toEqual({ journalSeq: 9, closedBefore: 3 });
    expect(() =>
      spool.commit(lines(2), { journalSeq: 10, closedBefore: 4 }, () => {
        throw new Error('disk full');
      }),
    ).toThrow('disk full');
    expect(spool.checkpoint()).toEqual({ journalSeq: 9, closedBefore: 3 });
    expect(spool.depth.lines).toBe(0);
    expect(spool.peek(10)).toBeUndefined();
  });

  it('drops the oldest rows when over its size, and reports how many points', () => {
    const drops: number[] = [];
    const rowBytes = lines(10).join('\n').length;
    const spool = new Spool(open(tmp()), { maxBytes: rowBytes * 2.5, rowLines: 10, onDrop: (n) => drops.push(n) });
    spool.commit(lines(10, 0), { journalSeq: 1, closedBefore: 1 });
    spool.commit(lines(10, 10), { journalSeq: 2, closedBefore: 1 });
    expect(drops).toEqual([]);
    spool.commit(lines(10, 20), { journalSeq: 3, closedBefore: 1 });
    expect(drops).toEqual([10]);
    expect(spool.peek(100)!.lines).toEqual(lines(20, 10));
    expect(spool.depth.bytes).toBeLessThanOrEqual(rowBytes * 2.5);
  });
});

describe('Journal', () => {
  it('commits appends of one event-loop turn together, then applies them in order', async () => {
    const db = open(tmp());
    const j = new Journal(db);
    const applied: number[] = [];
    const entry = (i: number) => ({ tenant: 't', receivedAt: i, body: `{"samples":[${i}]}`, maxWindow: i });
    const results = Promise.all([1, 2, 3].map((i) => j.append(entry(i), (seq) => (applied.push(seq), `ok${i}`))));
    expect(j.pendingBytes).toBeGreaterThan(0);
    expect(applied).toEqual([]); // not before the commit
    expect(await results).toEqual(['ok1', 'ok2', 'ok3']);
    expect(applied).toEqual([1, 2, 3]);
    expect(j.lastSeq).toBe(3);
    expect([...j.rows()].map((r) => r.body)).toEqual(['{"samples":[1]}', '{"samples":[2]}', '{"samples":[3]}']);
  });

  it('never reuses a sequence number after pruning', async () => {
    const dir = tmp();
    const j = new Journal(open(dir));
    const entry = { tenant: 't', receivedAt: 0, body: '{}', maxWindow: 5 };
    await j.append(entry, () => 0);
    await j.append(entry, () => 0);
    expect(j.prune(2, 6)).toBe(2);
    const reopened = new Journal(open(dir));
    expect(reopened.lastSeq).toBe(2);
    expect(await reopened.append(entry, (seq) => seq)).toBe(3);
  });

  it('prunes only rows that are covered and whose windows are all stored', async () => {
    const j = new Journal(open(tmp()));
    for (const maxWindow of [1, 7, 2]) await j.append({ tenant: 't', receivedAt: 0, body: '{}', maxWindow }, () => 0);
    expect(j.prune(2, 5)).toBe(1); // row 1 (window 1); row 2 touches window 7; row 3 is past the covered seq
    expect([...j.rows()].map((r) => r.seq)).toEqual([2, 3]);
  });

  it('rejects every append of a failed commit and reports the failure until one succeeds', async () => {
    const db = open(tmp());
    const j = new Journal(db);
    db.exec('CREATE TRIGGER no_insert BEFORE INSERT ON journal BEGIN SELECT RAISE(ABORT, \'disk is full\'); END;');
    const applied: number[] = [];
    await expect(j.append({ tenant: 't', receivedAt: 0, body: '{}', maxWindow: 0 }, (s) => applied.push(s))).rejects.toThrow('disk is full');
    expect(j.failure).toContain('disk is full');
    expect(applied).toEqual([]);
    db.exec('DROP TRIGGER no_insert');
    await j.append({ tenant: 't', receivedAt: 0, body: '{}', maxWindow: 0 }, (s) => applied.push(s));
    expect(j.failure).toBeUndefined();
    expect(applied).toHaveLength(1);
  });
});

describe('Journal pruning in chunks', () => {
  it('deletes every covered row, a chunk per event-loop turn, and none that is not covered', async () => {
    const j = new Journal(open(tmp()));
    for (let i = 0; i < 600; i++) await Promise.all([j.append({ tenant: 't', receivedAt: 0, body: '{}', maxWindow: i % 3 === 0 ? 9 : 1 }, () => 0)]);
    j.pruneGradually(600, 5);
    expect(j.pruneInProgress).toBe(true);
    expect(j.count()).toBe(600); // nothing deleted within this turn
    while (j.pruneInProgress) await new Promise((r) => setImmediate(r));
    expect(j.count()).toBe(200); // the rows touching window 9 stay
    expect([...j.rows()].every((r) => r.maxWindow === 9)).toBe(true);
  });
});

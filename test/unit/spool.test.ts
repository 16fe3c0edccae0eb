import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openIngestDb } from '../../src/storage/ingest-db.js';
import { Journal, REPLAY_CHUNK } from '../../src/storage/journal.js';
import { SERVICE, Spool } from '../../src/storage/spool.js';
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

const lines = (n: number, from = 0, tenant = 'a') => Array.from({ length: n }, (_, i) => `m,t=${tenant} f=${String(from + i).padStart(6, '0')} ${1000 + from + i}`);
/** Points of one owner. */
const of = (owner: string, l: string[]) => new Map([[owner, l]]);

describe('Spool', () => {
  it('keeps points in order in rows of at most rowLines, and across a reopen', () => {
    const dir = tmp();
    const drops: number[] = [];
    let spool = new Spool(open(dir), { maxBytes: 1e9, rowLines: 3, onDrop: (_, n) => drops.push(n) });
    spool.commit(of('a', lines(7)), { journalSeq: 4, closedBefore: 10 });
    expect(spool.depth).toMatchObject({ rows: 3, lines: 7 });
    spool = new Spool(open(dir), { maxBytes: 1e9, rowLines: 3, onDrop: (_, n) => drops.push(n) });
    expect(spool.depth).toMatchObject({ rows: 3, lines: 7 });
    expect(spool.byOwner().get('a')).toMatchObject({ rows: 3, lines: 7 });
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
    spool.commit(new Map(), { journalSeq: 9, closedBefore: 3 });
    expect(spool.checkpoint()).toEqual({ journalSeq: 9, closedBefore: 3 });
    expect(() =>
      spool.commit(of('a', lines(2)), { journalSeq: 10, closedBefore: 4 }, () => {
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
    const spool = new Spool(open(tmp()), { maxBytes: rowBytes * 2.5, rowLines: 10, onDrop: (_, n) => drops.push(n) });
    spool.commit(of('a', lines(10, 0)), { journalSeq: 1, closedBefore: 1 });
    spool.commit(of('a', lines(10, 10)), { journalSeq: 2, closedBefore: 1 });
    expect(drops).toEqual([]);
    spool.commit(of('a', lines(10, 20)), { journalSeq: 3, closedBefore: 1 });
    expect(drops).toEqual([10]);
    expect(spool.peek(100)!.lines).toEqual(lines(20, 10));
    expect(spool.depth.bytes).toBeLessThanOrEqual(rowBytes * 2.5);
  });

  it('over its size, drops the oldest points of whoever holds the most, never another tenant\'s while that one has any', () => {
    const drops: [string, number][] = [];
    const rowBytes = lines(10, 0, 'hon').join('\n').length; // rows of 10 lines, about the same size for every owner
    const spool = new Spool(open(tmp()), { maxBytes: rowBytes * 6 + 20, rowLines: 10, onDrop: (o, n) => drops.push([o, n]) });
    // an honest tenant and the service spool a little; a hostile tenant floods, round after round
    spool.commit(new Map([['hon', lines(20, 0, 'hon')], [SERVICE, lines(10, 0, 'svc')]]), { journalSeq: 1, closedBefore: 1 });
    for (let round = 0; round < 5; round++) spool.commit(of('evil', lines(30, round * 30, 'evl')), { journalSeq: 2 + round, closedBefore: 1 });
    expect(spool.depth.bytes).toBeLessThanOrEqual(rowBytes * 6 + 20);
    expect(drops.every(([o]) => o === 'evil')).toBe(true);
    const held = spool.peek(1000)!.lines;
    expect(held.filter((l) => l.includes('t=hon'))).toEqual(lines(20, 0, 'hon'));
    expect(held.filter((l) => l.includes('t=svc'))).toEqual(lines(10, 0, 'svc'));
    // the flood keeps its newest points, within what is left
    expect(held.filter((l) => l.includes('t=evl'))).toEqual(lines(30, 120, 'evl'));
    expect(spool.byOwner().get('evil')).toMatchObject({ rows: 3, lines: 30 });
    // once the flood is within its share, a growing honest tenant over its own share pays for its own growth
    spool.commit(of('hon', lines(40, 20, 'hon')), { journalSeq: 9, closedBefore: 1 });
    expect(drops.slice(-1)[0]![0]).toBe('hon');
    expect(spool.byOwner().get(SERVICE)).toMatchObject({ lines: 10 });
  });

  it('counts what each owner holds across a reopen and as rows are acknowledged', () => {
    const dir = tmp();
    let spool = new Spool(open(dir), { maxBytes: 1e9, rowLines: 5, onDrop: () => {} });
    spool.commit(new Map([['a', lines(7, 0, 'a')], ['b', lines(3, 0, 'b')], [SERVICE, lines(1, 0, 's')]]), { journalSeq: 1, closedBefore: 1 });
    spool = new Spool(open(dir), { maxBytes: 1e9, rowLines: 5, onDrop: () => {} });
    expect(Object.fromEntries([...spool.byOwner()].map(([o, d]) => [o, d.lines]))).toEqual({ a: 7, b: 3, [SERVICE]: 1 });
    const first = spool.peek(5)!; // a's first row
    spool.ack(first.lastSeq);
    expect(Object.fromEntries([...spool.byOwner()].map(([o, d]) => [o, d.lines]))).toEqual({ a: 2, b: 3, [SERVICE]: 1 });
    spool.ack(spool.peek(100)!.lastSeq);
    expect(spool.byOwner().size).toBe(0);
    expect(spool.depth).toEqual({ rows: 0, lines: 0, bytes: 0 });
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

describe('Journal replay: quarantine and the replay marker', () => {
  /** A journal of `n` rows in `dir` (bodies name their seq). */
  function journalOf(dir: string, n: number): { db: Db; j: Journal } {
    const db = open(dir);
    const insert = db.prepare("INSERT INTO journal (tenant, received_at, body, max_window) VALUES ('t', 0, ?, 0)");
    db.transaction(() => {
      for (let i = 1; i <= n; i++) insert.run(`row ${i}`);
    })();
    return { db, j: new Journal(db) };
  }
  /** The marker as another connection sees it (committed), while replay runs. */
  const markerOf = (reader: Db) => reader.prepare('SELECT after_seq AS afterSeq, rows FROM replay_marker').get() as { afterSeq: number; rows: number } | undefined;
  const quarantine = (db: Db) => db.prepare('SELECT seq, tenant, body, reason FROM journal_quarantine ORDER BY seq').all();

  it('moves a row whose apply throws to quarantine with its reason, applies the rest and clears the marker', () => {
    const dir = tmp();
    const { db, j } = journalOf(dir, 5);
    const applied: number[] = [];
    const out = j.replay((row) => {
      if (row.seq === 3) throw new TypeError('bad row');
      applied.push(row.seq);
    }, 1234);
    expect(applied).toEqual([1, 2, 4, 5]);
    expect(out).toEqual([{ seq: 3, tenant: 't', cause: 'error', reason: 'TypeError: bad row' }]);
    expect(quarantine(db)).toEqual([{ seq: 3, tenant: 't', body: 'row 3', reason: 'TypeError: bad row' }]);
    expect([...j.rows()].map((r) => r.seq)).toEqual([1, 2, 4, 5]);
    expect(j.quarantineCount()).toBe(1);
    expect(markerOf(db)).toBeUndefined();
  });

  it('marks each chunk of rows once before replaying it (a healthy journal costs one write per chunk)', () => {
    const dir = tmp();
    const { j } = journalOf(dir, 2 * REPLAY_CHUNK + 5);
    const reader = open(dir);
    const seen = new Map<number, { afterSeq: number; rows: number } | undefined>();
    j.replay((row) => void seen.set(row.seq, markerOf(reader)), 0);
    expect(seen.size).toBe(2 * REPLAY_CHUNK + 5);
    expect(seen.get(1)).toEqual({ afterSeq: 0, rows: REPLAY_CHUNK });
    expect(seen.get(REPLAY_CHUNK)).toEqual({ afterSeq: 0, rows: REPLAY_CHUNK });
    expect(seen.get(REPLAY_CHUNK + 1)).toEqual({ afterSeq: REPLAY_CHUNK, rows: REPLAY_CHUNK });
    expect(seen.get(2 * REPLAY_CHUNK + 5)).toEqual({ afterSeq: 2 * REPLAY_CHUNK, rows: REPLAY_CHUNK });
    expect(markerOf(reader)).toBeUndefined();
  });

  it('after a death in a chunk, replays that chunk one row per marker', () => {
    const dir = tmp();
    const { db, j } = journalOf(dir, REPLAY_CHUNK + 20);
    const reader = open(dir);
    // The previous start died somewhere in the REPLAY_CHUNK rows after row 10, as the marker it left says.
    db.prepare('INSERT INTO replay_marker (id, after_seq, rows) VALUES (1, 10, ?)').run(REPLAY_CHUNK);
    const seen = new Map<number, { afterSeq: number; rows: number } | undefined>();
    expect(j.replay((row) => void seen.set(row.seq, markerOf(reader)), 0)).toEqual([]);
    expect(seen.size).toBe(REPLAY_CHUNK + 20);
    // Rows before that chunk go as one chunk; its rows each under their own marker (a death now names its row).
    expect(seen.get(3)).toEqual({ afterSeq: 0, rows: REPLAY_CHUNK });
    expect(seen.get(11)).toEqual({ afterSeq: 10, rows: 1 });
    expect(seen.get(15)).toEqual({ afterSeq: 14, rows: 1 });
    expect(seen.get(REPLAY_CHUNK + 10)).toEqual({ afterSeq: REPLAY_CHUNK + 9, rows: 1 });
    expect(seen.get(REPLAY_CHUNK + 11)).toEqual({ afterSeq: REPLAY_CHUNK + 10, rows: REPLAY_CHUNK });
    expect(markerOf(reader)).toBeUndefined();
  });

  it('after a death on a single row, quarantines that row without replaying it, and only that row', () => {
    const dir = tmp();
    const { db, j } = journalOf(dir, 30);
    db.prepare('INSERT INTO replay_marker (id, after_seq, rows) VALUES (1, 14, 1)').run();
    const applied: number[] = [];
    const out = j.replay((row) => void applied.push(row.seq), 99);
    expect(out).toEqual([{ seq: 15, tenant: 't', cause: 'crash', reason: expect.stringContaining('died') }]);
    expect(applied).toEqual(Array.from({ length: 30 }, (_, i) => i + 1).filter((seq) => seq !== 15));
    expect(quarantine(db)).toEqual([{ seq: 15, tenant: 't', body: 'row 15', reason: expect.stringContaining('died') }]);
    // A start after a clean replay quarantines nothing more.
    expect(j.replay(() => {}, 100)).toEqual([]);
    expect(j.quarantineCount()).toBe(1);
  });
});

import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openIngestDb } from '../../src/storage/ingest-db.js';
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

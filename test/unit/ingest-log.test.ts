import { appendFileSync, mkdirSync, readFileSync, rmdirSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openIngestDb } from '../../src/storage/ingest-db.js';
import { assertLogFree, claimLog, openLocalIngestLog } from '../../src/storage/ingest-log/local.js';
import { Quarantine } from '../../src/storage/ingest-log/quarantine.js';
import { REPLAY_CHUNK, replayLog } from '../../src/storage/ingest-log/replay.js';
import { SegmentLog } from '../../src/storage/ingest-log/segment-log.js';
import type { LogEntry } from '../../src/storage/ingest-log/types.js';
import type { Db } from '../../src/storage/sqlite.js';
import { requeue } from '../../src/storage/journal-cli.js';
import { tempDir } from '../helpers/tmp.js';

let open: { close(): void }[] = [];
afterEach(() => {
  for (const o of open) o.close();
  open = [];
});
const tmp = () => tempDir('qoswatch-log');
const db = (dir: string): Db => {
  const d = openIngestDb(join(dir, 'ingest.db'));
  open.push({ close: () => d.open && d.close() });
  return d;
};
/** The log of `dir` as a start opens it (after its ingest.db). */
const log = (dir: string, d = db(dir)): SegmentLog => {
  const l = openLocalIngestLog(join(dir, 'ingest-log'), d);
  open.push(l);
  return l;
};
const entry = (maxWindow: number, body = '{}', tenant = 't'): LogEntry => ({ tenant, receivedAt: 1000 + maxWindow, body: Buffer.from(body), maxWindow });
const seqs = (l: SegmentLog, after = 0) => [...l.read(after)].map((r) => r.seq);
const segmentFiles = (dir: string) => readdirSync(join(dir, 'ingest-log')).sort();
const segmentPath = (dir: string, window: number) => join(dir, 'ingest-log', `w${window}.log`);
/** A closed log holding three records ({"n":0..2}) in the segment of window 5, and that segment's path. */
async function threeRecords(): Promise<{ dir: string; path: string }> {
  const dir = tmp();
  const l = log(dir);
  for (let i = 0; i < 3; i++) await l.append(entry(5, `{"n":${i}}`), () => 0);
  l.close();
  return { dir, path: segmentPath(dir, 5) };
}

describe('SegmentLog', () => {
  it('writes once 64 KiB are pending at the end of the task that appended them (their samples die young), with fsync at the end of the turn', async () => {
    const large = `{"samples":[${'1,'.repeat(33 * 1024)}1]}`;
    for (const fsync of [false, true]) {
      const l = new SegmentLog(join(tmp(), 'ingest-log'), { fsync });
      open.push(l);
      const applied: string[] = [];
      let turnEnded = false;
      setImmediate(() => (turnEnded = true));
      const small = l.append(entry(1, '{"samples":[1]}'), () => applied.push('small'));
      const big = l.append(entry(1, large), () => applied.push('large'));
      await null;
      if (fsync) {
        expect(applied, 'fsync: group commit at the end of the turn').toEqual([]);
        expect(l.pendingBytes).toBe(large.length + 15);
      } else {
        expect(applied, 'written before the turn ended').toEqual(['small', 'large']);
        expect(turnEnded).toBe(false);
        expect(l.pendingBytes).toBe(0);
      }
      await Promise.all([small, big]);
      expect(applied).toEqual(['small', 'large']);
      expect(seqs(l)).toEqual([1, 2]);
    }
  });

  it('commits appends of one event-loop turn together, then runs their callbacks in seq order', async () => {
    const l = log(tmp());
    const applied: number[] = [];
    const results = Promise.all([1, 2, 3].map((i) => l.append(entry(i % 2, `{"samples":[${i}]}`), (seq) => (applied.push(seq), `ok${i}`))));
    expect(l.pendingBytes).toBeGreaterThan(0);
    expect(applied).toEqual([]); // not before the write
    expect(await results).toEqual(['ok1', 'ok2', 'ok3']);
    expect(applied).toEqual([1, 2, 3]);
    expect(l.pendingBytes).toBe(0);
    expect(l.lastSeq).toBe(3);
    // Two segments (windows 0 and 1), read back merged in seq order, every field as appended.
    expect([...l.read(0)]).toEqual([1, 2, 3].map((i) => ({ ...entry(i % 2, `{"samples":[${i}]}`), seq: i, dims: null })));
    expect(l.stats()).toMatchObject({ segments: 2, damaged: 0 });
    expect(seqs(l, 2)).toEqual([3]);
  });

  it('keeps every field across a reopen: unicode, dims, an empty body', async () => {
    const dir = tmp();
    const l = log(dir);
    const e = { tenant: 'tënant', receivedAt: 1_800_000_000_123, body: Buffer.from('{"samples":[{"region":"日本"}]}'), maxWindow: 180_000_000, dims: '{"isp":"Télé"}' };
    await l.append(e, () => 0);
    await l.append({ ...e, body: Buffer.alloc(0), dims: null }, () => 0);
    l.close();
    expect([...log(dir).read(0)]).toEqual([{ ...e, seq: 1 }, { ...e, body: Buffer.alloc(0), dims: null, seq: 2 }]);
  });

  it('cuts a torn tail (a crash mid-write) at open, and appends after it', async () => {
    const { dir, path } = await threeRecords();
    const whole = statSync(path).size;
    // The first bytes of a fourth record: a header announcing more than the file holds, then half a payload.
    const frame = readFileSync(path).subarray(0, whole / 3);
    appendFileSync(path, frame.subarray(0, frame.length - 7));
    const l = log(dir);
    expect(statSync(path).size).toBe(whole);
    expect(l.opened).toEqual({ tornBytes: frame.length - 7, corruptRecords: 0, corruptBytes: 0 });
    expect(seqs(l)).toEqual([1, 2, 3]);
    expect(await l.append(entry(5), (seq) => seq)).toBe(4);
    l.close();
    expect(seqs(log(dir))).toEqual([1, 2, 3, 4]);
  });

  it('cuts a tail of a few bytes, shorter than a header', async () => {
    const dir = tmp();
    const l = log(dir);
    await l.append(entry(5), () => 0);
    l.close();
    appendFileSync(segmentPath(dir, 5), Buffer.from([0x31, 0x4c]));
    expect(seqs(log(dir))).toEqual([1]);
  });

  it('skips a record whose CRC is wrong in the middle of a segment, counts it, and keeps the records after it', async () => {
    const { dir, path } = await threeRecords();
    const bytes = readFileSync(path);
    const size = bytes.length / 3;
    bytes.writeUInt8(bytes.readUInt8(2 * size - 3) ^ 0xff, 2 * size - 3); // a byte of the second record's body
    writeFileSync(path, bytes);
    const l = log(dir);
    expect(l.opened).toEqual({ tornBytes: 0, corruptRecords: 1, corruptBytes: size });
    expect(l.stats().damaged).toBe(1);
    expect([...l.read(0)].map((r) => [r.seq, r.body.toString()])).toEqual([[1, '{"n":0}'], [3, '{"n":2}']]);
    expect(await l.append(entry(5), (seq) => seq)).toBe(4);
  });

  it('finds the next record after a damaged length field', async () => {
    const { dir, path } = await threeRecords();
    const bytes = readFileSync(path);
    bytes.writeUInt32LE(0x7fff_ffff, 4); // the first record's length: past the end of the file
    writeFileSync(path, bytes);
    const l = log(dir);
    expect(l.opened.corruptRecords).toBe(1);
    expect(seqs(l)).toEqual([2, 3]);
  });

  it('never reuses a seq: after every segment is deleted, the checkpoint and the quarantine keep the count', async () => {
    const dir = tmp();
    const d = db(dir);
    let l = log(dir, d);
    await l.append(entry(1), () => 0);
    await l.append(entry(1), () => 0);
    l.trim({ journalSeq: 2, closedBefore: 2 });
    expect(segmentFiles(dir)).toEqual([]);
    // The checkpoint (committed with the spool) says 2.
    d.prepare('INSERT INTO checkpoint (id, journal_seq, closed_before) VALUES (1, 2, 2)').run();
    l.close();
    l = log(dir, d);
    expect(l.lastSeq).toBe(2);
    expect(await l.append(entry(1), (seq) => seq)).toBe(3);
    // A quarantined seq above the checkpoint counts too.
    new Quarantine(d).add({ ...entry(1), seq: 9 }, 0, 'r');
    l.trim({ journalSeq: 3, closedBefore: 2 });
    l.close();
    expect(await log(dir, d).append(entry(1), (seq) => seq)).toBe(10);
  });

  it('deletes a segment only once its window is closed and the checkpoint covers all of its seqs', async () => {
    const dir = tmp();
    const l = log(dir);
    for (const w of [1, 7, 1, 2]) await l.append(entry(w), () => 0);
    expect(segmentFiles(dir)).toEqual(['w1.log', 'w2.log', 'w7.log']);
    l.trim({ journalSeq: 2, closedBefore: 5 }); // window 1 holds seq 3, not covered yet; window 2's seq 4 neither
    expect(segmentFiles(dir)).toEqual(['w1.log', 'w2.log', 'w7.log']);
    l.trim({ journalSeq: 4, closedBefore: 2 }); // window 2 is not closed
    expect(segmentFiles(dir)).toEqual(['w2.log', 'w7.log']);
    expect(seqs(l)).toEqual([2, 4]);
    l.trim({ journalSeq: 4, closedBefore: 5 });
    expect(segmentFiles(dir)).toEqual(['w7.log']);
    expect(l.stats()).toEqual({ segments: 1, bytes: statSync(segmentPath(dir, 7)).size, damaged: 0 });
    // A late batch for a deleted window starts its segment again.
    await l.append(entry(1), () => 0);
    expect(segmentFiles(dir)).toEqual(['w1.log', 'w7.log']);
    expect(seqs(l)).toEqual([2, 5]);
  });

  it('rejects every append of a failed write, leaves nothing of it in the files, and reports it until a write succeeds', async () => {
    const dir = tmp();
    const l = log(dir);
    await l.append(entry(1), () => 0);
    // A window whose segment cannot be created (a directory holds its name), beside one that is written.
    mkdirSync(segmentPath(dir, 2));
    const applied: number[] = [];
    try {
      const a = l.append(entry(1, '{"a":1}'), (s) => applied.push(s));
      const b = l.append(entry(2), (s) => applied.push(s));
      await expect(a).rejects.toThrow(/EISDIR/);
      await expect(b).rejects.toThrow(/EISDIR/);
    } finally {
      rmdirSync(segmentPath(dir, 2));
    }
    expect(l.failure).toContain('EISDIR');
    expect(applied).toEqual([]);
    expect(seqs(l)).toEqual([1]);
    await l.append(entry(2), (s) => applied.push(s));
    expect(l.failure).toBeUndefined();
    expect(applied).toEqual([4]); // the refused batch's seqs 2 and 3 are not handed out again
    l.close();
    expect(seqs(log(dir))).toEqual([1, 4]);
  });

  it('with fsync, appends and reads back the same (fdatasync per segment, the directory synced for a new file)', async () => {
    const dir = tmp();
    const l = new SegmentLog(join(dir, 'ingest-log'), { fsync: true });
    open.push(l);
    expect(await Promise.all([l.append(entry(1), (s) => s), l.append(entry(2), (s) => s)])).toEqual([1, 2]);
    expect(l.failure).toBeUndefined();
    l.close();
    expect(seqs(log(dir))).toEqual([1, 2]);
  });

  it('writes segment files owner-only', async () => {
    const dir = tmp();
    const l = log(dir);
    await l.append(entry(1), () => 0);
    expect(statSync(segmentPath(dir, 1)).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'ingest-log')).mode & 0o777).toBe(0o700);
  });
});

describe('upgrade from the SQLite journal', () => {
  /** Rows as the previous version wrote them (its INSERT), in a data dir without segments. */
  function oldJournal(dir: string, bodies: string[]): Db {
    const d = db(dir);
    const insert = d.prepare('INSERT INTO journal (tenant, received_at, body, max_window, dims) VALUES (?, ?, ?, ?, ?)');
    for (const [i, body] of bodies.entries()) insert.run('t', 1000 + i, body, 7 + i, i === 0 ? '{"isp":"x"}' : null);
    return d;
  }

  it('moves the rows into the log under their seqs, once, and goes on after them', async () => {
    const dir = tmp();
    const d = oldJournal(dir, ['{"a":1}', '{"a":2}', '{"a":3}']);
    d.prepare('DELETE FROM journal WHERE seq = 1').run(); // pruned by the old version: seqs go on from its counter
    let l = log(dir, d);
    expect([...l.read(0)]).toEqual([
      { seq: 2, tenant: 't', receivedAt: 1001, body: Buffer.from('{"a":2}'), maxWindow: 8, dims: null },
      { seq: 3, tenant: 't', receivedAt: 1002, body: Buffer.from('{"a":3}'), maxWindow: 9, dims: null },
    ]);
    expect(d.prepare('SELECT count(*) FROM journal').pluck().get()).toBe(0);
    expect(await l.append(entry(9), (seq) => seq)).toBe(4);
    l.close();
    l = log(dir, d);
    expect(seqs(l)).toEqual([2, 3, 4]);
  });

  it('a crash after part of the rows moved: the next start moves the rest, none twice', () => {
    const dir = tmp();
    const d = oldJournal(dir, ['{"a":1}', '{"a":2}', '{"a":3}']);
    // As if the previous start had written row 1 to its segment and died before deleting the rows.
    const partial = new SegmentLog(join(dir, 'ingest-log'));
    partial.import([{ seq: 1, tenant: 't', receivedAt: 1000, body: Buffer.from('{"a":1}'), maxWindow: 7, dims: '{"isp":"x"}' }]);
    partial.close();
    const l = log(dir, d);
    expect([...l.read(0)].map((r) => [r.seq, r.body.toString(), r.dims])).toEqual([[1, '{"a":1}', '{"isp":"x"}'], [2, '{"a":2}', null], [3, '{"a":3}', null]]);
  });
});

describe('replay: quarantine and the replay marker', () => {
  /** A log of `n` records in `dir` (bodies name their seq). */
  async function logOf(dir: string, n: number): Promise<{ d: Db; l: SegmentLog; q: Quarantine }> {
    const d = db(dir);
    const l = log(dir, d);
    for (let i = 1; i <= n; i++) void l.append(entry(i % 3, `row ${i}`), () => 0);
    l.flush();
    return { d, l, q: new Quarantine(d) };
  }
  /** The marker as another connection sees it (committed), while replay runs. */
  const markerOf = (reader: Db) => reader.prepare('SELECT after_seq AS afterSeq, rows FROM replay_marker').get() as { afterSeq: number; rows: number } | undefined;
  const quarantined = (d: Db) => d.prepare('SELECT seq, tenant, body, reason FROM journal_quarantine ORDER BY seq').all();

  it('quarantines a record whose apply throws with its reason, applies the rest, clears the marker, and skips it next time', async () => {
    const dir = tmp();
    const { d, l, q } = await logOf(dir, 5);
    const applied: number[] = [];
    const out = replayLog(l, q, (r) => {
      if (r.seq === 3) throw new TypeError('bad row');
      applied.push(r.seq);
    }, 1234);
    expect(applied).toEqual([1, 2, 4, 5]);
    expect(out).toEqual([{ seq: 3, tenant: 't', cause: 'error', reason: 'TypeError: bad row' }]);
    expect(quarantined(d)).toEqual([{ seq: 3, tenant: 't', body: 'row 3', reason: 'TypeError: bad row' }]);
    expect(q.count()).toBe(1);
    expect(markerOf(d)).toBeUndefined();
    // The record stays in its segment; the next start does not meet it.
    const again: number[] = [];
    expect(replayLog(l, q, (r) => void again.push(r.seq), 1235)).toEqual([]);
    expect(again).toEqual([1, 2, 4, 5]);
  });

  it('marks each chunk of records once before replaying it (a healthy log costs one write per chunk)', async () => {
    const dir = tmp();
    const { l, q } = await logOf(dir, 2 * REPLAY_CHUNK + 5);
    const reader = db(dir);
    const seen = new Map<number, { afterSeq: number; rows: number } | undefined>();
    replayLog(l, q, (r) => void seen.set(r.seq, markerOf(reader)), 0);
    expect(seen.size).toBe(2 * REPLAY_CHUNK + 5);
    expect(seen.get(1)).toEqual({ afterSeq: 0, rows: REPLAY_CHUNK });
    expect(seen.get(REPLAY_CHUNK)).toEqual({ afterSeq: 0, rows: REPLAY_CHUNK });
    expect(seen.get(REPLAY_CHUNK + 1)).toEqual({ afterSeq: REPLAY_CHUNK, rows: REPLAY_CHUNK });
    expect(seen.get(2 * REPLAY_CHUNK + 5)).toEqual({ afterSeq: 2 * REPLAY_CHUNK, rows: REPLAY_CHUNK });
    expect(markerOf(reader)).toBeUndefined();
  });

  it('after a death in a chunk, replays that chunk one record per marker', async () => {
    const dir = tmp();
    const { d, l, q } = await logOf(dir, REPLAY_CHUNK + 20);
    const reader = db(dir);
    // The previous start died somewhere in the REPLAY_CHUNK records after seq 10, as the marker it left says.
    d.prepare('INSERT INTO replay_marker (id, after_seq, rows) VALUES (1, 10, ?)').run(REPLAY_CHUNK);
    const seen = new Map<number, { afterSeq: number; rows: number } | undefined>();
    expect(replayLog(l, q, (r) => void seen.set(r.seq, markerOf(reader)), 0)).toEqual([]);
    expect(seen.size).toBe(REPLAY_CHUNK + 20);
    expect(seen.get(3)).toEqual({ afterSeq: 0, rows: REPLAY_CHUNK });
    expect(seen.get(11)).toEqual({ afterSeq: 10, rows: 1 });
    expect(seen.get(15)).toEqual({ afterSeq: 14, rows: 1 });
    expect(seen.get(REPLAY_CHUNK + 10)).toEqual({ afterSeq: REPLAY_CHUNK + 9, rows: 1 });
    expect(seen.get(REPLAY_CHUNK + 11)).toEqual({ afterSeq: REPLAY_CHUNK + 10, rows: REPLAY_CHUNK });
    expect(markerOf(reader)).toBeUndefined();
  });

  it('after a death on a single record, quarantines it without replaying it, and only it', async () => {
    const dir = tmp();
    const { d, l, q } = await logOf(dir, 30);
    d.prepare('INSERT INTO replay_marker (id, after_seq, rows) VALUES (1, 14, 1)').run();
    const applied: number[] = [];
    const out = replayLog(l, q, (r) => void applied.push(r.seq), 99);
    expect(out).toEqual([{ seq: 15, tenant: 't', cause: 'crash', reason: expect.stringContaining('died') }]);
    expect(applied).toEqual(Array.from({ length: 30 }, (_, i) => i + 1).filter((seq) => seq !== 15));
    expect(quarantined(d)).toEqual([{ seq: 15, tenant: 't', body: 'row 15', reason: expect.stringContaining('died') }]);
    expect(replayLog(l, q, () => {}, 100)).toEqual([]);
    expect(q.count()).toBe(1);
  });

  it('a requeued record is replayed once under its new seq, never under its old one, also across restarts', async () => {
    const dir = tmp();
    const { d, l, q } = await logOf(dir, 3);
    replayLog(l, q, (r) => {
      if (r.seq === 2) throw new Error('x');
    }, 0);
    expect(requeue(q, l, 2)).toBe(4);
    expect(requeue(q, l, 2)).toBeUndefined(); // requeued already
    expect(q.list()).toEqual([]);
    l.close();
    const reopened = log(dir, d);
    const bodies: [number, string][] = [];
    replayLog(reopened, new Quarantine(d), (r) => void bodies.push([r.seq, r.body.toString()]), 0);
    expect(bodies).toEqual([[1, 'row 1'], [3, 'row 3'], [4, 'row 2']]);
    // Once no segment holds seq 2 any more, its quarantine row goes.
    reopened.trim({ journalSeq: 4, closedBefore: 3 });
    reopened.close();
    log(dir, d);
    expect(d.prepare('SELECT seq FROM journal_quarantine').pluck().all()).toEqual([]);
  });
});

describe('damage at the end of a segment that is not the last appended', () => {
  it('a truncated older segment loses only its torn record', async () => {
    const dir = tmp();
    let l = log(dir);
    await l.append(entry(1, '{"x":1}'), () => 0);
    await l.append(entry(1, '{"x":2}'), () => 0);
    await l.append(entry(2, '{"x":3}'), () => 0);
    l.close();
    const path = segmentPath(dir, 1);
    truncateSync(path, statSync(path).size - 2);
    l = log(dir);
    expect(seqs(l)).toEqual([1, 3]);
    expect(l.lastSeq).toBe(3);
  });
});

describe('one writer', () => {
  it('the log a live process claimed is refused to others; a dead claim or none is not', () => {
    const dir = join(tmp(), 'ingest-log');
    mkdirSync(dir);
    expect(() => assertLogFree(dir)).not.toThrow(); // no claim
    const release = claimLog(dir);
    expect(() => assertLogFree(dir)).not.toThrow(); // our own
    writeFileSync(join(dir, 'owner.pid'), `${process.ppid}\n`); // the test runner's parent: alive
    expect(() => assertLogFree(dir)).toThrow(new RegExp(`open by process ${process.ppid}`));
    writeFileSync(join(dir, 'owner.pid'), '2147483646\n'); // no such process (a claim left by kill -9)
    expect(() => assertLogFree(dir)).not.toThrow();
    release();
    expect(readdirSync(dir)).toEqual([]);
  });
});

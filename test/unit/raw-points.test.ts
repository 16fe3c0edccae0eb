import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { rawSampleLine } from '../../src/storage/influx/raw-points.js';
import { openIngestDb } from '../../src/storage/ingest-db.js';
import { RawLateIds } from '../../src/storage/raw-late-ids.js';
import type { Db } from '../../src/storage/sqlite.js';
import { parseLine } from '../helpers/pipeline.js';
import { tempDir } from '../helpers/tmp.js';

const TS = 1_800_000_000_123;
const series = [{ id: 1, tenant: 't', region: 'eu' }, { id: 2, tenant: 't', region: 'eu', dim: 'isp', value: 'x' }];
const sample = { ts: TS, region: 'eu', session: 's', latency_ms: 40 };

describe('rawSampleLine: the point identity', () => {
  it('puts the number in the nanoseconds of the ts, from 10^6 on also in the tag part; late samples are tagged late', () => {
    const at = (ordinal: number, late = false) => parseLine(rawSampleLine('t', series, sample, ordinal, late));
    expect(at(0)).toMatchObject({ tags: { tenant: 't', region: 'eu', isp: 'x' }, time: BigInt(TS) * 1_000_000n });
    expect(at(999_999).time).toBe(BigInt(TS) * 1_000_000n + 999_999n);
    expect(at(999_999).tags.part).toBeUndefined();
    expect(at(1_000_000)).toMatchObject({ tags: { part: '1' }, time: BigInt(TS) * 1_000_000n });
    expect(at(3_000_007)).toMatchObject({ tags: { part: '3' }, time: BigInt(TS) * 1_000_000n + 7n });
    expect(at(5, true).tags.late).toBe('true');
    const identities = [0, 999_999, 1_000_000, 1_999_999, 2_000_000, 2 ** 40].flatMap((n) => [at(n).identity, at(n, true).identity]);
    expect(new Set(identities).size).toBe(identities.length);
  });
});

describe('RawLateIds', () => {
  let dbs: Db[] = [];
  afterEach(() => {
    for (const db of dbs) if (db.open) db.close();
    dbs = [];
  });
  const open = (dir: string) => {
    const db = openIngestDb(join(dir, 'ingest.db'));
    dbs.push(db);
    return db;
  };
  /** `save` inside a transaction, as the spool commit runs it, then `committed`. */
  const commit = (db: Db, ids: RawLateIds, floor: number) => {
    db.transaction(() => ids.save(floor))();
    ids.committed(floor);
  };

  it('numbers per (tenant, region, window) and, once committed, never hands a number out again after a restart', () => {
    const dir = tempDir('qoswatch-rawids');
    let db = open(dir);
    let ids = new RawLateIds(db);
    expect([ids.next('t', 'eu', 7), ids.next('t', 'eu', 7), ids.next('t', 'us', 7), ids.next('u', 'eu', 7), ids.next('t', 'eu', 8)]).toEqual([0, 1, 0, 0, 0]);
    commit(db, ids, 0);
    expect(ids.next('t', 'eu', 7)).toBe(2); // read back after the cache was dropped
    db.close();
    // A crash before the next commit: 2 was never in a committed point, so handing it out again is fine.
    db = open(dir);
    ids = new RawLateIds(db);
    expect(ids.next('t', 'eu', 7)).toBe(2);
    expect(ids.next('t', 'eu', 8)).toBe(1);
  });

  it('prunes windows below the floor; a pruned window taking samples again (age limit raised) starts past every earlier number', () => {
    const dir = tempDir('qoswatch-rawids');
    let db = open(dir);
    let ids = new RawLateIds(db);
    for (let i = 0; i < 3; i++) ids.next('t', 'eu', 5);
    ids.next('t', 'eu', 20);
    commit(db, ids, 10);
    expect(db.prepare('SELECT window FROM raw_late_ids').all()).toEqual([{ window: 20 }]);
    db.close();
    const epochs: number[] = [];
    for (let start = 0; start < 2; start++) {
      db = open(dir);
      ids = new RawLateIds(db);
      const first = ids.next('t', 'eu', 5);
      expect(ids.next('t', 'eu', 5)).toBe(first + 1);
      expect(ids.next('t', 'eu', 6)).toBe(first); // another window of the same epoch
      expect(ids.next('t', 'eu', 20)).toBe(1 + start); // a window above the floor just goes on
      epochs.push(first);
      commit(db, ids, 10);
      db.close();
      // the next start forgets window 5 again (as after a prune)
      const raw = open(dir);
      raw.prepare('DELETE FROM raw_late_ids WHERE window < 10').run();
      raw.close();
    }
    expect(epochs).toEqual([2 ** 40, 2 * 2 ** 40]);
  });
});

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FILE_MODE } from '../permissions.js';
import type { Db } from '../sqlite.js';
import { Quarantine } from './quarantine.js';
import { SegmentLog } from './segment-log.js';
import type { LogRecord, TextRecord } from './types.js';

/** The pid of the service that has the log open (README, Durability). */
const OWNER = 'owner.pid';

/** Marks the log as the running service's: `qoswatch journal requeue` refuses to write beside it. */
export function claimLog(dir: string): () => void {
  const path = join(dir, OWNER);
  writeFileSync(path, `${process.pid}\n`, { mode: FILE_MODE });
  return () => rmSync(path, { force: true });
}

/**
 * Throws when a live process other than this one holds the log: two writers would interleave their records
 * (the segments have no lock of their own). A file left by a killed service names a dead pid and is ignored.
 */
export function assertLogFree(dir: string): void {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dir, OWNER), 'utf8').trim());
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || !alive(pid)) return;
  throw new Error(`the journal in ${dir} is open by process ${pid} (the service): stop it first (or, if that process is not qoswatch, delete ${join(dir, OWNER)})`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Legacy rows imported per write at an upgrade. */
const IMPORT_CHUNK = 100;

/**
 * Opens the embedded mode's log in `dir` beside ingest.db. Seqs go on from the highest ever used: the segments',
 * the checkpoint's, the quarantine's and the old SQLite journal's. Rows an older version left in that journal
 * (table `journal`) move into the log under their own seqs — a crash midway only repeats the rest — and are
 * deleted there, so the first start after the upgrade replays them once.
 */
export function openLocalIngestLog(dir: string, db: Db, opts: { fsync?: boolean } = {}): SegmentLog {
  const quarantine = new Quarantine(db);
  const legacyMax = (db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'journal'").pluck().get() as number | undefined) ?? 0;
  const checkpoint = (db.prepare('SELECT journal_seq FROM checkpoint WHERE id = 1').pluck().get() as number | undefined) ?? 0;
  const log = new SegmentLog(dir, { fsync: opts.fsync, seqFloor: Math.max(legacyMax, checkpoint, quarantine.maxSeq()) });
  try {
    const rows = db.prepare('SELECT seq, tenant, received_at AS receivedAt, body, max_window AS maxWindow, dims FROM journal WHERE seq > ? ORDER BY seq');
    let chunk: LogRecord[] = [];
    for (const r of rows.iterate(log.highestStored) as IterableIterator<TextRecord>) {
      chunk.push({ ...r, body: Buffer.from(r.body) });
      if (chunk.length === IMPORT_CHUNK) {
        log.import(chunk);
        chunk = [];
      }
    }
    log.import(chunk);
    db.prepare('DELETE FROM journal').run();
    quarantine.forgetRequeued(log.lowestStored ?? log.lastSeq + 1);
  } catch (err) {
    log.close();
    throw err;
  }
  return log;
}

import { join } from 'node:path';
import { ConfigError, loadEnv } from '../config/env.js';
import { openIngestDb } from './ingest-db.js';
import { assertLogFree, openLocalIngestLog } from './ingest-log/local.js';
import { Quarantine } from './ingest-log/quarantine.js';
import type { IngestLog } from './ingest-log/types.js';

const USAGE = 'usage: qoswatch journal quarantined | qoswatch journal requeue <seq>|all\n';

/**
 * `qoswatch journal quarantined` lists the journal records a start moved aside because replaying them failed;
 * `qoswatch journal requeue <seq>|all` puts them back to be replayed at the next start (service stopped).
 */
export function journalCommand(sub: string | undefined, arg: string | undefined): number {
  if (!(sub === 'quarantined' && arg === undefined) && !(sub === 'requeue' && arg !== undefined && (arg === 'all' || /^\d+$/.test(arg)))) {
    process.stderr.write(USAGE);
    return 2;
  }
  let env: ReturnType<typeof loadEnv>;
  try {
    env = loadEnv();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return 2;
  }
  const dataDir = env.QOSWATCH_DATA_DIR;
  const db = openIngestDb(join(dataDir, 'ingest.db'), { fsync: env.QOSWATCH_FSYNC });
  try {
    const quarantine = new Quarantine(db);
    const rows = quarantine.list();
    if (sub === 'quarantined') {
      if (rows.length === 0) process.stdout.write('no quarantined journal rows\n');
      for (const r of rows) {
        process.stdout.write(
          `seq ${r.seq}\ttenant ${r.tenant}\treceived ${new Date(r.receivedAt).toISOString()}\tquarantined ${new Date(r.quarantinedAt).toISOString()}\t${r.bytes} bytes\t${r.reason}\n`,
        );
      }
      return 0;
    }
    const seqs = arg === 'all' ? rows.map((r) => r.seq) : [Number(arg)];
    const dir = join(dataDir, 'ingest-log');
    try {
      assertLogFree(dir);
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n`);
      return 1;
    }
    const log = openLocalIngestLog(dir, db, { fsync: env.QOSWATCH_FSYNC });
    try {
      for (const seq of seqs) {
        const to = requeue(quarantine, log, seq);
        if (to === undefined) {
          process.stderr.write(`no quarantined journal row with seq ${seq}\n`);
          return 1;
        }
        process.stdout.write(`requeued seq ${seq} as seq ${to}: the next start replays it\n`);
      }
    } finally {
      log.close();
    }
    return 0;
  } finally {
    db.close();
  }
}

/**
 * Appends a quarantined record to the log again under a new seq, so that the next start replays it (its samples
 * then go to windows long closed: they are stored as late points that add to them). Only with the service
 * stopped: a running one would trim the record once a checkpoint passes it, without replaying it. Appended
 * before it is marked requeued: a crash between the two leaves it listed (requeue it again), never lost.
 */
export function requeue(quarantine: Quarantine, log: IngestLog, seq: number): number | undefined {
  const r = quarantine.get(seq);
  if (!r) return undefined;
  let to = 0;
  void log.append({ tenant: r.tenant, receivedAt: r.receivedAt, body: r.body, maxWindow: r.maxWindow, dims: r.dims }, (s) => (to = s));
  log.flush();
  if (log.failure) throw new Error(`cannot write the journal: ${log.failure}`);
  quarantine.requeued(seq, to);
  return to;
}

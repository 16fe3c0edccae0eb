import { join } from 'node:path';
import { ConfigError, loadEnv } from '../config/env.js';
import { openIngestDb } from './ingest-db.js';
import { Journal } from './journal.js';

const USAGE = 'usage: qoswatch journal quarantined | qoswatch journal requeue <seq>|all\n';

/**
 * `qoswatch journal quarantined` lists the journal rows a start moved aside because replaying them failed;
 * `qoswatch journal requeue <seq>|all` puts them back to be replayed at the next start (service stopped).
 */
export function journalCommand(sub: string | undefined, arg: string | undefined): number {
  if (!(sub === 'quarantined' && arg === undefined) && !(sub === 'requeue' && arg !== undefined && (arg === 'all' || /^\d+$/.test(arg)))) {
    process.stderr.write(USAGE);
    return 2;
  }
  let dataDir: string;
  try {
    dataDir = loadEnv().QOSWATCH_DATA_DIR;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return 2;
  }
  const db = openIngestDb(join(dataDir, 'ingest.db'));
  try {
    const journal = new Journal(db);
    const rows = journal.quarantined();
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
    for (const seq of seqs) {
      const to = journal.requeue(seq);
      if (to === undefined) {
        process.stderr.write(`no quarantined journal row with seq ${seq}\n`);
        return 1;
      }
      process.stdout.write(`requeued seq ${seq} as seq ${to}: the next start replays it\n`);
    }
    return 0;
  } finally {
    db.close();
  }
}

import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Db } from './sqlite.js';

/**
 * Checkpoints a WAL-mode database from a worker thread. SQLite's automatic checkpoint runs inside the commit that
 * crosses the threshold, on the event loop: copying megabytes of spool there stalled ingest for tens of ms
 * (p99 47 ms → 4 ms at half load once moved here). A PASSIVE checkpoint from another connection never blocks the
 * writer. If the worker dies, the main connection falls back to automatic checkpoints.
 */
const WORKER = `
const { statSync } = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 1000');
db.pragma('synchronous = ' + workerData.synchronous);
const walSize = () => { try { return statSync(workerData.path + '-wal').size; } catch { return 0; } };
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
    // Under constant writes the WAL is never fully copied at the moment a write starts, so SQLite never rewinds
    // it: past the limit, RESTART makes the writer wait for the (small) remainder and rewinds the log.
    if (walSize() > workerData.restartBytes) db.pragma('wal_checkpoint(RESTART)');
  } catch (err) { parentPort.postMessage({ error: String(err && err.message || err) }); }
}, workerData.intervalMs);
parentPort.on('message', () => { clearInterval(timer); db.close(); parentPort.close(); });
parentPort.postMessage({ ready: true });
`;

export interface Checkpointer {
  /** Resolves once the worker has its connection open. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

/**
 * `restartBytes` must exceed the database's journal_size_limit: the WAL file keeps its size after SQLite rewinds
 * it (cut back to that limit), so only a file above the limit says the log has not been rewound.
 */
export function startCheckpointer(db: Db, opts: { intervalMs: number; restartBytes: number }, onError: (message: string) => void): Checkpointer {
  // The checkpointing connection syncs only if the writer does (QOSWATCH_FSYNC): a checkpoint's fsync of the
  // database file is what the writer would otherwise wait for during a RESTART.
  const synchronous = (db.pragma('synchronous', { simple: true }) as number) >= 2 ? 'FULL' : 'OFF';
  db.pragma('wal_autocheckpoint = 0');
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER, { eval: true, workerData: { driver, path: db.name, synchronous, ...opts } });
  worker.unref();
  let stopping = false;
  const fallBack = (why: string) => {
    onError(`WAL checkpoint worker stopped (${why}); checkpointing on the main thread`);
    if (db.open) db.pragma('wal_autocheckpoint = 4000');
  };
  let markReady: () => void = () => {};
  const ready = new Promise<void>((r) => (markReady = r));
  worker.on('message', (m: { error?: string; ready?: boolean }) => {
    if (m.ready) markReady();
    if (m.error) onError(`WAL checkpoint failed: ${m.error}`);
  });
  worker.on('error', (err) => fallBack(err.message));
  worker.on('exit', (code) => !stopping && fallBack(`exit ${code}`));
  return {
    ready,
    async stop() {
      stopping = true;
      const exited = new Promise((r) => worker.once('exit', r));
      // Unref'd while running; waiting for it must keep the loop alive, or a host with nothing else pending
      // (an in-process benchmark, a script around buildApp) exits in the middle of app.close().
      worker.ref();
      worker.postMessage('stop');
      await exited;
    },
  };
}

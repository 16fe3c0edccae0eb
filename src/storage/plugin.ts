import { join } from 'node:path';
import fp from 'fastify-plugin';
import { startCheckpointer } from './checkpointer.js';
import { claimLog, openLocalIngestLog } from './ingest-log/local.js';
import type { IngestLog } from './ingest-log/types.js';
import type { Db } from './sqlite.js';
import { openIngestDb } from './ingest-db.js';
import { secureDataDir } from './permissions.js';
import { PointsOutbox } from './points-outbox.js';
import { openStateDb } from './state-db.js';
import { SqliteStateStore } from './state/sqlite-store.js';
import type { StateStore } from './state/store.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The SQLite state db (the embedded mode; undefined in a cluster, whose state is in PostgreSQL). */
    stateDb: Db | undefined;
    /** The state db's repositories and transactions (state/store.ts). */
    state: StateStore;
    ingestDb: Db;
    ingestLog: IngestLog;
    /** Points bound for InfluxDB from any domain; the ingest pipeline spools them with each tick. */
    points: PointsOutbox;
  }
}

/**
 * Opens the SQLite files and the journal's segments in the data dir, closes them last, and holds the points outbox
 * (which keeps nothing when `influx` is false: no InfluxDB sink is configured).
 */
export const storagePlugin = fp<{ dataDir: string; fsync: boolean; influx: boolean; postgres?: { url: string; schema: string } }>(
  async (app, { dataDir, fsync, influx, postgres }) => {
    const statePath = join(dataDir, 'state.db');
    const ingestPath = join(dataDir, 'ingest.db');
    secureDataDir(dataDir, [statePath, ingestPath], (message) => app.log.warn(message));
    // The cluster mode's state is in PostgreSQL; its client is loaded only then.
    const shared = postgres && (await (await import('./state/pg/store.js')).PgStateStore.open(postgres));
    const stateDb = shared ? undefined : openStateDb(statePath);
    const ingestDb = openIngestDb(ingestPath, { fsync });
    const ingestLog = openLocalIngestLog(join(dataDir, 'ingest-log'), ingestDb, { fsync });
    const release = claimLog(ingestLog.dir);
    const { tornBytes, corruptRecords, corruptBytes } = ingestLog.opened;
    if (tornBytes) app.log.warn({ bytes: tornBytes }, 'cut a torn record off a journal segment (a crash mid-write; it was never acknowledged)');
    if (corruptRecords) app.log.error({ records: corruptRecords, bytes: corruptBytes }, 'skipped damaged journal records (length or CRC wrong): their samples are lost');
    const checkpointer = startCheckpointer(ingestDb, { intervalMs: 100, restartBytes: 256 * 1024 ** 2 }, (message) => app.log.warn(message));
    app.decorate('stateDb', stateDb);
    app.decorate<StateStore>('state', shared ?? new SqliteStateStore(stateDb!));
    app.decorate('ingestDb', ingestDb);
    app.decorate('ingestLog', ingestLog);
    app.decorate('points', new PointsOutbox(influx));
    app.addHook('onClose', async () => {
      await checkpointer.stop();
      ingestLog.close();
      release();
      ingestDb.pragma('wal_checkpoint(TRUNCATE)');
      ingestDb.close();
      stateDb?.close();
      await shared?.close();
    });
  },
  { name: 'qoswatch-storage' },
);

import { join } from 'node:path';
import fp from 'fastify-plugin';
import { startCheckpointer } from './checkpointer.js';
import type { Db } from './sqlite.js';
import { openIngestDb } from './ingest-db.js';
import { secureDataDir } from './permissions.js';
import { openStateDb } from './state-db.js';

declare module 'fastify' {
  interface FastifyInstance {
    stateDb: Db;
    ingestDb: Db;
  }
}

/** Opens the SQLite files in the data dir; closes them last. */
export const storagePlugin = fp<{ dataDir: string }>(
  async (app, { dataDir }) => {
    const statePath = join(dataDir, 'state.db');
    const ingestPath = join(dataDir, 'ingest.db');
    secureDataDir(dataDir, [statePath, ingestPath], (message) => app.log.warn(message));
    const stateDb = openStateDb(statePath);
    const ingestDb = openIngestDb(ingestPath);
    const checkpointer = startCheckpointer(ingestDb, { intervalMs: 100, restartBytes: 256 * 1024 ** 2 }, (message) => app.log.warn(message));
    app.decorate('stateDb', stateDb);
    app.decorate('ingestDb', ingestDb);
    app.addHook('onClose', async () => {
      await checkpointer.stop();
      ingestDb.pragma('wal_checkpoint(TRUNCATE)');
      ingestDb.close();
      stateDb.close();
    });
  },
  { name: 'qoswatch-storage' },
);

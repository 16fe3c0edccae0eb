import { join } from 'node:path';
import pg from 'pg';
import type { Db } from '../../src/storage/sqlite.js';
import { PG_TYPES, PgStateStore } from '../../src/storage/state/pg/store.js';
import { pgSql } from '../../src/storage/state/pg/sql.js';
import type { Sql } from '../../src/storage/state/sql.js';
import { sqliteSql } from '../../src/storage/state/sqlite-sql.js';
import type { StateStore } from '../../src/storage/state/store.js';
import { openStateDb } from '../../src/storage/state-db.js';
import { PG_URL, freshSchema } from './postgres.js';
import { stateOn } from './state.js';
import { tempDir } from './tmp.js';

/** A state store over a fresh, empty database, with plain SQL on the same database for a test's own rows. */
export interface OpenedBackend {
  store: StateStore;
  /** For rows a test writes or reads itself (`?` placeholders; outside any transaction of the store). */
  sql: Sql;
  close(): Promise<void>;
}

/** A database the state store runs on: every suite over BACKENDS runs on each of them. */
export interface Backend {
  name: 'SQLite' | 'PostgreSQL';
  open(): Promise<OpenedBackend>;
}

export const SQLITE: Backend = {
  name: 'SQLite',
  async open() {
    const db: Db = openStateDb(join(tempDir('state-store'), 'state.db'));
    return {
      store: stateOn(db),
      sql: sqliteSql(db),
      async close() {
        db.close();
      },
    };
  },
};

export const POSTGRES: Backend = {
  name: 'PostgreSQL',
  async open() {
    const { schema, drop } = freshSchema();
    const store = await PgStateStore.open({ url: PG_URL!, schema, max: 4 });
    const own = new pg.Pool({ connectionString: PG_URL, max: 1, options: `-c search_path=${schema}`, types: PG_TYPES });
    return {
      store,
      sql: pgSql(own),
      async close() {
        await own.end();
        await store.close();
        await drop();
      },
    };
  },
};

/** Every backend reachable here: PostgreSQL when the global setup reached it (CI requires it). */
export const BACKENDS: readonly Backend[] = PG_URL ? [SQLITE, POSTGRES] : [SQLITE];

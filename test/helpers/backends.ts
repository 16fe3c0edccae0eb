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

/** This test file's schema, migrated once: each open empties it (a migration per test costs ~0.5 s). */
let fileSchema: Promise<string> | undefined;

async function migratedSchema(): Promise<string> {
  const { schema } = freshSchema();
  await (await PgStateStore.open({ url: PG_URL!, schema, max: 1 })).close();
  return schema;
}

export const POSTGRES: Backend = {
  name: 'PostgreSQL',
  async open() {
    const schema = await (fileSchema ??= migratedSchema());
    const own = new pg.Pool({ connectionString: PG_URL, max: 1, options: `-c search_path=${schema}`, types: PG_TYPES });
    const tables = await own.query<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = $1 AND tablename <> 'qoswatch_schema'", [schema]);
    await own.query(`TRUNCATE ${tables.rows.map((t) => t.name).join(', ')} RESTART IDENTITY`);
    const store = await PgStateStore.open({ url: PG_URL!, schema, max: 4 });
    return {
      store,
      sql: pgSql(own),
      async close() {
        await own.end();
        await store.close();
      },
    };
  },
};

/** Every backend reachable here: PostgreSQL when the global setup reached it (CI requires it). */
export const BACKENDS: readonly Backend[] = PG_URL ? [SQLITE, POSTGRES] : [SQLITE];

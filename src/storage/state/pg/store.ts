import pg from 'pg';
import { Repos } from '../index.js';
import { type Channel, type StateStore, type TxOptions, begin } from '../store.js';
import { Notifications } from './listen.js';
import { PG_MIGRATIONS } from './schema.js';
import { type Queryable, pgSql } from './sql.js';

const { Pool, types } = pg;

/** BIGINT (epoch milliseconds, ids, counts) and NUMERIC (sums) as numbers: they stay below 2^53 here. */
export const PG_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === types.builtins.INT8 || oid === types.builtins.NUMERIC ? Number : types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

export interface PgOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  /** A schema of its own in the database (tests, or two installs sharing one database); default public. */
  schema?: string;
  /** Connections in the pool. */
  max?: number;
}

/** Takes effect on every connection, so the repositories' unqualified table names resolve in `schema`. */
const searchPath = (schema: string) => `-c search_path=${schema}`;

const CHANNELS: readonly Channel[] = ['timeline', 'config'];

/** Any key of ours, held while the schema is migrated: nodes starting together migrate one after the other. */
const MIGRATION_LOCK = 7_301_424_211;

/**
 * The state store on PostgreSQL (cluster mode): the same repositories as the SQLite store, outside calls on any
 * connection of the pool, a transaction on one connection of its own (a `tx` inside it is a savepoint).
 */
export class PgStateStore extends Repos implements StateStore {
  private readonly notifications: Notifications;

  private constructor(
    private readonly pool: pg.Pool,
    url: string,
    schema: string,
  ) {
    super(pgSql(pool));
    this.notifications = new Notifications(url, schema, CHANNELS);
  }

  /** Connects and brings the schema to this version (creating `schema` if needed). */
  static async open(o: PgOptions): Promise<PgStateStore> {
    const schema = o.schema ?? 'public';
    if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`schema ${schema}: lower-case letters, digits and _ only`);
    const pool = new Pool({ connectionString: o.url, max: o.max ?? 10, types: PG_TYPES, options: searchPath(schema) });
    // An idle connection that breaks (a server restart) is dropped by the pool; without a listener it would crash us.
    pool.on('error', () => {});
    try {
      await migrate(pool, schema);
    } catch (err) {
      await pool.end();
      throw err;
    }
    return new PgStateStore(pool, o.url, schema);
  }

  async tx<T>(fn: (t: StateStore) => Promise<T>, opts?: TxOptions): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    // A connection the server cuts between two statements of the transaction emits 'error' on the client, which the
    // pool listens for only while it is idle: unheard, it would crash the process. The next statement fails instead.
    const cut = (e: Error) => (broken = e);
    client.on('error', cut);
    try {
      // A connection the server cut while it sat in the pool fails here: it must not go back to the pool.
      await client.query('BEGIN').catch((e: Error) => {
        broken = e;
        throw e;
      });
      try {
        const t = transactionStore(client, this.listen);
        await begin(t, opts);
        const result = await fn(t);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        throw err;
      }
    } finally {
      // A connection that failed to roll back is closed rather than handed to the next caller mid-transaction.
      client.off('error', cut);
      client.release(broken);
    }
  }

  readonly listen = (channel: Channel, fn: (detail: string) => void): (() => void) => this.notifications.on(channel, fn);

  /** The schema version of the state tables. */
  async version(): Promise<number> {
    return (await this.pool.query<{ version: number }>('SELECT version FROM qoswatch_schema')).rows[0]!.version;
  }

  async close(): Promise<void> {
    await this.notifications.close();
    await this.pool.end();
  }
}

/** A store bound to one connection inside a transaction: its `tx` is a savepoint. */
function transactionStore(client: Queryable, listen: StateStore['listen']): StateStore {
  let depth = 0;
  const savepoint = async <T>(fn: (t: StateStore) => Promise<T>, opts?: TxOptions): Promise<T> => {
    const name = `sp${++depth}`;
    await client.query(`SAVEPOINT ${name}`);
    try {
      await begin(store, opts);
      const result = await fn(store);
      await client.query(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (err) {
      await client.query(`ROLLBACK TO SAVEPOINT ${name}`);
      throw err;
    } finally {
      depth--;
    }
  };
  const store: StateStore = Object.assign(new Repos(pgSql(client)), { tx: savepoint, listen });
  return store;
}

/** Applies the migrations this database lacks, under an advisory lock, each in a transaction with its version. */
async function migrate(pool: pg.Pool, schema: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await client.query('CREATE TABLE IF NOT EXISTS qoswatch_schema (version INTEGER NOT NULL)');
      await client.query('INSERT INTO qoswatch_schema (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM qoswatch_schema)');
      const { version } = (await client.query<{ version: number }>('SELECT version FROM qoswatch_schema')).rows[0]!;
      if (version > PG_MIGRATIONS.length) throw new Error(`the state database has schema version ${version}, newer than this qoswatch (${PG_MIGRATIONS.length}); upgrade qoswatch`);
      for (let v = version; v < PG_MIGRATIONS.length; v++) {
        await client.query('BEGIN');
        try {
          await client.query(PG_MIGRATIONS[v]!);
          await client.query('UPDATE qoswatch_schema SET version = $1', [v + 1]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw err;
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}

import type { Statement } from 'better-sqlite3';
import type { Db } from '../sqlite.js';
import type { Sql } from './sql.js';

/** How a statement is run: at once, or after what the connection is busy with. */
export type Turn = <T>(op: () => T) => Promise<T>;

/** Settles with what `op` returns or throws, now. */
export const now: Turn = (op) => {
  try {
    return Promise.resolve(op());
  } catch (err) {
    return Promise.reject(err as Error);
  }
};

/** Prepared statements by their text, shared by the connection's executors. */
export type StatementCache = Map<string, Statement>;

/**
 * The repositories' SQL on a better-sqlite3 connection: statements are prepared at first use (a state db is opened
 * at older schema versions too: upgrades) and kept; each runs synchronously, in the turn `turn` gives it.
 */
export function sqliteSql(db: Db, turn: Turn = now, cache: StatementCache = new Map()): Sql {
  const statement = (sql: string): Statement => {
    let s = cache.get(sql);
    if (!s) cache.set(sql, (s = db.prepare(sql)));
    return s;
  };
  return {
    dialect: 'sqlite',
    all: <R>(sql: string, ...params: unknown[]) => turn(() => statement(sql).all(...params) as R[]),
    get: <R>(sql: string, ...params: unknown[]) => turn(() => statement(sql).get(...params) as R | undefined),
    run: (sql: string, ...params: unknown[]) => turn(() => statement(sql).run(...params).changes),
  };
}

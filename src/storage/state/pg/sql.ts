import type { QueryResult, QueryResultRow } from 'pg';
import type { Sql } from '../sql.js';

/** A pool (each query on any free connection) or one connection (a transaction). */
export interface Queryable {
  query<R extends QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
}

const numbered = new Map<string, string>();

/** `?` placeholders as PostgreSQL's `$1, $2, …` (those inside quotes and identifiers stay). */
export function toNumbered(sql: string): string {
  let out = numbered.get(sql);
  if (out !== undefined) return out;
  out = '';
  let n = 0;
  let quote: string | undefined;
  for (const c of sql) {
    if (quote) {
      if (c === quote) quote = undefined;
      out += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      out += c;
    } else out += c === '?' ? `$${++n}` : c;
  }
  numbered.set(sql, out);
  return out;
}

/** The repositories' SQL on PostgreSQL (see ../sql.ts); the pool's type parsers make integers numbers. */
export function pgSql(q: Queryable): Sql {
  return {
    dialect: 'postgres',
    all: async <R>(sql: string, ...params: unknown[]) => (await q.query(toNumbered(sql), params)).rows as R[],
    get: async <R>(sql: string, ...params: unknown[]) => (await q.query(toNumbered(sql), params)).rows[0] as R | undefined,
    run: async (sql: string, ...params: unknown[]) => (await q.query(toNumbered(sql), params)).rowCount ?? 0,
  };
}

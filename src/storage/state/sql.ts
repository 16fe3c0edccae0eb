/**
 * One connection's SQL as the repositories write it, whatever the database: `?` placeholders, rows as objects,
 * integers as numbers, JSON and flags as the columns hold them (text, 0/1). The repositories are written once over
 * it; the SQLite and PostgreSQL stores each supply one (a connection, or a transaction on one).
 */
export interface Sql {
  /** For the few statements the two dialects spell differently. */
  readonly dialect: 'sqlite' | 'postgres';
  all<R>(sql: string, ...params: unknown[]): Promise<R[]>;
  get<R>(sql: string, ...params: unknown[]): Promise<R | undefined>;
  /** Runs a statement that returns no rows; how many rows it changed. */
  run(sql: string, ...params: unknown[]): Promise<number>;
}

/** `?, ?, ?` for a list of values. */
export const marks = (values: readonly unknown[]): string => values.map(() => '?').join(', ');

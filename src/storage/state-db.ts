import { type Db, openDb } from './sqlite.js';

/** Durable service state (keys, admitted dimension values; later incidents, tickets, outbox). */
const MIGRATIONS = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE ingest_keys (
     id TEXT PRIMARY KEY,
     tenant TEXT NOT NULL,
     name TEXT,
     sha256 TEXT NOT NULL UNIQUE,
     rate_limit TEXT,
     created_at INTEGER NOT NULL,
     revoked_at INTEGER
   );
   CREATE TABLE dim_values (
     tenant TEXT NOT NULL,
     dim TEXT NOT NULL,
     value TEXT NOT NULL,
     first_seen INTEGER NOT NULL,
     PRIMARY KEY (tenant, dim, value)
   ) WITHOUT ROWID;`,
];

export function openStateDb(path: string): Db {
  return openDb(path, MIGRATIONS);
}

export function getMeta(db: Db, key: string): string | undefined {
  return (db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
}

export function setMeta(db: Db, key: string, value: string): void {
  db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
}

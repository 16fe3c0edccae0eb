import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { DIR_MODE, FILE_MODE } from './permissions.js';

export type Db = Database.Database;

/**
 * Opens a SQLite file in WAL mode. `synchronous = NORMAL` keeps every committed transaction across a process
 * crash (kill -9); only a power loss can take the last moments, which `fsync: true` closes at a write cost.
 * `migrations[i]` brings the schema from version i to i + 1.
 */
export function openDb(path: string, migrations: readonly string[], opts: { fsync?: boolean; pragmas?: readonly string[]; pageSize?: number } = {}): Db {
  if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true, mode: DIR_MODE });
    // Created owner-only whatever the umask (an empty file is an empty database); SQLite gives its -wal and -shm
    // files the database file's mode.
    closeSync(openSync(path, 'a', FILE_MODE));
  }
  const db = new Database(path);
  // Only takes effect while the file is new (before WAL mode writes the header).
  if (opts.pageSize) db.pragma(`page_size = ${opts.pageSize}`);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${opts.fsync ? 'FULL' : 'NORMAL'}`);
  db.pragma('busy_timeout = 5000');
  for (const p of opts.pragmas ?? []) db.pragma(p);
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > migrations.length) {
    db.close();
    throw new Error(`${path} has schema version ${version}, newer than this qoswatch (${migrations.length}); upgrade qoswatch`);
  }
  for (let v = version; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return db;
}

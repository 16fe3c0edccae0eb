import type { Db } from '../sqlite.js';
import { getMeta, setMeta } from '../state-db.js';

/** The meta table: single values the service keeps (generated secrets' hashes, cursors, the link secret). */
export class MetaRepo {
  constructor(private readonly db: Db) {}

  get(key: string): string | undefined {
    return getMeta(this.db, key);
  }

  set(key: string, value: string): void {
    setMeta(this.db, key, value);
  }
}

import type { Statement } from 'better-sqlite3';
import type { Db } from '../sqlite.js';

/** A dimension value admitted under a tenant's cardinality cap, and when it was last seen. */
export interface DimValueRecord {
  readonly tenant: string;
  readonly dim: string;
  readonly value: string;
  readonly lastSeen: number;
}

/**
 * The dim_values table: the values the cardinality caps admitted, so they keep their series across restarts. Its
 * writes come from the ingest path, so their statements are prepared once.
 */
export class DimValueRepo {
  private readonly upsert: Statement;
  private readonly touch: Statement;
  private readonly remove: Statement;

  constructor(private readonly db: Db) {
    this.upsert = db.prepare(
      'INSERT INTO dim_values (tenant, dim, value, first_seen, last_seen) VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, dim, value) DO UPDATE SET last_seen = excluded.last_seen',
    );
    this.touch = db.prepare('UPDATE dim_values SET last_seen = ? WHERE tenant = ? AND dim = ? AND value = ?');
    this.remove = db.prepare('DELETE FROM dim_values WHERE tenant = ? AND dim = ? AND value = ?');
  }

  /** Every admitted value, read one row at a time. */
  all(): IterableIterator<DimValueRecord> {
    return this.db.prepare('SELECT tenant, dim, value, last_seen AS lastSeen FROM dim_values').iterate() as IterableIterator<DimValueRecord>;
  }

  admit(tenant: string, dim: string, value: string, now: number): void {
    this.upsert.run(tenant, dim, value, now, now);
  }

  seen(tenant: string, dim: string, value: string, lastSeen: number): void {
    this.touch.run(lastSeen, tenant, dim, value);
  }

  release(tenant: string, dim: string, value: string): void {
    this.remove.run(tenant, dim, value);
  }
}

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
 * writes come from the ingest path, so their statements are prepared once — at first use, not with the repositories:
 * a state db is opened at older schema versions too (upgrades, and their tests).
 */
export class DimValueRepo {
  private statements: { upsert: Statement; touch: Statement; remove: Statement } | undefined;

  constructor(private readonly db: Db) {}

  private get s() {
    return (this.statements ??= {
      upsert: this.db.prepare(
        'INSERT INTO dim_values (tenant, dim, value, first_seen, last_seen) VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, dim, value) DO UPDATE SET last_seen = excluded.last_seen',
      ),
      touch: this.db.prepare('UPDATE dim_values SET last_seen = ? WHERE tenant = ? AND dim = ? AND value = ?'),
      remove: this.db.prepare('DELETE FROM dim_values WHERE tenant = ? AND dim = ? AND value = ?'),
    });
  }

  /** Every admitted value (bounded by the caps). */
  all(): DimValueRecord[] {
    return this.db.prepare('SELECT tenant, dim, value, last_seen AS lastSeen FROM dim_values').all() as DimValueRecord[];
  }

  admit(tenant: string, dim: string, value: string, now: number): void {
    this.s.upsert.run(tenant, dim, value, now, now);
  }

  seen(tenant: string, dim: string, value: string, lastSeen: number): void {
    this.s.touch.run(lastSeen, tenant, dim, value);
  }

  release(tenant: string, dim: string, value: string): void {
    this.s.remove.run(tenant, dim, value);
  }
}

import type { Sql } from './sql.js';

/** A dimension value admitted under a tenant's cardinality cap, and when it was last seen. */
export interface DimValueRecord {
  readonly tenant: string;
  readonly dim: string;
  readonly value: string;
  readonly lastSeen: number;
}

/**
 * The dim_values table: the values the cardinality caps admitted, so they keep their series across restarts. Its
 * writes come from the ingest path (the executor keeps their statements prepared).
 */
export class DimValueRepo {
  constructor(private readonly sql: Sql) {}

  /** Every admitted value (bounded by the caps). */
  async all(): Promise<DimValueRecord[]> {
    return this.sql.all<DimValueRecord>('SELECT tenant, dim, value, last_seen AS "lastSeen" FROM dim_values');
  }

  async admit(tenant: string, dim: string, value: string, now: number): Promise<void> {
    await this.sql.run(
      'INSERT INTO dim_values (tenant, dim, value, first_seen, last_seen) VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, dim, value) DO UPDATE SET last_seen = excluded.last_seen',
      tenant, dim, value, now, now,
    );
  }

  async seen(tenant: string, dim: string, value: string, lastSeen: number): Promise<void> {
    await this.sql.run('UPDATE dim_values SET last_seen = ? WHERE tenant = ? AND dim = ? AND value = ?', lastSeen, tenant, dim, value);
  }

  async release(tenant: string, dim: string, value: string): Promise<void> {
    await this.sql.run('DELETE FROM dim_values WHERE tenant = ? AND dim = ? AND value = ?', tenant, dim, value);
  }
}

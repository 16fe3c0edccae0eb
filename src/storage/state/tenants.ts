import type { Sql } from './sql.js';

/** A tenant the API stored: its id and the body it was saved with. */
export interface TenantRecord {
  readonly id: string;
  readonly spec: unknown;
}

/** The tenants table: tenants created through the API, each its spec as it was posted (JSON). */
export class TenantRepo {
  constructor(private readonly sql: Sql) {}

  async all(): Promise<TenantRecord[]> {
    return (await this.sql.all<{ id: string; spec: string }>('SELECT id, spec FROM tenants')).map((r) => ({ id: r.id, spec: JSON.parse(r.spec) as unknown }));
  }

  /** Creates or replaces a tenant's spec; who did it and when are kept. */
  async save(id: string, spec: unknown, actor: string, now: number): Promise<void> {
    await this.sql.run(
      `INSERT INTO tenants (id, spec, created_by, created_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, updated_by = excluded.created_by, updated_at = excluded.created_at`,
      id, JSON.stringify(spec), actor, now,
    );
  }
}

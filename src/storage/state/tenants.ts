import type { Db } from '../sqlite.js';

/** The tenants table: tenants created through the API, each its spec as it was posted (JSON). */
/** A tenant the API stored: its id and the body it was saved with. */
export interface TenantRecord {
  readonly id: string;
  readonly spec: unknown;
}

export class TenantRepo {
  constructor(private readonly db: Db) {}

  all(): TenantRecord[] {
    return (this.db.prepare('SELECT id, spec FROM tenants').all() as { id: string; spec: string }[]).map((r) => ({ id: r.id, spec: JSON.parse(r.spec) as unknown }));
  }

  /** Creates or replaces a tenant's spec; who did it and when are kept. */
  save(id: string, spec: unknown, actor: string, now: number): void {
    this.db
      .prepare(`INSERT INTO tenants (id, spec, created_by, created_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, updated_by = excluded.created_by, updated_at = excluded.created_at`)
      .run(id, JSON.stringify(spec), actor, now);
  }
}

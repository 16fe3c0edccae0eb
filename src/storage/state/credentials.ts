import type { Db } from '../sqlite.js';

/** A credential created through the API: only its secret's SHA-256 is kept. */
export interface CredentialRecord {
  readonly id: string;
  readonly tenant: string;
  readonly name: string | undefined;
  readonly sha256: string;
  /** The credential's own rate limit, as given (JSON), if any. */
  readonly rateLimit: unknown;
  readonly createdAt: number;
}

/** The credentials of one kind created through the API (table ingest_keys or tenant_tokens); revoked ones keep their row. */
export class CredentialRepo {
  constructor(
    private readonly db: Db,
    private readonly table: 'ingest_keys' | 'tenant_tokens',
  ) {}

  active(): CredentialRecord[] {
    const rows = this.db.prepare(`SELECT id, tenant, name, sha256, rate_limit, created_at FROM ${this.table} WHERE revoked_at IS NULL`).all() as {
      id: string; tenant: string; name: string | null; sha256: string; rate_limit: string | null; created_at: number;
    }[];
    return rows.map((r) => ({ id: r.id, tenant: r.tenant, name: r.name ?? undefined, sha256: r.sha256, rateLimit: r.rate_limit ? (JSON.parse(r.rate_limit) as unknown) : undefined, createdAt: r.created_at }));
  }

  insert(c: CredentialRecord): void {
    this.db
      .prepare(`INSERT INTO ${this.table} (id, tenant, name, sha256, rate_limit, created_at) VALUES (?, ?, ?, ?, ?, ?)`)
      .run(c.id, c.tenant, c.name ?? null, c.sha256, c.rateLimit === undefined ? null : JSON.stringify(c.rateLimit), c.createdAt);
  }

  revoke(id: string, now: number): void {
    this.db.prepare(`UPDATE ${this.table} SET revoked_at = ? WHERE id = ?`).run(now, id);
  }
}

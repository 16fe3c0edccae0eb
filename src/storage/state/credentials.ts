import type { Sql } from './sql.js';

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
    private readonly sql: Sql,
    private readonly table: 'ingest_keys' | 'tenant_tokens',
  ) {}

  async active(): Promise<CredentialRecord[]> {
    const rows = await this.sql.all<{
      id: string; tenant: string; name: string | null; sha256: string; rate_limit: string | null; created_at: number;
    }>(`SELECT id, tenant, name, sha256, rate_limit, created_at FROM ${this.table} WHERE revoked_at IS NULL`);
    return rows.map((r) => ({ id: r.id, tenant: r.tenant, name: r.name ?? undefined, sha256: r.sha256, rateLimit: r.rate_limit ? (JSON.parse(r.rate_limit) as unknown) : undefined, createdAt: r.created_at }));
  }

  async insert(c: CredentialRecord): Promise<void> {
    await this.sql.run(
      `INSERT INTO ${this.table} (id, tenant, name, sha256, rate_limit, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
      c.id, c.tenant, c.name ?? null, c.sha256, c.rateLimit === undefined ? null : JSON.stringify(c.rateLimit), c.createdAt,
    );
  }

  async revoke(id: string, now: number): Promise<void> {
    await this.sql.run(`UPDATE ${this.table} SET revoked_at = ? WHERE id = ?`, now, id);
  }
}

import type { Sql } from './sql.js';

/** A link to a tenant's status page: only its secret's SHA-256 is kept. */
export interface ShareLinkRecord {
  readonly id: string;
  readonly tenant: string;
  readonly name: string | undefined;
  readonly sha256: string;
  /** Shows only the per-region summary (a public page), not incidents and updates. */
  readonly summaryOnly: boolean;
  readonly createdBy: string;
  readonly createdAt: number;
}

interface Row { id: string; tenant: string; name: string | null; sha256: string; summary_only: number; created_by: string; created_at: number }

const fromRow = (r: Row): ShareLinkRecord => ({ id: r.id, tenant: r.tenant, name: r.name ?? undefined, sha256: r.sha256, summaryOnly: r.summary_only === 1, createdBy: r.created_by, createdAt: r.created_at });

/** The share_links table; a revoked link keeps its row. */
export class ShareLinkRepo {
  constructor(private readonly sql: Sql) {}

  async insert(l: ShareLinkRecord): Promise<void> {
    await this.sql.run(
      'INSERT INTO share_links (id, tenant, name, sha256, summary_only, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      l.id, l.tenant, l.name ?? null, l.sha256, l.summaryOnly ? 1 : 0, l.createdBy, l.createdAt,
    );
  }

  async bySecret(sha256: string): Promise<ShareLinkRecord | undefined> {
    const r = await this.sql.get<Row>('SELECT * FROM share_links WHERE sha256 = ? AND revoked_at IS NULL', sha256);
    return r && fromRow(r);
  }

  async list(tenant: string): Promise<ShareLinkRecord[]> {
    return (await this.sql.all<Row>('SELECT * FROM share_links WHERE tenant = ? AND revoked_at IS NULL ORDER BY created_at', tenant)).map(fromRow);
  }

  /** False when the tenant has no live link `id`. */
  async revoke(tenant: string, id: string, now: number): Promise<boolean> {
    return (await this.sql.run('UPDATE share_links SET revoked_at = ? WHERE id = ? AND tenant = ? AND revoked_at IS NULL', now, id, tenant)) > 0;
  }
}

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../config/env.js';
import type { FileConfig } from '../config/file.js';
import type { Db } from '../storage/sqlite.js';
import { getMeta, setMeta } from '../storage/state-db.js';
import type { Rate } from '../util/units.js';

export interface IngestKey {
  id: string;
  tenant: string;
  name?: string;
  rateLimit?: Rate;
  /** Where it is defined: the config file and the environment cannot be changed through the API. */
  source: 'config' | 'env' | 'generated' | 'api';
  createdAt?: number;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Compares a presented secret with a known one in constant time (through their hashes, so lengths may differ). */
export function secretEquals(presented: string, known: string): boolean {
  return timingSafeEqual(createHash('sha256').update(presented).digest(), createHash('sha256').update(known).digest());
}

export function newSecret(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString('base64url')}`;
}

const DEFAULT_KEY_ID = 'default';
const META_INGEST = 'default_ingest_key_sha256';
const META_ADMIN = 'admin_token_sha256';

/** Secrets generated at first start, to be printed once (only their hashes are stored). */
export interface Generated {
  ingestKey?: string;
  adminToken?: string;
}

export class KeyError extends Error {
  constructor(
    readonly kind: 'not_found' | 'conflict',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Ingest keys and the admin token. Only SHA-256 hashes are kept (keys are random 192-bit secrets, so a fast hash
 * is enough); a presented key is hashed and looked up. Keys come from the config file, the environment, the
 * one generated at first start, and the admin API.
 */
export class KeyStore {
  private readonly byHash = new Map<string, IngestKey>();
  private adminHash: Buffer;
  readonly generated: Generated = {};

  constructor(
    private readonly db: Db,
    config: FileConfig,
    env: { QOSWATCH_INGEST_KEY?: string; QOSWATCH_ADMIN_TOKEN?: string },
    sourceEnv: NodeJS.ProcessEnv = process.env,
  ) {
    const defaultTenant = config.default_tenant;
    for (const t of config.tenants) {
      for (const k of t.ingest_keys) {
        if (k.revoked) continue;
        const hash = k.sha256 ?? keyFromEnv(sourceEnv, k.key_env!, `tenants.${t.id}.ingest_keys.${k.id}`);
        this.add(hash, { id: k.id, tenant: t.id, rateLimit: k.rate_limit, source: 'config' });
      }
    }
    if (env.QOSWATCH_INGEST_KEY) {
      this.add(sha256(env.QOSWATCH_INGEST_KEY), { id: DEFAULT_KEY_ID, tenant: defaultTenant, source: 'env' });
    } else {
      let hash = getMeta(db, META_INGEST);
      if (!hash) {
        this.generated.ingestKey = newSecret('qw');
        hash = sha256(this.generated.ingestKey);
        setMeta(db, META_INGEST, hash);
      }
      this.add(hash, { id: DEFAULT_KEY_ID, tenant: defaultTenant, source: 'generated' });
    }
    const rows = db.prepare('SELECT id, tenant, name, sha256, rate_limit, created_at FROM ingest_keys WHERE revoked_at IS NULL').all() as {
      id: string; tenant: string; name: string | null; sha256: string; rate_limit: string | null; created_at: number;
    }[];
    for (const r of rows) {
      this.add(r.sha256, { id: r.id, tenant: r.tenant, name: r.name ?? undefined, rateLimit: r.rate_limit ? (JSON.parse(r.rate_limit) as Rate) : undefined, source: 'api', createdAt: r.created_at });
    }

    let admin = env.QOSWATCH_ADMIN_TOKEN ? sha256(env.QOSWATCH_ADMIN_TOKEN) : getMeta(db, META_ADMIN);
    if (!admin) {
      this.generated.adminToken = newSecret('qwa');
      admin = sha256(this.generated.adminToken);
      setMeta(db, META_ADMIN, admin);
    }
    this.adminHash = Buffer.from(admin, 'hex');
  }

  /** The key a client presented, or undefined when it is unknown or revoked. */
  resolve(presented: string): IngestKey | undefined {
    return this.byHash.get(sha256(presented));
  }

  isAdmin(presented: string): boolean {
    return timingSafeEqual(Buffer.from(sha256(presented), 'hex'), this.adminHash);
  }

  list(tenant: string): IngestKey[] {
    return [...this.byHash.values()].filter((k) => k.tenant === tenant).sort((a, b) => a.id.localeCompare(b.id));
  }

  create(tenant: string, opts: { name?: string; rateLimit?: Rate }, now: number): { key: IngestKey; secret: string } {
    const secret = newSecret('qw');
    const key: IngestKey = { id: `k_${randomBytes(6).toString('hex')}`, tenant, name: opts.name, rateLimit: opts.rateLimit, source: 'api', createdAt: now };
    const hash = sha256(secret);
    this.db
      .prepare('INSERT INTO ingest_keys (id, tenant, name, sha256, rate_limit, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(key.id, tenant, opts.name ?? null, hash, opts.rateLimit ? JSON.stringify(opts.rateLimit) : null, now);
    this.add(hash, key);
    return { key, secret };
  }

  revoke(tenant: string, id: string, now: number): void {
    const entry = [...this.byHash.entries()].find(([, k]) => k.tenant === tenant && k.id === id);
    if (!entry) throw new KeyError('not_found', `tenant ${tenant} has no active key ${id}`);
    const [hash, key] = entry;
    if (key.source !== 'api') {
      const where = key.source === 'config' ? 'the config file (set revoked: true)' : key.source === 'env' ? 'QOSWATCH_INGEST_KEY' : 'the environment (set QOSWATCH_INGEST_KEY to replace it)';
      throw new KeyError('conflict', `key ${id} is defined by ${where}, not by the API`);
    }
    this.db.prepare('UPDATE ingest_keys SET revoked_at = ? WHERE id = ?').run(now, id);
    this.byHash.delete(hash);
  }

  private add(hash: string, key: IngestKey): void {
    const clash = [...this.byHash.values()].find((k) => k.tenant === key.tenant && k.id === key.id);
    if (clash) throw new Error(`ingest key id "${key.id}" is defined twice for tenant ${key.tenant}`);
    this.byHash.set(hash, key);
  }
}

function keyFromEnv(env: NodeJS.ProcessEnv, name: string, where: string): string {
  const v = env[name];
  if (!v) throw new ConfigError(`${where}: key_env ${name} is not set`);
  return sha256(v);
}

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../config/env.js';
import type { CredentialConfig, FileConfig } from '../config/file.js';
import type { CredentialRecord } from '../storage/state/credentials.js';
import type { CredentialTable, StateStore } from '../storage/state/store.js';
import type { Rate } from '../util/units.js';

/** A tenant's credential: an ingest key (public: it only ingests) or a tenant API token (it only reads). */
export interface Credential {
  id: string;
  tenant: string;
  name?: string;
  rateLimit?: Rate;
  /** Default region of the CMCD reports sent with this ingest key (config file only). */
  region?: string;
  /** Where it is defined: the config file and the environment cannot be changed through the API. */
  source: 'config' | 'env' | 'generated' | 'api';
  createdAt?: number;
}
export type IngestKey = Credential;
export type TenantToken = Credential;

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

/** What tells the two kinds of credential apart: their table, their words, their id and secret prefixes. */
interface Kind {
  table: CredentialTable;
  noun: string;
  idPrefix: string;
  secretPrefix: string;
}
export const INGEST_KEYS: Kind = { table: 'ingest_keys', noun: 'key', idPrefix: 'k', secretPrefix: 'qw' };
export const TENANT_TOKENS: Kind = { table: 'tenant_tokens', noun: 'token', idPrefix: 't', secretPrefix: 'qwt' };

/**
 * One kind of credential. Only SHA-256 hashes are kept (secrets are random 192-bit strings, so a fast hash is
 * enough); a presented secret is hashed and looked up. They come from the config file and the admin API (and, for
 * ingest keys, the environment and the one generated at first start).
 */
export class Credentials {
  private readonly byHash = new Map<string, Credential>();
  private readonly revokeListeners: ((c: Credential) => void)[] = [];

  constructor(
    private readonly rows: ReturnType<StateStore['credentials']>,
    private readonly kind: Kind,
  ) {}

  /** The config file's credentials of every tenant, then those created through the API (`stored`). */
  load(config: FileConfig, field: 'ingest_keys' | 'api_tokens', env: NodeJS.ProcessEnv, stored: readonly CredentialRecord[]): void {
    for (const t of config.tenants) {
      for (const c of t[field] as CredentialConfig[]) {
        if (c.revoked) continue;
        const hash = c.sha256 ?? fromEnv(env, c.key_env!, `tenants.${t.id}.${field}.${c.id}`);
        this.add(hash, { id: c.id, tenant: t.id, rateLimit: c.rate_limit, region: c.region, source: 'config' });
      }
    }
    this.holdStored(stored);
  }

  /**
   * Reads those created through the API again (another node of a cluster created or revoked one): new ones are
   * taken in; revoked ones go, and listeners hear of it as of a revocation here.
   */
  async reload(): Promise<void> {
    const stored = await this.rows.active();
    const live = new Set(stored.map((r) => r.sha256));
    for (const [hash, c] of [...this.byHash]) {
      if (c.source !== 'api' || live.has(hash)) continue;
      this.byHash.delete(hash);
      for (const listener of this.revokeListeners) listener(c);
    }
    this.holdStored(stored.filter((r) => !this.byHash.has(r.sha256)));
  }

  private holdStored(stored: readonly CredentialRecord[]): void {
    for (const r of stored) {
      this.add(r.sha256, { id: r.id, tenant: r.tenant, name: r.name, rateLimit: r.rateLimit as Rate | undefined, source: 'api', createdAt: r.createdAt });
    }
  }

  /** The credential a client presented, or undefined when it is unknown or revoked. */
  resolve(presented: string): Credential | undefined {
    return this.byHash.get(sha256(presented));
  }

  list(tenant: string): Credential[] {
    return [...this.byHash.values()].filter((k) => k.tenant === tenant).sort((a, b) => a.id.localeCompare(b.id));
  }

  async create(tenant: string, opts: { name?: string; rateLimit?: Rate }, now: number): Promise<{ credential: Credential; secret: string }> {
    const secret = newSecret(this.kind.secretPrefix);
    const credential: Credential = { id: `${this.kind.idPrefix}_${randomBytes(6).toString('hex')}`, tenant, name: opts.name, rateLimit: opts.rateLimit, source: 'api', createdAt: now };
    const hash = sha256(secret);
    await this.rows.insert({ id: credential.id, tenant, name: opts.name, sha256: hash, rateLimit: opts.rateLimit, createdAt: now });
    this.add(hash, credential);
    return { credential, secret };
  }

  /** Revokes a credential created through the API; listeners hear of it at once (open WebSockets close). */
  async revoke(tenant: string, id: string, now: number): Promise<void> {
    const { noun } = this.kind;
    const entry = [...this.byHash.entries()].find(([, k]) => k.tenant === tenant && k.id === id);
    if (!entry) throw new KeyError('not_found', `tenant ${tenant} has no active ${noun} ${id}`);
    const [hash, credential] = entry;
    if (credential.source !== 'api') {
      const where = credential.source === 'config' ? 'the config file (set revoked: true)' : credential.source === 'env' ? 'QOSWATCH_INGEST_KEY' : 'the environment (set QOSWATCH_INGEST_KEY to replace it)';
      throw new KeyError('conflict', `${noun} ${id} is defined by ${where}, not by the API`);
    }
    await this.rows.revoke(id, now);
    this.byHash.delete(hash);
    for (const listener of this.revokeListeners) listener(credential);
  }

  onRevoke(listener: (c: Credential) => void): void {
    this.revokeListeners.push(listener);
  }

  add(hash: string, credential: Credential): void {
    const clash = [...this.byHash.values()].find((k) => k.tenant === credential.tenant && k.id === credential.id);
    if (clash) throw new Error(`${this.kind.noun} id "${credential.id}" is defined twice for tenant ${credential.tenant}`);
    this.byHash.set(hash, credential);
  }
}

/** Ingest keys, tenant API tokens and the admin token. */
export class KeyStore {
  readonly ingest: Credentials;
  readonly tokens: Credentials;

  /** Loads the stored credentials and, at first start, generates and stores the default ingest key and admin token. */
  static async open(
    state: Pick<StateStore, 'credentials' | 'meta'>,
    config: FileConfig,
    env: { QOSWATCH_INGEST_KEY?: string; QOSWATCH_ADMIN_TOKEN?: string },
    sourceEnv: NodeJS.ProcessEnv = process.env,
  ): Promise<KeyStore> {
    const generated: Generated = {};
    let ingestHash = env.QOSWATCH_INGEST_KEY ? undefined : await state.meta.get(META_INGEST);
    if (!env.QOSWATCH_INGEST_KEY && !ingestHash) {
      generated.ingestKey = newSecret(INGEST_KEYS.secretPrefix);
      ingestHash = sha256(generated.ingestKey);
      await state.meta.set(META_INGEST, ingestHash);
    }
    let admin = env.QOSWATCH_ADMIN_TOKEN ? sha256(env.QOSWATCH_ADMIN_TOKEN) : await state.meta.get(META_ADMIN);
    if (!admin) {
      generated.adminToken = newSecret('qwa');
      admin = sha256(generated.adminToken);
      await state.meta.set(META_ADMIN, admin);
    }
    const keys = new KeyStore(state, Buffer.from(admin, 'hex'), generated);
    const defaultTenant = config.default_tenant;
    if (env.QOSWATCH_INGEST_KEY) keys.ingest.add(sha256(env.QOSWATCH_INGEST_KEY), { id: DEFAULT_KEY_ID, tenant: defaultTenant, source: 'env' });
    else keys.ingest.add(ingestHash!, { id: DEFAULT_KEY_ID, tenant: defaultTenant, source: 'generated' });
    keys.ingest.load(config, 'ingest_keys', sourceEnv, await state.credentials(INGEST_KEYS.table).active());
    keys.tokens.load(config, 'api_tokens', sourceEnv, await state.credentials(TENANT_TOKENS.table).active());
    return keys;
  }

  private constructor(
    state: Pick<StateStore, 'credentials'>,
    private readonly adminHash: Buffer,
    readonly generated: Generated,
  ) {
    this.ingest = new Credentials(state.credentials(INGEST_KEYS.table), INGEST_KEYS);
    this.tokens = new Credentials(state.credentials(TENANT_TOKENS.table), TENANT_TOKENS);
  }

  /** Reads the API's keys and tokens again (another node of a cluster changed them). */
  async reload(): Promise<void> {
    await this.ingest.reload();
    await this.tokens.reload();
  }

  isAdmin(presented: string): boolean {
    return timingSafeEqual(Buffer.from(sha256(presented), 'hex'), this.adminHash);
  }
}

function fromEnv(env: NodeJS.ProcessEnv, name: string, where: string): string {
  const v = env[name];
  if (!v) throw new ConfigError(`${where}: key_env ${name} is not set`);
  return sha256(v);
}

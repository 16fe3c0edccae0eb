import { hostname } from 'node:os';
import { z } from 'zod';
import { GROUP_FIELDS, type GroupField } from '../shared/labels.js';
import { type ProxyNet, parseProxyNet } from '../geoip/client-address.js';
import { durationSchema, rateSchema, sizeSchema } from '../util/units.js';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
  .transform((v) => ['true', '1', 'yes', 'on'].includes(v));
const secret = z.string().min(16, 'must be at least 16 characters');
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === '' ? undefined : v), schema.optional());
/** A number, or `auto` (the default): derived at start from the heap (see its use). */
const autoOr = <T extends z.ZodType>(schema: T) => z.union([z.literal('auto'), schema], { error: 'must be a positive integer or auto' }).default('auto');
/** "127.0.0.1:9464", "[::1]:9464" or ":9464" (every address). */
const listenAddress = z
  .string()
  .max(300)
  .transform((v, ctx) => {
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(v.trim());
    const port = m ? Number(m[3]) : NaN;
    if (!m || port > 65535) {
      ctx.addIssue({ code: 'custom', message: 'use host:port, e.g. 127.0.0.1:9464, [::1]:9464 or :9464' });
      return z.NEVER;
    }
    return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
  });

/** Comma-separated file paths (empty: none). */
const pathList = z
  .string()
  .max(4096)
  .default('')
  .transform((v) => v.split(',').map((p) => p.trim()).filter(Boolean));
/** Comma-separated addresses or CIDR networks (empty: none). */
const proxyList = z
  .string()
  .max(4096)
  .default('')
  .transform((v, ctx) => {
    const out: ProxyNet[] = [];
    for (const item of v.split(',').map((s) => s.trim()).filter(Boolean)) {
      const net = parseProxyNet(item);
      if (!net) {
        ctx.addIssue({ code: 'custom', message: `"${item.slice(0, 60)}" is not an IP address or CIDR network (e.g. 10.0.0.0/8, 192.0.2.7, 2001:db8::/32)` });
        return z.NEVER;
      }
      out.push(net);
    }
    return out;
  });

/**
 * Every environment variable the service reads. The README's configuration table documents the same list;
 * test/unit/env.test.ts keeps the two in step.
 */
/** What a cluster node does (README, Running a cluster); the embedded mode's one process does all of it. */
export const ROLES = ['collector', 'worker', 'leader'] as const;
export type Role = (typeof ROLES)[number];

export const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  QOSWATCH_DATA_DIR: z.string().min(1).default('./data'),
  QOSWATCH_FSYNC: bool.default(false),
  QOSWATCH_HEAP_GROWTH: z.coerce.number().int().min(0).max(300).default(50),
  QOSWATCH_CONFIG: optional(z.string()),
  QOSWATCH_INGEST_KEY: optional(secret),
  QOSWATCH_ADMIN_TOKEN: optional(secret),
  QOSWATCH_ADMIN_PASSWORD: optional(z.string().min(12, 'must be at least 12 characters').max(200)),
  QOSWATCH_SESSION_IDLE: durationSchema(60_000, 30 * 86_400_000).default(12 * 3_600_000),
  QOSWATCH_SESSION_MAX: durationSchema(60_000, 90 * 86_400_000).default(7 * 86_400_000),
  QOSWATCH_INSECURE_COOKIES: bool.default(false),
  QOSWATCH_OIDC_ISSUER: optional(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })),
  QOSWATCH_OIDC_CLIENT_ID: optional(z.string().min(1).max(500)),
  QOSWATCH_OIDC_CLIENT_SECRET: optional(z.string().min(1).max(2000)),
  QOSWATCH_OIDC_NAME: z.string().min(1).max(100).default('single sign-on'),
  QOSWATCH_METRICS_TOKEN: optional(secret),
  QOSWATCH_METRICS_LISTEN: optional(listenAddress),
  QOSWATCH_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  QOSWATCH_LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  QOSWATCH_LOG_TELEMETRY_REQUESTS: bool.default(false),

  QOSWATCH_WINDOW: durationSchema(1000, 300_000).default(10_000),
  QOSWATCH_WINDOW_GRACE: durationSchema(0, 600_000).default(15_000),
  QOSWATCH_EVAL_HORIZON: durationSchema(60_000, 3_600_000).default(300_000),
  QOSWATCH_MAX_SAMPLE_AGE: durationSchema(60_000, 30 * 86_400_000).default(86_400_000),
  QOSWATCH_DIM_CAP: z.coerce.number().int().min(1).max(100_000).default(100),
  QOSWATCH_REGION_CAP: z.coerce.number().int().min(1).max(100_000).default(500),
  QOSWATCH_DIM_TTL: durationSchema(60_000, 365 * 86_400_000).default(6 * 3_600_000),
  QOSWATCH_TENANT_MAX_SERIES: z.coerce.number().int().min(1).max(100_000_000).default(12_000),
  QOSWATCH_TENANT_MAX_POINTS: z.coerce.number().int().min(1).max(1_000_000_000).default(24_000),
  QOSWATCH_TENANT_MAX_SESSIONS: z.coerce.number().int().min(1).max(1_000_000_000).default(120_000),
  QOSWATCH_MAX_SERIES: autoOr(z.coerce.number().int().min(1).max(100_000_000)),
  QOSWATCH_MAX_SESSIONS: autoOr(z.coerce.number().int().min(1).max(1_000_000_000)),
  QOSWATCH_MAX_LIVE: durationSchema(1000, 3 * 3_600_000).default(300_000),

  QOSWATCH_MAX_BODY: sizeSchema(1024, 256 * 1024 ** 2).default(5 * 1024 ** 2),
  QOSWATCH_RATE_LIMIT: rateSchema.default({ max: 2000, windowMs: 1000 }),
  QOSWATCH_MAX_INFLIGHT: z.coerce.number().int().min(1).max(1_000_000).default(512),
  QOSWATCH_MAX_PENDING_BYTES: sizeSchema(64 * 1024, 4 * 1024 ** 3).default(64 * 1024 ** 2),
  QOSWATCH_MAX_EVENT_LOOP_DELAY: durationSchema(0, 60_000).default(100),
  QOSWATCH_REQUEST_TIMEOUT: durationSchema(1000, 3_600_000).default(30_000),
  QOSWATCH_CORS_ORIGINS: z.string().default('*'),
  QOSWATCH_TRUSTED_PROXIES: proxyList,
  QOSWATCH_GEOIP_ASN_DB: pathList,
  QOSWATCH_GEOIP_COUNTRY_DB: pathList,
  QOSWATCH_GEOIP_POLL: durationSchema(100, 86_400_000).default(60_000),
  QOSWATCH_WS_MAX_FRAME: sizeSchema(1024, 64 * 1024 ** 2).default(1024 ** 2),
  QOSWATCH_WS_PING_INTERVAL: durationSchema(1000, 600_000).default(20_000),
  QOSWATCH_WS_IDLE_TIMEOUT: durationSchema(1000, 3_600_000).default(120_000),
  QOSWATCH_WS_MAX_UNACKED: z.coerce.number().int().min(1).max(10_000).default(64),
  QOSWATCH_WS_OVERLOAD_CLOSE: durationSchema(100, 600_000).default(5000),
  QOSWATCH_WS_MAX_PER_KEY: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  QOSWATCH_TENANT_API_RATE: rateSchema.default({ max: 120, windowMs: 60_000 }),

  QOSWATCH_RULES_DIR: optional(z.string()),
  QOSWATCH_ONCALL: optional(z.string()),
  QOSWATCH_EVAL_INTERVAL: durationSchema(1, 10_000).default(20),
  QOSWATCH_INCIDENT_GROUP_BY: z
    .string()
    .default('tenant,region')
    .transform((v, ctx) => {
      const fields = v.split(',').map((f) => f.trim()).filter(Boolean);
      const bad = fields.filter((f) => !(GROUP_FIELDS as readonly string[]).includes(f));
      if (bad.length || !fields.includes('tenant')) {
        ctx.addIssue({ code: 'custom', message: `list fields among ${GROUP_FIELDS.join(', ')}, including tenant` });
        return z.NEVER;
      }
      return fields as GroupField[];
    }),
  QOSWATCH_REOPEN_WINDOW: durationSchema(0, 86_400_000).default(600_000),
  QOSWATCH_TENANT_MAX_INCIDENTS: z.coerce.number().int().min(1).max(100_000).default(25),

  SMTP_URL: optional(z.url({ protocol: /^smtps?$/, error: 'must be an smtp:// or smtps:// URL' })),
  MAIL_FROM: z.string().min(3).default('qoswatch <qoswatch@localhost>'),
  QOSWATCH_PUBLIC_URL: optional(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })),
  QOSWATCH_GRAFANA_URL: optional(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })),
  QOSWATCH_LINK_SECRET: optional(secret),
  QOSWATCH_LINK_TTL: durationSchema(60_000, 30 * 86_400_000).default(86_400_000),
  QOSWATCH_PAGE_TIMEOUT: durationSchema(100, 120_000).default(10_000),
  QOSWATCH_CHAT_RATE: rateSchema.default({ max: 1, windowMs: 1000 }),
  QOSWATCH_EMAIL_RATE: rateSchema.default({ max: 10, windowMs: 1000 }),
  QOSWATCH_TENANT_PAGE_BUDGET: rateSchema.default({ max: 200, windowMs: 3_600_000 }),
  QOSWATCH_STORM_THRESHOLD: z.coerce.number().int().min(2).max(10_000).default(3),
  QOSWATCH_STORM_WINDOW: durationSchema(1000, 86_400_000).default(300_000),
  QOSWATCH_STORM_INTERVAL: durationSchema(1000, 3_600_000).default(60_000),

  QOSWATCH_FLUSH_INTERVAL: durationSchema(50, 60_000).default(1000),
  QOSWATCH_SPOOL_MAX: sizeSchema(1024 ** 2, 1024 ** 4).default(1024 ** 3),
  QOSWATCH_RAW_SAMPLES: bool.default(false),
  QOSWATCH_SELF_METRICS_INTERVAL: durationSchema(0, 3_600_000).default(10_000),
  QOSWATCH_HEARTBEAT_URL: optional(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })),
  QOSWATCH_HEARTBEAT_INTERVAL: durationSchema(1000, 3_600_000).default(60_000),
  QOSWATCH_SHUTDOWN_TIMEOUT: durationSchema(0, 600_000).default(10_000),

  INFLUX_URL: optional(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })),
  INFLUX_API: z.enum(['v1', 'v2']).default('v2'),
  INFLUX_TOKEN: optional(z.string()),
  INFLUX_ORG: optional(z.string()),
  INFLUX_BUCKET: optional(z.string()),
  INFLUX_DB: optional(z.string()),
  INFLUX_RP: optional(z.string()),
  INFLUX_USER: optional(z.string()),
  INFLUX_PASSWORD: optional(z.string()),
  INFLUX_BATCH_LINES: z.coerce.number().int().min(1).max(100_000).default(5000),
  INFLUX_TIMEOUT: durationSchema(100, 600_000).default(10_000),
  // Cluster mode (README, Running a cluster): shared state in PostgreSQL, one leader for the singleton duties.
  QOSWATCH_MODE: z.enum(['embedded', 'cluster']).default('embedded'),
  DATABASE_URL: optional(z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')),
  DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'lower-case letters, digits and _ only').max(63).default('public'),
  QOSWATCH_ROLES: z
    .string()
    .default('collector,worker,leader')
    .transform((v, ctx) => {
      const roles = [...new Set(v.split(',').map((r) => r.trim()).filter(Boolean))];
      const unknown = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
      if (unknown.length || roles.length === 0) {
        ctx.addIssue({ code: 'custom', message: `a comma-separated list of ${ROLES.join(', ')} (got ${JSON.stringify(v.slice(0, 60))})` });
        return z.NEVER;
      }
      return roles as Role[];
    }),
  NATS_URL: optional(z.string().regex(/^(nats|tls):\/\/[^,\s]+(,(nats|tls):\/\/[^,\s]+)*$/, 'nats://host:port, comma-separated for several servers')),
  /** Name prefix of the cluster's streams and buckets: two clusters (or tests) can share a NATS. */
  QOSWATCH_NATS_PREFIX: z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,30}$/, 'a letter, then letters, digits and _ (at most 31)').default('QOS_'),
  QOSWATCH_NATS_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  /** Fixed for the life of the data: changing it moves every region to another partition. */
  QOSWATCH_PARTITIONS: z.coerce.number().int().min(1).max(1024).default(16),
  QOSWATCH_LEASE_TTL: durationSchema(1000, 60_000).default(3000),
  QOSWATCH_LEADER_CHECK: durationSchema(100, 60_000).default(1000),
  QOSWATCH_NODE_ID: z.string().regex(/^[A-Za-z0-9_.:-]{1,100}$/, 'letters, digits and _ . : - only (at most 100)').default(`${hostname()}-${process.pid}`),
});

export type Env = z.output<typeof envSchema>;

/** Where people reach this service (links in pages and Grafana annotations), without a trailing slash. */
export const publicUrlOf = (env: Pick<Env, 'QOSWATCH_PUBLIC_URL' | 'PORT'>): string => (env.QOSWATCH_PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/$/, '');
export const ENV_VARS = Object.keys(envSchema.shape) as (keyof Env)[];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Validates the environment; the error names each offending variable (never its value: it may be a secret). */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const picked: Record<string, unknown> = {};
  for (const name of ENV_VARS) if (source[name] !== undefined) picked[name] = source[name];
  const parsed = envSchema.safeParse(picked);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid environment:\n${lines.join('\n')}`);
  }
  const d = parsed.data;
  if (d.QOSWATCH_MODE === 'cluster' && !d.DATABASE_URL) throw new ConfigError('invalid environment:\n  DATABASE_URL: required with QOSWATCH_MODE=cluster');
  if (d.QOSWATCH_MODE === 'cluster' && d.QOSWATCH_RAW_SAMPLES) throw new ConfigError('invalid environment:\n  QOSWATCH_RAW_SAMPLES: not supported with QOSWATCH_MODE=cluster (rollups only)');
  if (d.QOSWATCH_MODE === 'cluster' && !d.NATS_URL && (d.QOSWATCH_ROLES.includes('collector') || d.QOSWATCH_ROLES.includes('worker'))) {
    throw new ConfigError('invalid environment:\n  NATS_URL: required with QOSWATCH_MODE=cluster on a node with the collector or worker role');
  }
  if (d.QOSWATCH_OIDC_ISSUER && (!d.QOSWATCH_OIDC_CLIENT_ID || !d.QOSWATCH_PUBLIC_URL)) {
    throw new ConfigError(`invalid environment:\n  ${d.QOSWATCH_OIDC_CLIENT_ID ? 'QOSWATCH_PUBLIC_URL' : 'QOSWATCH_OIDC_CLIENT_ID'}: required with QOSWATCH_OIDC_ISSUER (the redirect is <QOSWATCH_PUBLIC_URL>/v1/auth/oidc/callback)`);
  }
  return parsed.data;
}

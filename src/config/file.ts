import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { formatPath } from '../shared/field-path.js';
import { DIMENSIONS, type Dimension } from '../shared/labels.js';
import { PRIORITIES } from '../shared/priority.js';
import { parseTarget } from '../shared/sla-policy.js';
import { DEFAULT_BUSINESS_HOURS, TIERS } from '../shared/tenant.js';
import { WEEKDAYS, hhmmSchema, zoneSchema } from '../shared/time-of-day.js';
import { rateSchema } from '../util/units.js';
import { readYaml } from '../util/yaml.js';
import { ConfigError } from './env.js';

const idSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'use 1-63 characters: a-z, 0-9, _ or -');

/** An ingest key or a tenant API token in the config file: by its hash, or read from an environment variable. */
const credentialSchema = z
  .strictObject({
    id: idSchema,
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be the hex SHA-256 of the key (qoswatch keys hash <key>)').optional(),
    key_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name').optional(),
    rate_limit: rateSchema.optional(),
    /** Region of the samples derived from this key's CMCD reports when they carry no ?region= (ingest keys). */
    region: z.string().min(1).max(64).regex(/^[^\x00-\x1f\x7f\\]+$/, 'must not contain control characters or backslashes').optional(),
    revoked: z.boolean().default(false),
  })
  .refine((k) => (k.sha256 === undefined) !== (k.key_env === undefined), {
    message: 'give exactly one of sha256 or key_env',
  });

const slaTarget = z.string().transform((v, ctx) => {
  const t = parseTarget(v);
  if (t === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not an SLA target (use e.g. 15m, 4h, 3d, "8h business", "1 business day" or none)` });
    return z.NEVER;
  }
  return t;
});
/** SLA overrides: per priority, per target (response, restore, resolve). */
const slaOverrides = z.partialRecord(z.enum(PRIORITIES), z.strictObject({ response: slaTarget.optional(), restore: slaTarget.optional(), resolve: slaTarget.optional() }));

const recipients = z.array(z.email()).min(1, 'name at least one recipient').max(100);
/** Scheduled QoS reports by email, at wall-clock times in the tenant's time zone. */
const reportsSchema = z.strictObject({
  daily: z.strictObject({ at: hhmmSchema.default('08:00'), to: recipients }).optional(),
  weekly: z.strictObject({ day: z.enum(WEEKDAYS).default('mon'), at: hhmmSchema.default('09:00'), to: recipients }).optional(),
});

export const tenantSchema = z.strictObject({
  id: idSchema,
  name: z.string().min(1).max(200).optional(),
  tier: z.enum(TIERS).default('enterprise'),
  timezone: zoneSchema.default('UTC'),
  /** The tenant's business calendar, for SLA targets counted in business hours (default Mon–Fri 09:00–18:00). */
  business_hours: z
    .strictObject({
      days: z.array(z.enum(WEEKDAYS)).min(1).default([...DEFAULT_BUSINESS_HOURS.days]),
      start: hhmmSchema.default(DEFAULT_BUSINESS_HOURS.start),
      end: hhmmSchema.default(DEFAULT_BUSINESS_HOURS.end),
      holidays: z.array(z.iso.date()).default([...DEFAULT_BUSINESS_HOURS.holidays]),
    })
    .refine((b) => b.start < b.end, { message: 'start must be before end (no overnight business hours)', path: ['end'] })
    .default({ ...DEFAULT_BUSINESS_HOURS, days: [...DEFAULT_BUSINESS_HOURS.days], holidays: [] }),
  /** The customer's people who get customer-visible updates by email. */
  contacts: z.array(z.strictObject({ name: z.string().min(1).max(200), email: z.email() })).default([]),
  /** A chat channel of the on-call file dedicated to this customer (e.g. a shared Feishu/DingTalk/WeCom group). */
  customer_channel: idSchema.optional(),
  /** This tenant's own SLA targets over its tier's (e.g. a contract with a 10-minute P0 response). */
  sla: slaOverrides.optional(),
  reports: reportsSchema.optional(),
  /** This tenant's own budgets over the environment's defaults (QOSWATCH_TENANT_MAX_*). */
  budgets: z
    .strictObject({
      series: z.number().int().min(1).max(10_000_000).optional().describe('series held in memory'),
      points: z.number().int().min(1).max(100_000_000).optional().describe('points written per window'),
      sessions: z.number().int().min(1).max(100_000_000).optional().describe('live sessions and nodes tracked'),
    })
    .optional(),
  ingest_keys: z.array(credentialSchema).default([]),
  /** Tokens that read the tenant's own tickets (/v1/tenant/tickets); ingest keys are public and only ingest. */
  api_tokens: z.array(credentialSchema).default([]),
});

/**
 * Caps below QOSWATCH_DIM_CAP for dimensions that are small by nature: a ladder has about ten renditions, and each
 * value is a series per region, so a hostile key sending 100 made-up heights would only cost series.
 */
export const DEFAULT_DIM_CAPS: Partial<Record<Dimension, number>> = { rendition: 16 };

export const fileConfigSchema = z.strictObject({
  default_tenant: idSchema.default('default'),
  tenants: z.array(tenantSchema).default([]),
  /** Per-tier changes to PRODUCT.md's default SLA matrix. */
  sla: z.partialRecord(z.enum(TIERS), slaOverrides).default({}),
  dimensions: z
    .strictObject(Object.fromEntries(DIMENSIONS.map((d) => [d, z.strictObject({ cap: z.number().int().min(1).max(100_000) }).optional()])) as Record<Dimension, z.ZodOptional<z.ZodObject<{ cap: z.ZodNumber }>>>)
    .default({}),
});

export type FileConfig = z.output<typeof fileConfigSchema>;
export type TenantConfig = FileConfig['tenants'][number];
/** A tenant as the admin API takes it: the config file's fields without credentials (those have their own API). */
export const tenantBodySchema = tenantSchema.omit({ ingest_keys: true, api_tokens: true });
export type CredentialConfig = TenantConfig['ingest_keys'][number];

export function parseFileConfig(text: string, source: string): FileConfig {
  const doc = readYaml(text);
  if (!doc.ok) throw new ConfigError(`${source}${doc.line === undefined ? '' : `:${doc.line}`}: ${doc.message}`);
  const parsed = fileConfigSchema.safeParse(doc.value ?? {});
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${formatPath(i.path)}: ${i.message}`);
    throw new ConfigError(`${source} is invalid:\n${lines.join('\n')}`);
  }
  const ids = new Set<string>();
  for (const t of parsed.data.tenants) {
    if (ids.has(t.id)) throw new ConfigError(`${source} is invalid:\n  tenants: duplicate tenant id "${t.id}"`);
    ids.add(t.id);
  }
  return parsed.data;
}

export function loadFileConfig(path: string | undefined): FileConfig {
  if (!path) return fileConfigSchema.parse({});
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`QOSWATCH_CONFIG: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parseFileConfig(text, path);
}

import { createJsonSchemaTransform, createJsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';

/**
 * The vocabulary of the API's OpenAPI document: who may call (security schemes and the requirement of each audience)
 * and how requests fail (described error responses). Routes spread these into their `schema` so that every
 * operation states its audience on purpose and its failures are documented the same way everywhere.
 */

/** The security schemes of the document (components.securitySchemes). */
export const SECURITY_SCHEMES = {
  adminToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'The admin token (QOSWATCH_ADMIN_TOKEN) or a personal API token (`qwp_…`, created at /v1/me/tokens) with the role the operation needs.',
  },
  session: {
    type: 'apiKey',
    in: 'cookie',
    name: '__Host-qw_session',
    description: 'The console\'s session cookie (set by POST /v1/auth/login or single sign-on). Changes (POST, PUT, PATCH, DELETE) also need the header `X-CSRF-Token` with the token /v1/me returns.',
  },
  ingestKey: {
    type: 'http',
    scheme: 'bearer',
    description: "A tenant's ingest key. Ingest keys only ingest: they are public (every player carries one).",
  },
  ingestKeyQuery: {
    type: 'apiKey',
    in: 'query',
    name: 'key',
    description: 'The ingest key in `?key=`, for clients that cannot set headers (navigator.sendBeacon, browser WebSockets).',
  },
  tenantToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'A tenant API token (`qwt_…`, created at /v1/admin/tenants/{tenant}/tokens): reads that tenant\'s tickets and nothing else. Only in the Authorization header.',
  },
  shareLink: {
    type: 'http',
    scheme: 'bearer',
    description: "A status page share link's secret (`qws_…`).",
  },
  metricsToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'QOSWATCH_METRICS_TOKEN, for a Prometheus scraper (the admin token is accepted too).',
  },
  integrationSecret: {
    type: 'http',
    scheme: 'bearer',
    description: 'The secret of an alert-source integration (Alertmanager, Grafana, PagerDuty Events v2, generic webhook) or a monitored job.',
  },
  integrationSecretQuery: {
    type: 'apiKey',
    in: 'query',
    name: 'token',
    description: 'The integration secret in `?token=`, for senders that cannot set an Authorization header.',
  },
  calendarFeed: {
    type: 'apiKey',
    in: 'query',
    name: 'token',
    description: 'A calendar feed\'s secret (`qwc_…`, made at /v1/oncall/calendars) in `?token=`: calendar apps send no headers.',
  },
} as const;

export type SecuritySchemeName = keyof typeof SECURITY_SCHEMES;
type Requirement = Readonly<Partial<Record<SecuritySchemeName, readonly string[]>>>;

/**
 * The security requirement of each audience, for `schema.security`. Each alternative is one way in; `none` is an
 * operation open to anyone (health, signed links, sign-in), stated as such rather than left to a default.
 */
export const SECURITY = {
  /** Staff and customer accounts: the admin token, a personal API token or a console session. */
  staff: [{ adminToken: [] }, { session: [] }],
  /** Telemetry: an ingest key in the Authorization header or in `?key=`. */
  ingest: [{ ingestKey: [] }, { ingestKeyQuery: [] }],
  /** A tenant's read-only ticket view. */
  tenant: [{ tenantToken: [] }],
  /** A status page share link. */
  shareLink: [{ shareLink: [] }],
  /** Prometheus: the metrics token or the admin token. */
  metrics: [{ metricsToken: [] }, { adminToken: [] }],
  /** Alert-source integrations and monitored-job heartbeats. */
  integration: [{ integrationSecret: [] }, { integrationSecretQuery: [] }],
  /** An on-call calendar feed. */
  calendarFeed: [{ calendarFeed: [] }],
  none: [],
} as const satisfies Record<string, readonly Requirement[]>;

/** The document's tags, in the order the reference shows them: every operation has one of these. */
export const TAGS = [
  { name: 'telemetry', description: 'Players and SDKs send QoS samples: HTTP batches, a WebSocket stream, CMCD event reports' },
  { name: 'incidents', description: 'Incidents the alert rules open: list, follow live, acknowledge, mitigate, resolve, escalate, reassign' },
  { name: 'silences', description: 'Silences and maintenance windows: they stop paging, not recording' },
  { name: 'rules', description: 'The alert rules in force, the current alerts, reloading the rules directory' },
  { name: 'sources', description: 'Alert sources (Alertmanager, Grafana, PagerDuty Events v2, generic webhooks) and monitored-job heartbeats' },
  { name: 'oncall', description: 'Who is on call: schedules, overrides, calendar feeds' },
  { name: 'paging', description: 'Signed links in pages: acknowledge or resolve without signing in' },
  { name: 'tickets', description: "Tickets with their SLA clocks and postmortems, and each tenant's read-only view" },
  { name: 'reports', description: 'SLA attainment and the scheduled QoS reports' },
  { name: 'events', description: 'Planned high-traffic events: tighter thresholds while they run, a readiness report before' },
  { name: 'status', description: "Customers' status pages and their share links" },
  { name: 'accounts', description: 'Signing in and out, your own account and tokens, users, the audit log' },
  { name: 'admin', description: 'Tenants, their ingest keys and tenant API tokens' },
  { name: 'operations', description: 'Health, readiness and the Prometheus metrics of qoswatch itself' },
] as const;

/** The body of every error (src/shared/http-errors.ts). */
export const errorBody = z
  .object({
    error: z.string().describe('a stable machine-readable code: bad_request, unauthorized, forbidden, not_found, conflict, too_many_requests, …'),
    message: z.string().describe('what is wrong, naming the field'),
  })
  .meta({ id: 'Error' });

const retryAfter = { 'Retry-After': { type: 'integer', minimum: 0, description: 'seconds to wait before trying again' } } as const;

/** A described JSON response with an optional set of headers, in the form the zod type provider and fastify accept. */
export function jsonResponse<S extends z.ZodType>(schema: S, description: string, headers?: Record<string, object>) {
  return { description, content: { 'application/json': { schema } }, ...(headers ? { headers } : {}) };
}

/** A described response without a body (204). */
export function noContent(description: string) {
  return z.undefined().describe(description);
}

/** The header of a redirect. */
export const LOCATION = { Location: { type: 'string', description: 'where to go' } } as const;

/** A described redirect without a body; zod's metadata carries its `Location` header into the document. */
export function redirect(description: string) {
  return z.undefined().meta({ description, headers: LOCATION });
}

/** A described response of text in `mediaType` (Markdown, CSV, Prometheus text, iCalendar): sent as it is, not as JSON. */
export function textResponse(mediaType: string, description: string, headers?: Record<string, object>) {
  return { description, content: { [mediaType]: { schema: z.string() } }, ...(headers ? { headers } : {}) };
}

const ERROR_DESCRIPTIONS = {
  400: 'The request is malformed or a field is invalid (the message names it)',
  401: 'No credentials, or unknown or revoked ones',
  403: 'The credentials do not allow this operation',
  404: 'No such resource',
  409: 'The resource is not in a state that allows this',
  413: 'The request body is larger than the limit',
  415: 'The Content-Type or Content-Encoding is not accepted',
  422: 'The request is well-formed but its content is refused',
  426: 'Not a WebSocket upgrade: this endpoint speaks WebSocket',
  429: 'Too many requests: wait for Retry-After seconds',
  503: 'Temporarily unavailable (overloaded, or a dependency is down): retry after Retry-After seconds',
} as const;
export type ErrorStatus = keyof typeof ERROR_DESCRIPTIONS;

/** Described error responses for `schema.response`: `...errorResponses(400, 401, 404)`; 429 and 503 carry Retry-After. */
export function errorResponses<C extends ErrorStatus>(...codes: C[]): Record<C, ReturnType<typeof jsonResponse<typeof errorBody>>> {
  return Object.fromEntries(
    codes.map((c) => [c, jsonResponse(errorBody, ERROR_DESCRIPTIONS[c], c === 429 || c === 503 ? retryAfter : undefined)]),
  ) as Record<C, ReturnType<typeof jsonResponse<typeof errorBody>>>;
}

/** The usual failures of an authenticated operation: bad input, no or wrong credentials, not allowed. */
export const AUTHED_ERRORS = errorResponses(400, 401, 403);

/** Union branches that stand for an absent value, which JSON Schema has no type for. */
const ABSENT = new Set(['undefined', 'void']);

/**
 * Replaces the zod type provider's own conversion hook, which drops union branches whose JSON is still empty when
 * it looks — so a branch that transforms (`"123"` → 123, RFC 3339 → epoch ms) vanished from the document. This one
 * drops only branches that are absent by their zod type, and says `null` for a response of no body (204).
 */
function override(ctx: { zodSchema: z.core.$ZodType; jsonSchema: z.core.JSONSchema.BaseSchema }): void {
  const def = ctx.zodSchema._zod.def;
  if (def.type === 'union' && Array.isArray(ctx.jsonSchema.anyOf)) {
    const options = (def as z.core.$ZodUnionDef).options;
    ctx.jsonSchema.anyOf = ctx.jsonSchema.anyOf.filter((_, i) => !ABSENT.has(options[i]?._zod.def.type ?? ''));
  }
  if (ABSENT.has(def.type)) ctx.jsonSchema.type = 'null';
}

const baseTransform = createJsonSchemaTransform({ zodToJsonConfig: { override } });
/** Marks, between the two transforms, a request body that may be left out. */
const OPTIONAL_BODY = 'x-optional-body';
type TransformInput = Parameters<typeof baseTransform>[0];

/**
 * The route transform for @fastify/swagger: the zod type provider's, keeping what it drops — the headers of described
 * responses (Retry-After) — and marking a request body that may be left out.
 */
export function openApiTransform(doc: TransformInput): ReturnType<typeof baseTransform> {
  const out = baseTransform(doc);
  // A body the route's validator takes when it is missing (nullish, or with a default) is optional; @fastify/swagger
  // marks every body required, so the document transform below reads this mark. A body of any shape (z.unknown(),
  // read by the handler) says nothing either way: it stays required.
  const body = (doc.schema as { body?: unknown } | undefined)?.body;
  const json = (out.schema as { body?: Record<string, unknown> }).body;
  const anyShape = body instanceof z.ZodType && ['unknown', 'any'].includes(body._zod.def.type);
  if (body instanceof z.ZodType && json && !anyShape && body.safeParse(undefined).success) json[OPTIONAL_BODY] = true;
  const source = (doc.schema as { response?: Record<string, unknown> } | undefined)?.response;
  const target = (out.schema as { response?: Record<string, Record<string, unknown>> }).response;
  if (source && target) {
    for (const [code, r] of Object.entries(source)) {
      const headers = (r as { headers?: unknown } | undefined)?.headers;
      if (headers && target[code]) target[code].headers = headers;
    }
  }
  return out;
}

const baseTransformObject = createJsonSchemaTransformObject({ zodToJsonConfig: { override } });

/**
 * The document transform: the zod type provider's, with optional request bodies not required, less the components
 * nothing refers to — it adds an input and an output variant of every schema with an id, whether or not any
 * operation uses it — and less the security schemes no operation accepts (the optional features that use some
 * register their routes only when configured).
 */
export function openApiTransformObject(doc: Parameters<typeof baseTransformObject>[0]): ReturnType<typeof baseTransformObject> {
  type Body = { required?: boolean; content?: Record<string, { schema?: Record<string, unknown> }> };
  type Doc = { components?: { schemas?: Record<string, unknown>; securitySchemes?: Record<string, unknown> }; paths?: Record<string, Record<string, { security?: object[]; requestBody?: Body }>> };
  const out = baseTransformObject(doc) as Doc;
  for (const op of Object.values(out.paths ?? {}).flatMap((ops) => Object.values(ops))) {
    const media = Object.values(op.requestBody?.content ?? {});
    if (media.length === 0 || !media.every((m) => m.schema?.[OPTIONAL_BODY])) continue;
    op.requestBody!.required = false;
    for (const m of media) delete m.schema![OPTIONAL_BODY];
  }
  const components = out.components ?? {};
  const schemas = components.schemas ?? {};
  const refsIn = (value: unknown) => [...JSON.stringify(value ?? null).matchAll(/"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
  const used = new Set(refsIn({ ...out, components: { ...components, schemas: {} } }));
  for (const pending = [...used]; pending.length > 0; ) {
    for (const id of refsIn(schemas[pending.pop()!])) if (!used.has(id)) used.add(id), pending.push(id);
  }
  // A schema only requests use keeps its plain name: its output variant was unused and is gone.
  const renames = [...used].filter((id) => id.endsWith('Input') && !used.has(id.slice(0, -'Input'.length)) && id.slice(0, -'Input'.length) in schemas);
  const accepted = new Set(Object.values(out.paths ?? {}).flatMap((ops) => Object.values(ops).flatMap((op) => (op.security ?? []).flatMap((r) => Object.keys(r)))));
  out.components = {
    ...components,
    schemas: Object.fromEntries(Object.entries(schemas).filter(([id]) => used.has(id)).map(([id, schema]) => [renames.includes(id) ? id.slice(0, -'Input'.length) : id, schema])),
    securitySchemes: Object.fromEntries(Object.entries(components.securitySchemes ?? {}).filter(([name]) => accepted.has(name))),
  };
  if (renames.length === 0) return out as ReturnType<typeof baseTransformObject>;
  const renamed = new RegExp(`"#/components/schemas/(${renames.join('|')})"`, 'g');
  return JSON.parse(JSON.stringify(out).replace(renamed, (_, id: string) => `"#/components/schemas/${id.slice(0, -'Input'.length)}"`)) as ReturnType<typeof baseTransformObject>;
}

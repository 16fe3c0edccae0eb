import { jsonSchemaTransform } from 'fastify-type-provider-zod';
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
  /** Alert-source integrations and monitored-job heartbeats. */
  integration: [{ integrationSecret: [] }, { integrationSecretQuery: [] }],
  none: [],
} as const satisfies Record<string, readonly Requirement[]>;

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

const ERROR_DESCRIPTIONS = {
  400: 'The request is malformed or a field is invalid (the message names it)',
  401: 'No credentials, or unknown or revoked ones',
  403: 'The credentials do not allow this operation',
  404: 'No such resource',
  409: 'The resource is not in a state that allows this',
  413: 'The request body is larger than the limit',
  415: 'The Content-Type or Content-Encoding is not accepted',
  422: 'The request is well-formed but its content is refused',
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

type TransformInput = Parameters<typeof jsonSchemaTransform>[0];

/**
 * fastify-type-provider-zod's transform, keeping what it drops: the headers of described responses (Retry-After).
 * Register it as @fastify/swagger's `transform`.
 */
export function openApiTransform(doc: TransformInput): ReturnType<typeof jsonSchemaTransform> {
  const out = jsonSchemaTransform(doc);
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

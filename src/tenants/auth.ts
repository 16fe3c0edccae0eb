import type { FastifyRequest } from 'fastify';
import type { IngestKey, KeyStore, TenantToken } from './keys.js';

declare module 'fastify' {
  interface FastifyRequest {
    ingestKey?: IngestKey;
    tenantToken?: TenantToken;
  }
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearer(header: string | undefined): string | undefined {
  return header ? /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] : undefined;
}

/** The key a client presented: `Authorization: Bearer <key>`, or `?key=` (sendBeacon and browser WebSockets). */
export function presentedKey(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (header) return bearer(header);
  const q = (req.query as { key?: unknown } | undefined)?.key;
  return typeof q === 'string' && q.length > 0 ? q : undefined;
}

export type AuthFailure = 'missing' | 'unknown' | 'tenant_token';

export function authenticateIngest(keys: KeyStore, req: FastifyRequest): IngestKey | AuthFailure {
  const presented = presentedKey(req);
  if (!presented) return 'missing';
  return keys.ingest.resolve(presented) ?? (keys.tokens.resolve(presented) ? 'tenant_token' : 'unknown');
}

export const AUTH_MESSAGES: Record<AuthFailure, string> = {
  missing: 'missing ingest key: send "Authorization: Bearer <key>" or ?key=<key>',
  unknown: 'unknown or revoked ingest key',
  tenant_token: 'this is a tenant API token: it only reads (/v1/tenant/tickets); send telemetry with an ingest key',
};

export type ReadFailure = 'missing' | 'unknown' | 'ingest_key' | 'in_query';

/**
 * The tenant API token of a read of the tenant view: only from the Authorization header (a query string ends up in
 * proxies' and browsers' histories). Ingest keys are refused by name: they are public, carried by every player.
 */
export function authenticateTenant(keys: KeyStore, req: FastifyRequest): TenantToken | ReadFailure {
  const token = bearer(req.headers.authorization);
  if (token) return keys.tokens.resolve(token) ?? (keys.ingest.resolve(token) ? 'ingest_key' : 'unknown');
  const q = presentedKey(req);
  if (!q) return 'missing';
  return keys.ingest.resolve(q) ? 'ingest_key' : 'in_query';
}

export const READ_MESSAGES: Record<ReadFailure, string> = {
  missing: 'missing tenant API token: send "Authorization: Bearer <token>" (the admin API creates them)',
  unknown: 'unknown or revoked tenant API token',
  ingest_key: 'ingest keys only ingest (every player carries one, so they are public): read with a tenant API token in "Authorization: Bearer <token>"',
  in_query: 'a tenant API token is taken only from "Authorization: Bearer <token>", not from the query string',
};

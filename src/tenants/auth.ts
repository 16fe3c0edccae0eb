import type { FastifyRequest } from 'fastify';
import { unauthorized } from '../errors.js';
import type { IngestKey, KeyStore } from './keys.js';

declare module 'fastify' {
  interface FastifyRequest {
    ingestKey?: IngestKey;
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

export type AuthFailure = 'missing' | 'unknown';

export function authenticateIngest(keys: KeyStore, req: FastifyRequest): IngestKey | AuthFailure {
  const presented = presentedKey(req);
  if (!presented) return 'missing';
  return keys.resolve(presented) ?? 'unknown';
}

export const AUTH_MESSAGES: Record<AuthFailure, string> = {
  missing: 'missing ingest key: send "Authorization: Bearer <key>" or ?key=<key>',
  unknown: 'unknown or revoked ingest key',
};

/** preHandler-style guard for admin routes. */
export function requireAdmin(keys: KeyStore) {
  return async (req: FastifyRequest) => {
    const token = bearer(req.headers.authorization);
    if (!token) throw unauthorized('missing admin token: send "Authorization: Bearer <token>"');
    if (!keys.isAdmin(token)) throw unauthorized('invalid admin token');
  };
}

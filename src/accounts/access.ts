import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, badRequest, forbidden, unauthorized } from '../shared/http-errors.js';
import { type Role, type StaffRole, allows } from '../shared/roles.js';
import { bearer } from '../tenants/auth.js';
import type { KeyStore } from '../tenants/keys.js';
import type { Accounts } from './accounts.js';

/** Who is making a request: a person (session or personal token) or automation (the admin token). */
export interface Principal {
  kind: 'user' | 'automation';
  id: string;
  name: string;
  role: Role;
  /** A customer account's tenant. */
  tenant?: string;
  via: 'session' | 'token' | 'admin_token';
  /** The session's CSRF token (sessions only). */
  csrf?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** The roles a route tree needs: to read (GET, HEAD) and to change anything. */
export interface Needs {
  read: StaffRole;
  write: StaffRole;
}

export interface AccessOptions {
  accounts: Accounts;
  keys: KeyStore;
  /** The session cookie's name: `__Host-` prefixed (Secure, path /, no domain) unless cookies may go over plain HTTP. */
  cookie: string;
  clock: () => number;
}

export const CSRF_HEADER = 'x-csrf-token';

/** One cookie of the request (the cookie plugin parses none by itself: see plugin.ts). */
export function cookieOf(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  return header ? req.server.parseCookie(header)[name] : undefined;
}
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export const MISSING_CREDENTIALS = 'sign in to the console, or send "Authorization: Bearer <token>" (a personal API token, or the admin token for automation)';

/** Resolves and checks the caller of a route tree; one per app (plugin.ts), used as `onRequest` hooks. */
export class Access {
  constructor(private readonly opts: AccessOptions) {}

  /** Any caller, customers included (their own account's routes); a browser's change must pass the CSRF check. */
  async signedIn(req: FastifyRequest): Promise<Principal> {
    const p = await this.principal(req);
    if (!SAFE.has(req.method) && p.via === 'session') checkCsrf(req, p.csrf!);
    req.principal = p;
    return p;
  }

  /** The caller, or a 401. A bearer header wins over a cookie (API clients never ride on a browser's session). */
  async principal(req: FastifyRequest): Promise<Principal> {
    const now = this.opts.clock();
    const header = req.headers.authorization;
    if (header !== undefined) {
      const token = bearer(header);
      if (!token) throw unauthorized('Authorization: use "Bearer <token>"');
      if (this.opts.keys.isAdmin(token)) return { kind: 'automation', id: 'admin', name: 'admin token', role: 'admin', via: 'admin_token' };
      const user = await this.opts.accounts.tokenUser(token, now);
      if (!user) throw unauthorized('invalid or revoked token');
      return { kind: 'user', id: user.id, name: user.name, role: user.role as Role, tenant: user.tenant, via: 'token' };
    }
    const secret = cookieOf(req, this.opts.cookie);
    const found = secret ? await this.opts.accounts.session(secret, now) : undefined;
    if (!found) throw unauthorized(secret ? 'your session has ended: sign in again' : MISSING_CREDENTIALS);
    const { user, session } = found;
    return { kind: 'user', id: user.id, name: user.name, role: user.role as Role, tenant: user.tenant, via: 'session', csrf: session.csrf };
  }

  /** An `onRequest` hook: the caller must hold `needs.read` to read and `needs.write` to change anything. */
  require(needs: Needs) {
    return async (req: FastifyRequest, _reply: FastifyReply) => {
      const p = await this.signedIn(req);
      const write = !SAFE.has(req.method);
      const need = write ? needs.write : needs.read;
      if (!allows(p.role, need)) throw forbidden(`${write ? 'changing' : 'reading'} this needs the ${need} role; ${p.id} is ${p.role === 'customer' ? 'a customer' : `a ${p.role}`}`);
    };
  }
}

/**
 * A browser's change must come from the console itself: the session's CSRF token in a header (a cross-site form can
 * send neither a custom header nor read the token), and no foreign Origin. SameSite cookies are the first line.
 */
export function checkCsrf(req: FastifyRequest, expected: string): void {
  const origin = req.headers.origin;
  if (origin !== undefined && hostOf(origin) !== req.headers.host) throw csrfError(`request from another origin (${origin})`);
  if (req.headers['sec-fetch-site'] === 'cross-site') throw csrfError('cross-site request');
  const presented = req.headers[CSRF_HEADER];
  if (typeof presented !== 'string' || !equal(presented, expected)) throw csrfError(`missing or wrong ${CSRF_HEADER} header`);
}

const csrfError = (why: string) => new AppError(403, 'csrf', `refused as a possible cross-site request forgery: ${why}`);

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Who an action is recorded as. People are who they signed in as: a `by` naming someone else is refused. Automation
 * (the admin token) may say on whose behalf it acts, as before accounts existed.
 */
export function actorOf(req: FastifyRequest, declared?: string): string {
  const p = req.principal;
  if (!p) throw new Error('actorOf outside an authenticated route');
  if (p.kind === 'automation') return declared ?? 'admin';
  if (declared !== undefined && declared !== p.id) throw badRequest(`by: you are signed in as ${p.id}; actions are recorded as you (leave "by" out)`);
  return p.id;
}

/** A sign-in must come from the console's own page, or from a client that is no browser (no Origin at all). */
export function checkLoginOrigin(req: FastifyRequest): void {
  const origin = req.headers.origin;
  if (origin !== undefined && hostOf(origin) !== req.headers.host) throw csrfError(`sign-in from another origin (${origin})`);
  if (req.headers['sec-fetch-site'] === 'cross-site') throw csrfError('cross-site sign-in');
}

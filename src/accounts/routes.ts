import rateLimit from '@fastify/rate-limit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyInstance } from 'fastify';
import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Env } from '../config/env.js';
import { AppError, badRequest, unauthorized } from '../shared/http-errors.js';
import { ROLES } from '../shared/roles.js';
import { SECURITY, errorResponses, jsonResponse, noContent, redirect } from '../shared/openapi.js';
import { toIso } from '../util/units.js';
import { actorOf, checkLoginOrigin, cookieOf } from './access.js';
import type { User } from './accounts.js';
import type { Flow } from './oidc.js';
import { sessionCookie } from './plugin.js';

const userId = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'use 1-63 characters: a-z, 0-9, _, . or -');
const password = z.string().min(12, 'use at least 12 characters').max(200);

const userView = z
  .object({
    id: z.string(), name: z.string(), email: z.string().optional(), role: z.enum(ROLES), tenant: z.string().optional(),
    source: z.string(), has_password: z.boolean(), disabled: z.boolean(), created_at: z.string(), updated_at: z.string(),
  })
  .meta({ id: 'User' });

const meView = z.object({
  id: z.string(), name: z.string(), role: z.enum(ROLES), tenant: z.string().optional(),
  via: z.enum(['session', 'token', 'admin_token']),
  csrf_token: z.string().optional().describe('sessions only: send it in the X-CSRF-Token header of every change'),
});

const tokenView = z.object({ id: z.string(), name: z.string().optional(), created_at: z.string(), used_at: z.string().optional() });

const auditView = z
  .object({ id: z.number().int(), at: z.string(), actor: z.string(), action: z.string(), target: z.string(), before: z.unknown().optional(), after: z.unknown().optional() })
  .meta({ id: 'AuditEntry' });

const typed = (i: FastifyInstance) => i.withTypeProvider<ZodTypeProvider>();
/** The flow cookie as set at the start of a sign-in; anything else is no flow. */
function parseFlow(raw: string): Flow | undefined {
  try {
    const v = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<Flow>;
    return typeof v.state === 'string' && typeof v.nonce === 'string' && typeof v.verifier === 'string' ? { state: v.state, nonce: v.nonce, verifier: v.verifier } : undefined;
  } catch {
    return undefined;
  }
}

const view = (u: User) => ({ ...u, created_at: toIso(u.created_at)!, updated_at: toIso(u.updated_at)! });

/** Signing in and out, the caller's own account and tokens, users (admin), and the audit log. */
export const accountRoutes: FastifyPluginAsyncZod<{ env: Env; clock: () => number }> = async (app, { env, clock }) => {
  // Signed-in routes: bad input, no or ended credentials, a role that does not allow it or a missing CSRF token.
  const errors = errorResponses(400, 401, 403);
  const cookieName = sessionCookie(env.QOSWATCH_INSECURE_COOKIES);
  const cookieOptions = { path: '/', httpOnly: true, secure: !env.QOSWATCH_INSECURE_COOKIES, sameSite: 'strict' as const };

  // Guessing passwords is slowed per client address, on top of scrypt's cost.
  await app.register(async (scope) => {
    const login = typed(scope);
    await scope.register(rateLimit, { max: 10, timeWindow: 60_000, keyGenerator: (req: FastifyRequest) => req.ip });
    login.post(
      '/v1/auth/login',
      {
        schema: {
          operationId: 'signIn', tags: ['accounts'], summary: 'Sign in with a password: sets the session cookie and returns the CSRF token', security: SECURITY.none,
          body: z.strictObject({ login: z.string().min(1).max(320).describe('user id or email'), password: z.string().min(1).max(200) }),
          response: { 200: jsonResponse(meView, 'Signed in: the session cookie is set'), ...errorResponses(400, 401, 403, 429) },
        },
      },
      async (req, reply) => {
        checkLoginOrigin(req);
        const user = await app.accounts.checkPassword(req.body.login, req.body.password);
        if (!user) throw unauthorized('wrong user or password');
        // Whatever session the browser held ends: a session id planted before sign-in is never the signed-in one.
        const old = cookieOf(req, cookieName);
        if (old) await app.accounts.endSession(old);
        const s = await app.accounts.startSession(user.id, clock());
        reply.setCookie(cookieName, s.secret, { ...cookieOptions, maxAge: Math.floor(env.QOSWATCH_SESSION_MAX / 1000) });
        return { id: user.id, name: user.name, role: user.role as (typeof ROLES)[number], tenant: user.tenant, via: 'session' as const, csrf_token: s.csrf };
      },
    );
  });

  typed(app).get(
    '/v1/auth/methods',
    {
      schema: {
        operationId: 'listSignInMethods', tags: ['accounts'], summary: 'How people sign in here: password, and single sign-on when configured', security: SECURITY.none,
        response: { 200: jsonResponse(z.object({ password: z.literal(true), oidc: z.object({ name: z.string(), login: z.string() }).optional() }), 'The sign-in methods') },
      },
    },
    async () => ({ password: true as const, oidc: app.oidc && { name: env.QOSWATCH_OIDC_NAME, login: '/v1/auth/oidc/login' } }),
  );

  const oidc = app.oidc;
  if (oidc) {
    // The flow's checks ride in a short cookie: the provider's redirect back is a cross-site navigation, which
    // carries Lax cookies but not Strict ones. Any node of a cluster can finish what another started.
    const flowCookie = env.QOSWATCH_INSECURE_COOKIES ? 'qw_oidc' : '__Host-qw_oidc';
    const flowOptions = { path: '/', httpOnly: true, secure: !env.QOSWATCH_INSECURE_COOKIES, sameSite: 'lax' as const };
    /** Back to the sign-in form with why, in words. */
    const refuse = (reply: FastifyReply, why: string) => reply.clearCookie(flowCookie, flowOptions).redirect(`/console/?signin_error=${encodeURIComponent(why)}`, 303);

    app.get('/v1/auth/oidc/login', { schema: { operationId: 'startSingleSignOn', tags: ['accounts'], summary: `Sign in with ${env.QOSWATCH_OIDC_NAME}: redirects to the identity provider`, security: SECURITY.none, response: { 302: redirect('To the identity provider'), 303: redirect('Back to the sign-in form with why: the provider cannot be reached') } } }, async (_req, reply) => {
      let started: Awaited<ReturnType<typeof oidc.start>>;
      try {
        started = await oidc.start();
      } catch (err) {
        app.log.error({ err }, 'OpenID Connect discovery failed');
        return refuse(reply, `${env.QOSWATCH_OIDC_NAME} cannot be reached; try again, or sign in with a password`);
      }
      reply.setCookie(flowCookie, Buffer.from(JSON.stringify(started.flow)).toString('base64url'), { ...flowOptions, maxAge: 600 });
      return reply.redirect(started.url.href, 302);
    });

    app.get('/v1/auth/oidc/callback', { schema: { operationId: 'finishSingleSignOn', tags: ['accounts'], summary: 'Where the identity provider sends the browser back', security: SECURITY.none, response: { 303: redirect('Signed in: to the console (staff) or the status page (customers); or back to the sign-in form with why') } } }, async (req, reply) => {
      const raw = cookieOf(req, flowCookie);
      const flow = raw ? parseFlow(raw) : undefined;
      if (!flow) return refuse(reply, 'the sign-in took too long or was started in another browser; try again');
      let identity: Awaited<ReturnType<typeof oidc.finish>>;
      try {
        identity = await oidc.finish(req.url.slice(req.url.indexOf('?') + 1), flow);
      } catch (err) {
        req.log.warn({ err: { message: (err as Error).message } }, 'OpenID Connect sign-in refused');
        return refuse(reply, `${env.QOSWATCH_OIDC_NAME} did not confirm the sign-in; try again`);
      }
      if (!identity.email || identity.emailVerified === false) return refuse(reply, `${env.QOSWATCH_OIDC_NAME} gave no verified email address`);
      const user = await app.accounts.byVerifiedEmail(identity.email);
      if (!user) return refuse(reply, `no account here has the email ${identity.email}: ask an admin to create one`);
      const old = cookieOf(req, cookieName);
      if (old) await app.accounts.endSession(old);
      const s = await app.accounts.startSession(user.id, clock());
      reply.clearCookie(flowCookie, flowOptions).setCookie(cookieName, s.secret, { ...cookieOptions, maxAge: Math.floor(env.QOSWATCH_SESSION_MAX / 1000) });
      return reply.redirect(user.role === 'customer' ? '/status/' : '/console/', 303);
    });
  }

  await app.register(async (scope) => {
    const own = typed(scope);
    own.addHook('onRequest', async (req) => void (await app.access.signedIn(req)));

    own.post(
      '/v1/auth/logout',
      { schema: { operationId: 'signOut', tags: ['accounts'], summary: 'Sign out: ends this session', security: SECURITY.staff, response: { 204: noContent('Signed out: the session cookie is cleared'), ...errors } } },
      async (req, reply: FastifyReply) => {
        const secret = cookieOf(req, cookieName);
        if (secret) await app.accounts.endSession(secret);
        return reply.clearCookie(cookieName, cookieOptions).code(204).send();
      },
    );

    own.get('/v1/me', { schema: { operationId: 'getMe', tags: ['accounts'], summary: 'Who is calling: id, role and (sessions) the CSRF token', security: SECURITY.staff, response: { 200: jsonResponse(meView, 'The caller'), ...errorResponses(401) } } }, async (req) => {
      const p = req.principal!;
      return { id: p.id, name: p.name, role: p.role, tenant: p.tenant, via: p.via, csrf_token: p.csrf };
    });

    const person = (req: FastifyRequest) => {
      if (req.principal!.kind !== 'user') throw badRequest('the admin token is not a person: use the users API');
      return req.principal!.id;
    };

    own.post(
      '/v1/me/password',
      {
        schema: {
          operationId: 'changeMyPassword', tags: ['accounts'], summary: 'Change your password (signs you out everywhere else)', security: SECURITY.staff,
          body: z.strictObject({ current: z.string().max(200).optional().describe('required once a password is set'), password }),
          response: { 204: noContent('Changed'), ...errors },
        },
      },
      async (req, reply) => {
        const id = person(req);
        const me = await app.accounts.require(id);
        if (me.password !== undefined && !(await app.accounts.checkPassword(id, req.body.current ?? ''))) throw badRequest('current: wrong password');
        await app.accounts.setPassword(id, req.body.password, clock());
        await app.audit.record(id, 'user.password', `user:${id}`, {}, clock());
        return reply.code(204).send();
      },
    );

    own.get('/v1/me/tokens', { schema: { operationId: 'listMyTokens', tags: ['accounts'], summary: 'Your personal API tokens (no secrets)', security: SECURITY.staff, response: { 200: jsonResponse(z.array(tokenView), 'Your tokens'), ...errors } } }, async (req) =>
      (await app.accounts.tokens(person(req))).map((t) => ({ ...t, created_at: toIso(t.created_at)!, used_at: toIso(t.used_at) })),
    );

    own.post(
      '/v1/me/tokens',
      {
        schema: {
          operationId: 'createMyToken', tags: ['accounts'], summary: 'Create a personal API token: it acts as you, with your role; the secret is shown only now', security: SECURITY.staff,
          body: z.strictObject({ name: z.string().min(1).max(200).optional() }).nullish(),
          response: { 201: jsonResponse(tokenView.extend({ token: z.string() }), 'Created: `token` is the secret, shown only in this response'), ...errors },
        },
      },
      async (req, reply) => {
        const id = person(req);
        const t = await app.accounts.createToken(id, req.body?.name, clock());
        await app.audit.record(id, 'token.create', `user:${id}`, { after: { id: t.id, name: t.name } }, clock());
        return reply.code(201).send({ id: t.id, name: t.name, created_at: toIso(t.created_at)!, token: t.secret });
      },
    );

    own.delete(
      '/v1/me/tokens/:id',
      { schema: { operationId: 'revokeMyToken', tags: ['accounts'], summary: 'Revoke one of your personal API tokens', security: SECURITY.staff, params: z.object({ id: z.string().max(100) }), response: { 204: noContent('Revoked'), ...errors, ...errorResponses(404) } } },
      async (req, reply) => {
        const id = person(req);
        await app.accounts.revokeToken(id, req.params.id, clock());
        await app.audit.record(id, 'token.revoke', `user:${id}`, { before: { id: req.params.id } }, clock());
        return reply.code(204).send();
      },
    );
  });

  await app.register(async (scope) => {
    const users = typed(scope);
    users.addHook('onRequest', app.requireRole({ read: 'viewer', write: 'admin' }));
    const customerTenant = (role: string | undefined, tenant: string | undefined) => {
      if (role === 'customer' && !tenant) throw badRequest('tenant: a customer account needs its tenant');
      if (tenant !== undefined && role !== 'customer') throw badRequest('tenant: only customer accounts have a tenant');
      if (tenant !== undefined && !app.tenants.get(tenant)) throw badRequest(`tenant: no tenant ${tenant}`);
    };

    users.get('/v1/users', { schema: { operationId: 'listUsers', tags: ['accounts'], summary: 'Users', security: SECURITY.staff, response: { 200: jsonResponse(z.array(userView), 'Every user'), ...errorResponses(401, 403) } } }, async () => (await app.accounts.list()).map(view));

    users.post(
      '/v1/users',
      {
        schema: {
          operationId: 'createUser', tags: ['accounts'], summary: 'Create a user (admin)', security: SECURITY.staff,
          body: z.strictObject({ id: userId, name: z.string().min(1).max(200), email: z.email().max(320).optional(), role: z.enum(ROLES), tenant: z.string().max(100).optional(), password: password.optional() }),
          response: { 201: jsonResponse(userView, 'Created'), ...errors, ...errorResponses(409) },
        },
      },
      async (req, reply) => {
        customerTenant(req.body.role, req.body.tenant);
        const u = await app.accounts.create(req.body, clock());
        await app.audit.record(actorOf(req), 'user.create', `user:${u.id}`, { after: u }, clock());
        return reply.code(201).send(view(u));
      },
    );

    users.patch(
      '/v1/users/:id',
      {
        schema: {
          operationId: 'updateUser', tags: ['accounts'], security: SECURITY.staff, summary: 'Change a user: name, email, role, tenant, or disable (admin); a new role or a disabling signs the user out',
          params: z.object({ id: userId }),
          body: z.strictObject({ name: z.string().min(1).max(200).optional(), email: z.email().max(320).optional(), role: z.enum(ROLES).optional(), tenant: z.string().max(100).optional(), disabled: z.boolean().optional() }),
          response: { 200: jsonResponse(userView, 'Changed'), ...errors, ...errorResponses(404, 409) },
        },
      },
      async (req, reply) => {
        const current = await app.accounts.require(req.params.id);
        customerTenant(req.body.role ?? current.role, req.body.tenant ?? (req.body.role === undefined || req.body.role === 'customer' ? current.tenant : undefined));
        if (req.principal!.id === req.params.id && (req.body.disabled || (req.body.role && req.body.role !== 'admin'))) {
          throw new AppError(409, 'conflict', 'you cannot disable yourself or drop your own admin role (another admin can)');
        }
        const { before, after } = await app.accounts.update(req.params.id, req.body, clock());
        await app.audit.record(actorOf(req), 'user.update', `user:${after.id}`, { before, after }, clock());
        return reply.send(view(after));
      },
    );

    users.post(
      '/v1/users/:id/password',
      {
        schema: {
          operationId: 'setUserPassword', tags: ['accounts'], summary: "Set a user's password (admin); signs the user out everywhere", security: SECURITY.staff,
          params: z.object({ id: userId }), body: z.strictObject({ password }), response: { 204: noContent('Set'), ...errors, ...errorResponses(404) },
        },
      },
      async (req, reply) => {
        await app.accounts.setPassword(req.params.id, req.body.password, clock());
        await app.audit.record(actorOf(req), 'user.password', `user:${req.params.id}`, {}, clock());
        return reply.code(204).send();
      },
    );

    users.get(
      '/v1/audit',
      {
        schema: {
          operationId: 'listAuditEntries', tags: ['accounts'], summary: 'The audit log of configuration changes, newest first', security: SECURITY.staff,
          querystring: z.object({
            before: z.coerce.number().int().positive().optional().describe('entries with ids below this (paging)'),
            limit: z.coerce.number().int().min(1).max(500).default(100),
            target: z.string().max(200).optional().describe('e.g. silence:12, user:anna, tenant:acme'),
            action: z.string().max(100).optional().describe('an action or its prefix, e.g. silence. or user.update'),
          }),
          response: { 200: jsonResponse(z.object({ entries: z.array(auditView), next_before: z.number().int().optional() }), 'A page of entries'), ...errors },
        },
      },
      async (req) => {
        const entries = await app.audit.list(req.query);
        return { entries: entries.map((e) => ({ ...e, at: toIso(e.at)! })), next_before: entries.length === req.query.limit ? entries.at(-1)!.id : undefined };
      },
    );
  });
};

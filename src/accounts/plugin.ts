import cookie from '@fastify/cookie';
import fp from 'fastify-plugin';
import type { Env } from '../config/env.js';
import { Access, type Needs } from './access.js';
import { Accounts } from './accounts.js';
import { AuditLog } from './audit.js';
import { OidcLogin } from './oidc.js';

declare module 'fastify' {
  interface FastifyInstance {
    accounts: Accounts;
    audit: AuditLog;
    access: Access;
    /** `onRequest` hook of a route tree: who may read it and who may change things in it. */
    requireRole(needs: Needs): ReturnType<Access['require']>;
    /** The admin password generated at the first start, to be printed once (server.ts). */
    generatedAdminPassword: string | undefined;
    /** Sign-in through OpenID Connect, when QOSWATCH_OIDC_ISSUER is set. */
    oidc: OidcLogin | undefined;
  }
}

/** Secure cookies need HTTPS, except on localhost, which browsers treat as secure. */
export const sessionCookie = (insecure: boolean) => (insecure ? 'qw_session' : '__Host-qw_session');

/**
 * Accounts (users from the on-call file and the admin API; sessions; personal tokens), the audit log, and the
 * access check every route tree applies once.
 */
export const accountsPlugin = fp<{ env: Env; clock: () => number }>(
  async (app, { env, clock }) => {
    // Cookies are read only where a route needs one (cookieOf): parsing every request's would put a hook on the
    // telemetry path, where no cookie is ever used.
    await app.register(cookie, { hook: false });
    const accounts = new Accounts(app.state, { idleMs: env.QOSWATCH_SESSION_IDLE, maxMs: Math.max(env.QOSWATCH_SESSION_MAX, env.QOSWATCH_SESSION_IDLE) });
    const { generatedPassword } = await accounts.bootstrap(app.oncall.people(), env.QOSWATCH_ADMIN_PASSWORD, clock());
    const access = new Access({ accounts, keys: app.keys, cookie: sessionCookie(env.QOSWATCH_INSECURE_COOKIES), clock });
    app.decorate('accounts', accounts);
    app.decorate('audit', new AuditLog(app.state));
    app.decorate('access', access);
    app.decorate('requireRole', (needs: Needs) => access.require(needs));
    app.decorate('generatedAdminPassword', generatedPassword);
    // Ended sessions are refused anyway; their rows go at start and hourly, so the table holds live ones only.
    const prune = () => app.state.sessions.prune(clock()).catch((err: unknown) => app.log.warn({ err }, 'pruning ended sessions failed'));
    await prune();
    const pruning = setInterval(() => void prune(), 3_600_000).unref();
    app.addHook('onClose', async () => clearInterval(pruning));
    app.decorate(
      'oidc',
      env.QOSWATCH_OIDC_ISSUER
        ? new OidcLogin({
            issuer: new URL(env.QOSWATCH_OIDC_ISSUER), clientId: env.QOSWATCH_OIDC_CLIENT_ID!, clientSecret: env.QOSWATCH_OIDC_CLIENT_SECRET,
            redirectUri: new URL('/v1/auth/oidc/callback', env.QOSWATCH_PUBLIC_URL),
          })
        : undefined,
    );
  },
  { name: 'qoswatch-accounts', dependencies: ['qoswatch-storage', 'qoswatch-tenants', 'qoswatch-oncall'] },
);

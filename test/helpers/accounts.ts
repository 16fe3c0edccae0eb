import { ADMIN_TOKEN } from './app.js';
import { api } from './alerting.js';

/** The console's admin password in tests (QOSWATCH_ADMIN_PASSWORD). */
export const ADMIN_PASSWORD = 'test-admin-password-0123';

/** A signed-in browser, as far as the server can tell: its session cookie and CSRF token. */
export interface Session {
  cookie: string;
  csrf: string;
  setCookie: string;
}

/** Signs in with a password through the API, as the console does. */
export async function signIn(url: string, login: string, password: string, headers: Record<string, string> = {}): Promise<Session> {
  const res = await fetch(`${url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ login, password }) });
  const body = (await res.json()) as { csrf_token?: string; message?: string };
  if (res.status !== 200) throw new Error(`sign-in as ${login} answered ${res.status}: ${body.message}`);
  const setCookie = res.headers.get('set-cookie') ?? '';
  return { cookie: setCookie.split(';')[0]!, csrf: body.csrf_token!, setCookie };
}

/** A request as a signed-in browser: its cookie, and (unless `csrf: false`) its CSRF header on changes. */
export async function asSession(
  url: string, s: Pick<Session, 'cookie' | 'csrf'>, method: string, path: string, body?: unknown, opts: { csrf?: boolean; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { cookie: s.cookie, ...opts.headers };
  if (method !== 'GET' && opts.csrf !== false) headers['x-csrf-token'] = s.csrf;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Creates a user through the admin API (admin token); fails the test unless it is created. */
export async function createUser(url: string, user: { id: string; role: string; password?: string; tenant?: string; name?: string; email?: string }): Promise<void> {
  const r = await api(url, 'POST', '/v1/users', { name: user.id, ...user }, ADMIN_TOKEN);
  if (r.status !== 201) throw new Error(`creating user ${user.id} answered ${r.status}: ${JSON.stringify(r.body)}`);
}

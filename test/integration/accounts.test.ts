import { createHash } from 'node:crypto';
import { type IncomingMessage, get } from 'node:http';
import { describe, expect, it, vi } from 'vitest';
import { ADMIN_TOKEN, type TestApp, appsClosedAfterEach } from '../helpers/app.js';
import { api, send, stallRule, viewers, writeRules } from '../helpers/alerting.js';
import { ADMIN_PASSWORD, asSession, createUser, signIn } from '../helpers/accounts.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Accounts end to end over HTTP: password sign-in, session cookies with CSRF protection, roles on every route tree,
 * personal tokens, the actor of every action, and the audit log.
 */
const T0 = Date.UTC(2030, 0, 7, 12, 0, 0);
let now = T0;
const startClosed = appsClosedAfterEach();
const PASSWORD = 'correct horse battery';

async function start(env: Record<string, string> = {}, dataDir?: string): Promise<TestApp> {
  now = T0;
  return startClosed({ clock: () => now, dataDir, env: { QOSWATCH_ADMIN_PASSWORD: ADMIN_PASSWORD, QOSWATCH_RULES_DIR: writeRules([stallRule({ for: '0s', min_sessions: 0 })]), ...env } });
}

/** Opens an incident in eu-west (a stall storm); its id. */
async function openIncident(t: TestApp): Promise<number> {
  await send(t.url, viewers('eu-west', now, 0.3));
  await t.app.alerting.tick(now);
  const r = await api(t.url, 'GET', '/v1/incidents');
  return r.body.incidents[0].id as number;
}

describe('signing in', () => {
  it('generates the admin password at the first start only, and QOSWATCH_ADMIN_PASSWORD sets it at every start', async () => {
    const dir = tempDir('qoswatch-accounts');
    const first = await startClosed({ dataDir: dir, env: {} });
    const generated = first.app.generatedAdminPassword;
    expect(generated).toMatch(/^[\w-]{16}$/);
    await signIn(first.url, 'admin', generated!);
    await first.close();
    const second = await startClosed({ dataDir: dir, env: {} });
    expect(second.app.generatedAdminPassword).toBeUndefined();
    await signIn(second.url, 'admin', generated!);
    await second.close();
    const third = await startClosed({ dataDir: dir, env: { QOSWATCH_ADMIN_PASSWORD: ADMIN_PASSWORD } });
    await signIn(third.url, 'admin', ADMIN_PASSWORD);
    await expect(signIn(third.url, 'admin', generated!)).rejects.toThrow(/401/);
  });

  it('sets a Secure, HttpOnly, SameSite=Strict __Host- cookie; a wrong password or unknown user is one 401', async () => {
    const t = await start();
    const s = await signIn(t.url, 'admin', ADMIN_PASSWORD);
    expect(s.setCookie).toMatch(/^__Host-qw_session=[\w-]{32};/);
    expect(s.setCookie).toMatch(/; HttpOnly/);
    expect(s.setCookie).toMatch(/; Secure/);
    expect(s.setCookie).toMatch(/; SameSite=Strict/);
    expect(s.setCookie).toMatch(/; Path=\//);
    const me = await asSession(t.url, s, 'GET', '/v1/me');
    expect(me.body).toMatchObject({ id: 'admin', role: 'admin', via: 'session', csrf_token: s.csrf });
    for (const [login, password] of [['admin', 'wrong password!'], ['nobody', PASSWORD]]) {
      const r = await api(t.url, 'POST', '/v1/auth/login', { login, password }, null);
      expect(r).toEqual({ status: 401, body: { error: 'unauthorized', message: 'wrong user or password' } });
    }
    const plain = await start({ QOSWATCH_INSECURE_COOKIES: 'true' });
    const insecure = await signIn(plain.url, 'admin', ADMIN_PASSWORD);
    expect(insecure.setCookie).toMatch(/^qw_session=/);
    expect(insecure.setCookie).not.toMatch(/Secure/);
  });

  it('never adopts a session id planted before sign-in (session fixation), and signing out ends the session', async () => {
    const t = await start();
    const planted = '__Host-qw_session=attacker-chosen-session-id-0123456789';
    const s = await signIn(t.url, 'admin', ADMIN_PASSWORD, { cookie: planted });
    expect(s.cookie).not.toBe(planted);
    expect((await asSession(t.url, { cookie: planted, csrf: s.csrf }, 'GET', '/v1/me')).status).toBe(401);
    expect((await asSession(t.url, s, 'POST', '/v1/auth/logout')).status).toBe(204);
    expect(await asSession(t.url, s, 'GET', '/v1/me')).toMatchObject({ status: 401, body: { message: 'your session has ended: sign in again' } });
  });

  it('ended sessions are refused, and their rows are gone after the next start', async () => {
    const dir = tempDir('qoswatch-accounts');
    const first = await startClosed({ clock: () => now, dataDir: dir, env: { QOSWATCH_ADMIN_PASSWORD: ADMIN_PASSWORD, QOSWATCH_SESSION_IDLE: '1h' } });
    const s = await signIn(first.url, 'admin', ADMIN_PASSWORD);
    const hash = createHash('sha256').update(s.cookie.split('=')[1]!).digest('hex');
    now = T0 + 2 * 3_600_000;
    expect((await asSession(first.url, s, 'GET', '/v1/me')).status).toBe(401);
    expect(await first.app.state.sessions.get(hash, 0)).toBeDefined();
    await first.close();
    const second = await startClosed({ clock: () => now, dataDir: dir, env: { QOSWATCH_ADMIN_PASSWORD: ADMIN_PASSWORD } });
    expect(await second.app.state.sessions.get(hash, 0)).toBeUndefined();
  });

  it('slows password guessing: the 11th attempt within a minute from one address is a 429', async () => {
    const t = await start();
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await api(t.url, 'POST', '/v1/auth/login', { login: 'admin', password: `guess-${i}` }, null)).status);
    expect(statuses).toEqual([...Array(10).fill(401), 429]);
  });

  it('signs in by email when only one user has it; a disabled user cannot sign in and loses its sessions', async () => {
    const t = await start();
    await api(t.url, 'POST', '/v1/users', { id: 'anna', name: 'Anna', email: 'Anna@example.com', role: 'responder', password: PASSWORD });
    const s = await signIn(t.url, 'anna@example.com', PASSWORD);
    expect((await asSession(t.url, s, 'GET', '/v1/me')).body.id).toBe('anna');
    expect((await api(t.url, 'PATCH', '/v1/users/anna', { disabled: true })).status).toBe(200);
    expect((await asSession(t.url, s, 'GET', '/v1/me')).status).toBe(401);
    await expect(signIn(t.url, 'anna', PASSWORD)).rejects.toThrow(/401/);
  });
});

describe('cross-site request forgery', () => {
  it('refuses a change by a session without the CSRF header, with a wrong one, or from a foreign origin; reads need none', async () => {
    const t = await start();
    await createUser(t.url, { id: 'rita', role: 'responder', password: PASSWORD });
    const s = await signIn(t.url, 'rita', PASSWORD);
    const id = await openIncident(t);
    const refused = [
      await asSession(t.url, s, 'POST', `/v1/incidents/${id}/ack`, {}, { csrf: false }),
      await asSession(t.url, { ...s, csrf: 'forged-token' }, 'POST', `/v1/incidents/${id}/ack`, {}),
      await asSession(t.url, s, 'POST', `/v1/incidents/${id}/ack`, {}, { headers: { origin: 'https://evil.example' } }),
      await asSession(t.url, s, 'POST', `/v1/incidents/${id}/ack`, {}, { headers: { 'sec-fetch-site': 'cross-site' } }),
    ];
    for (const r of refused) expect(r).toMatchObject({ status: 403, body: { error: 'csrf' } });
    expect((await api(t.url, 'GET', `/v1/incidents/${id}`)).body.state).toBe('open');
    expect((await asSession(t.url, s, 'GET', `/v1/incidents/${id}`)).status).toBe(200);
    const ok = await asSession(t.url, s, 'POST', `/v1/incidents/${id}/ack`, {}, { headers: { origin: t.url } });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ state: 'acknowledged', acknowledged_by: 'rita' });
  });

  it('refuses a sign-in posted from another origin (login CSRF)', async () => {
    const t = await start();
    await expect(signIn(t.url, 'admin', ADMIN_PASSWORD, { origin: 'https://evil.example' })).rejects.toThrow(/403/);
  });
});

describe('roles', () => {
  it('a viewer reads but cannot act; a responder acts; a customer sees none of the staff API; only admins manage users', async () => {
    const t = await start();
    await createUser(t.url, { id: 'vic', role: 'viewer', password: PASSWORD });
    await createUser(t.url, { id: 'rita', role: 'responder', password: PASSWORD });
    await createUser(t.url, { id: 'cust', role: 'customer', tenant: 'default', password: PASSWORD });
    const [viewer, responder, customer] = await Promise.all(['vic', 'rita', 'cust'].map((u) => signIn(t.url, u, PASSWORD)));
    const id = await openIncident(t);

    expect((await asSession(t.url, viewer!, 'GET', '/v1/incidents')).status).toBe(200);
    expect((await asSession(t.url, viewer!, 'GET', '/v1/oncall/now')).status).toBe(200);
    const denied = await asSession(t.url, viewer!, 'POST', `/v1/incidents/${id}/ack`, {});
    expect(denied).toEqual({ status: 403, body: { error: 'forbidden', message: 'changing this needs the responder role; vic is a viewer' } });
    expect((await asSession(t.url, viewer!, 'POST', '/v1/silences', { matchers: { region: 'eu-west' }, comment: 'x' })).status).toBe(403);

    expect((await asSession(t.url, customer!, 'GET', '/v1/incidents')).status).toBe(403);
    expect((await asSession(t.url, customer!, 'GET', '/v1/me')).body).toMatchObject({ id: 'cust', role: 'customer', tenant: 'default' });

    expect((await asSession(t.url, responder!, 'POST', '/v1/users', { id: 'x', name: 'x', role: 'admin' })).status).toBe(403);
    expect((await asSession(t.url, responder!, 'GET', '/v1/admin/tenants')).status).toBe(403);
    expect((await asSession(t.url, responder!, 'POST', '/v1/admin/rules/reload')).status).toBe(403);
    expect((await asSession(t.url, responder!, 'POST', `/v1/incidents/${id}/ack`, {})).status).toBe(200);
  });

  it('a customer account needs an existing tenant, and only customers have one', async () => {
    const t = await start();
    expect((await api(t.url, 'POST', '/v1/users', { id: 'c', name: 'c', role: 'customer' })).body.message).toBe('tenant: a customer account needs its tenant');
    expect((await api(t.url, 'POST', '/v1/users', { id: 'c', name: 'c', role: 'customer', tenant: 'nope' })).body.message).toBe('tenant: no tenant nope');
    expect((await api(t.url, 'POST', '/v1/users', { id: 'c', name: 'c', role: 'viewer', tenant: 'default' })).body.message).toBe('tenant: only customer accounts have a tenant');
  });

  it('a role change signs the user out; an admin cannot demote or disable itself', async () => {
    const t = await start();
    await createUser(t.url, { id: 'rita', role: 'responder', password: PASSWORD });
    const s = await signIn(t.url, 'rita', PASSWORD);
    await api(t.url, 'PATCH', '/v1/users/rita', { role: 'viewer' });
    expect((await asSession(t.url, s, 'GET', '/v1/me')).status).toBe(401);
    const admin = await signIn(t.url, 'admin', ADMIN_PASSWORD);
    expect((await asSession(t.url, admin, 'PATCH', '/v1/users/admin', { role: 'viewer' })).status).toBe(409);
  });

  it('people of the on-call file are users (responders) without a password until one is set', async () => {
    const t = await start({ QOSWATCH_ONCALL: 'oncall.example.yaml' });
    const users = (await api(t.url, 'GET', '/v1/users')).body as { id: string; role: string; has_password: boolean; source: string }[];
    expect(users.find((u) => u.id === 'anna')).toMatchObject({ role: 'responder', has_password: false, source: 'oncall' });
    await expect(signIn(t.url, 'anna', '')).rejects.toThrow(/400|401/);
    expect((await api(t.url, 'POST', '/v1/users/anna/password', { password: PASSWORD })).status).toBe(204);
    await signIn(t.url, 'anna@example.com', PASSWORD);
  });
});

describe('actors and tokens', () => {
  it('records people as themselves: a personal token acts as its user, a `by` naming someone else is refused', async () => {
    const t = await start();
    await createUser(t.url, { id: 'rita', role: 'responder', password: PASSWORD });
    const s = await signIn(t.url, 'rita', PASSWORD);
    const made = await asSession(t.url, s, 'POST', '/v1/me/tokens', { name: 'laptop' });
    expect(made.status).toBe(201);
    expect(made.body.token).toMatch(/^qwp_/);
    const token = made.body.token as string;
    const id = await openIncident(t);

    const impostor = await api(t.url, 'POST', `/v1/incidents/${id}/comment`, { text: 'hi', by: 'tom' }, token);
    expect(impostor).toEqual({ status: 400, body: { error: 'bad_request', message: 'by: you are signed in as rita; actions are recorded as you (leave "by" out)' } });
    expect((await api(t.url, 'POST', `/v1/incidents/${id}/comment`, { text: 'looking' }, token)).body.actor).toBe('rita');
    // Automation keeps saying on whose behalf it acts.
    expect((await api(t.url, 'POST', `/v1/incidents/${id}/comment`, { text: 'bot', by: 'deploy-bot' }, ADMIN_TOKEN)).body.actor).toBe('deploy-bot');

    const listed = await api(t.url, 'GET', '/v1/me/tokens', undefined, token);
    expect(listed.body).toEqual([expect.objectContaining({ id: made.body.id, name: 'laptop' })]);
    expect(JSON.stringify(listed.body)).not.toContain(token);
    expect((await api(t.url, 'DELETE', `/v1/me/tokens/${made.body.id}`, undefined, token)).status).toBe(204);
    expect(await api(t.url, 'GET', '/v1/me', undefined, token)).toEqual({ status: 401, body: { error: 'unauthorized', message: 'invalid or revoked token' } });
  });

  it('a new password signs the user out everywhere; the old one stops working', async () => {
    const t = await start();
    await createUser(t.url, { id: 'rita', role: 'responder', password: PASSWORD });
    const [a, b] = [await signIn(t.url, 'rita', PASSWORD), await signIn(t.url, 'rita', PASSWORD)];
    expect((await asSession(t.url, a, 'POST', '/v1/me/password', { current: 'wrong', password: 'a new long password' })).body.message).toBe('current: wrong password');
    expect((await asSession(t.url, a, 'POST', '/v1/me/password', { current: PASSWORD, password: 'a new long password' })).status).toBe(204);
    expect((await asSession(t.url, b, 'GET', '/v1/me')).status).toBe(401);
    await expect(signIn(t.url, 'rita', PASSWORD)).rejects.toThrow(/401/);
    await signIn(t.url, 'rita', 'a new long password');
  });

  it('keeps secrets out of the logs: passwords, session cookies, CSRF and personal tokens', async () => {
    const t = await start();
    await createUser(t.url, { id: 'rita', role: 'responder', password: PASSWORD });
    const s = await signIn(t.url, 'rita', PASSWORD);
    const token = (await asSession(t.url, s, 'POST', '/v1/me/tokens', {})).body.token as string;
    await api(t.url, 'GET', '/v1/me', undefined, token);
    await asSession(t.url, s, 'POST', '/v1/auth/logout');
    const logs = t.logs.join('\n');
    for (const secret of [PASSWORD, ADMIN_PASSWORD, s.cookie.split('=')[1]!, s.csrf, token]) expect(logs).not.toContain(secret);
  });
});

describe('audit log', () => {
  it('records configuration changes with actor, before and after: silences, overrides, users, keys, rules reloads', async () => {
    const t = await start();
    await createUser(t.url, { id: 'rita', role: 'responder', password: PASSWORD });
    const s = await signIn(t.url, 'rita', PASSWORD);
    const created = await asSession(t.url, s, 'POST', '/v1/silences', { matchers: { region: 'eu-west' }, comment: 'CDN maintenance' });
    expect(created.body.created_by).toBe('rita');
    await asSession(t.url, s, 'PUT', `/v1/silences/${created.body.id}`, { matchers: { region: 'eu-west' }, comment: 'CDN maintenance, longer' });
    await asSession(t.url, s, 'DELETE', `/v1/silences/${created.body.id}`);
    await api(t.url, 'POST', '/v1/admin/tenants/default/keys', { name: 'web' });
    await api(t.url, 'POST', '/v1/admin/rules/reload');

    const log = (await asSession(t.url, s, 'GET', '/v1/audit')).body.entries as any[];
    expect(log.map((e) => [e.actor, e.action, e.target])).toEqual([
      ['admin', 'rules.reload', 'rules'],
      ['admin', 'key.create', 'tenant:default'],
      ['rita', 'silence.delete', `silence:${created.body.id}`],
      ['rita', 'silence.update', `silence:${created.body.id}`],
      ['rita', 'silence.create', `silence:${created.body.id}`],
      ['admin', 'user.create', 'user:rita'],
    ]);
    expect(log[3].before.comment).toBe('CDN maintenance');
    expect(log[3].after.comment).toBe('CDN maintenance, longer');
    expect(log[4].before).toBeUndefined();
    expect(log[1].after).toMatchObject({ name: 'web', tenant: 'default' });
    expect(JSON.stringify(log)).not.toMatch(/qw_[\w-]{20}/);
    const silencesOnly = await asSession(t.url, s, 'GET', '/v1/audit?action=silence.&limit=2');
    expect(silencesOnly.body.entries.map((e: any) => e.action)).toEqual(['silence.delete', 'silence.update']);
    expect(silencesOnly.body.next_before).toBe(log[3].id);
  });
});

describe('live incident feed', () => {
  it('streams a timeline event for each new entry over server-sent events, signed in by cookie', async () => {
    const t = await start();
    const s = await signIn(t.url, 'admin', ADMIN_PASSWORD);
    // node:http rather than fetch: fetch's pool may open a spare connection that outlives the test.
    const res = await new Promise<IncomingMessage>((resolve) => get(`${t.url}/v1/incidents/live`, { headers: { cookie: s.cookie } }, resolve));
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    res.setEncoding('utf8');
    let text = '';
    res.on('data', (chunk: string) => (text += chunk));
    const until = (re: RegExp) => vi.waitUntil(() => re.test(text), { timeout: 10_000, interval: 20 });
    await until(/: following/);
    const id = await openIncident(t);
    await until(/event: timeline\ndata: \{[^\n]*"kind":"opened"/);
    expect(text).toContain(`"incident_id":${id}`);
    res.destroy();
    expect((await api(t.url, 'GET', '/v1/incidents/live', undefined, null)).status).toBe(401);
  });
});

import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, type TestApp, appsClosedAfterEach } from '../helpers/app.js';
import { api, send, stallRule, viewers, writeRules } from '../helpers/alerting.js';
import { ADMIN_PASSWORD, asSession, createUser, signIn } from '../helpers/accounts.js';
import { waitFor } from '../helpers/ports.js';

/**
 * Customers' status pages over HTTP: a customer account sees its own tenant only, in customer words (no rule, no
 * threshold, no engineer, no internal note); share links the tenant makes and revokes; summary-only links.
 */
const T0 = Date.UTC(2030, 0, 7, 12, 0, 0);
let now = T0;
const PASSWORD = 'customer-password-01';
const startClosed = appsClosedAfterEach();

async function start(): Promise<{ t: TestApp; incident: number; ticket: number }> {
  now = T0;
  const t = await startClosed({
    clock: () => now,
    config: { tenants: [{ id: 'acme', name: 'Acme Live', tier: 'enterprise' }, { id: 'globex', name: 'Globex', tier: 'basic' }] },
    env: { QOSWATCH_ADMIN_PASSWORD: ADMIN_PASSWORD, QOSWATCH_RULES_DIR: writeRules([stallRule({ for: '0s', min_sessions: 0 })]) },
  });
  await createUser(t.url, { id: 'acme-ops', role: 'customer', tenant: 'acme', password: PASSWORD });
  await createUser(t.url, { id: 'globex-ops', role: 'customer', tenant: 'globex', password: PASSWORD });
  await createUser(t.url, { id: 'rita', role: 'responder', password: PASSWORD });
  // acme's stall storm in eu-west (sent with an acme ingest key).
  const key = (await api(t.url, 'POST', '/v1/admin/tenants/acme/keys', {})).body.key as string;
  const r = await fetch(`${t.url}/v1/telemetry`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ samples: viewers('eu-west', now, 0.3) }) });
  expect(r.status).toBe(202);
  await t.app.alerting.tick(now);
  const incident = (await api(t.url, 'GET', '/v1/incidents?tenant=acme')).body.incidents[0].id as number;
  const ticket = await waitFor('the incident`s ticket', async () => (await api(t.url, 'GET', '/v1/tickets?tenant=acme')).body.tickets[0]?.id as number | undefined);
  return { t, incident, ticket };
}

describe('customer status pages', () => {
  it('a customer sees its tenant in customer words, follows the work, and sees customer-visible updates only', async () => {
    const { t, incident, ticket } = await start();
    const rita = await signIn(t.url, 'rita', PASSWORD);
    await asSession(t.url, rita, 'POST', `/v1/tickets/${ticket}/comment`, { text: 'INTERNAL: edge-fra-3 OOM again, blame bob', visibility: 'internal' });
    await asSession(t.url, rita, 'POST', `/v1/tickets/${ticket}/comment`, { text: 'We found the cause and are replacing a server.', visibility: 'customer' });
    now = T0 + 120_000;
    await asSession(t.url, rita, 'POST', `/v1/incidents/${incident}/ack`, {});

    const acme = await signIn(t.url, 'acme-ops', PASSWORD);
    const page = await waitFor('the ack on the status page', async () => {
      const r = await asSession(t.url, acme, 'GET', '/v1/status');
      return r.body.current?.[0]?.phase === 'identified' ? r.body : undefined;
    });
    expect(page.tenant).toEqual({ id: 'acme', name: 'Acme Live' });
    // 30 % stalling is P0 under the rule: an outage.
    expect(page.regions).toEqual([{ region: 'eu-west', status: 'outage' }]);
    expect(page.current).toHaveLength(1);
    const [i] = page.current;
    expect(i).toMatchObject({ title: 'Playback interruptions (buffering) in eu-west', region: 'eu-west', impact: 'outage', phase: 'identified', started_at: new Date(T0).toISOString() });
    expect(i.id).toMatch(/^tk_/);
    expect(i.restore_target).toBeDefined();
    expect(i.updates.map((u: { text: string }) => u.text)).toContain('We found the cause and are replacing a server.');
    const text = JSON.stringify(page);
    for (const secret of ['INTERNAL', 'bob', 'rita', 'stall-ratio', 'stall_ratio', '0.2', 'P0', `"${incident}"`]) expect(text, secret).not.toContain(secret);

    now = T0 + 600_000;
    await asSession(t.url, rita, 'POST', `/v1/incidents/${incident}/resolve`, {});
    const later = await waitFor('the resolution', async () => {
      const r = await asSession(t.url, acme, 'GET', '/v1/status');
      return r.body.history?.length ? r.body : undefined;
    });
    expect(later.current).toEqual([]);
    expect(later.regions).toEqual([{ region: 'eu-west', status: 'operational' }]);
    expect(later.history[0]).toMatchObject({ phase: 'resolved', resolved_at: new Date(T0 + 600_000).toISOString() });
  });

  it('lists the tickets support opened from the customer`s reports, with their customer-visible updates only', async () => {
    const { t } = await start();
    const opened = await api(t.url, 'POST', '/v1/tickets', { tenant: 'acme', title: 'Subtitles missing on the iOS app', priority: 'P3' }, ADMIN_TOKEN);
    const id = opened.body.id as number;
    await api(t.url, 'POST', `/v1/tickets/${id}/comment`, { text: 'INTERNAL: packager bug #4411', visibility: 'internal' }, ADMIN_TOKEN);
    await api(t.url, 'POST', `/v1/tickets/${id}/comment`, { text: 'A fix ships with tonight`s release.', visibility: 'customer' }, ADMIN_TOKEN);
    await api(t.url, 'POST', `/v1/tickets/${id}/state`, { to: 'acknowledged' }, ADMIN_TOKEN);
    await api(t.url, 'POST', '/v1/tickets', { tenant: 'globex', title: 'globex only', priority: 'P3' }, ADMIN_TOKEN);

    const acme = await signIn(t.url, 'acme-ops', PASSWORD);
    const { requests } = (await asSession(t.url, acme, 'GET', '/v1/status')).body;
    expect(requests).toEqual([
      {
        id: opened.body.public_id, title: 'Subtitles missing on the iOS app', status: 'in progress', opened_at: new Date(T0).toISOString(),
        updates: [
          { at: new Date(T0).toISOString(), text: 'We are aware of the problem and are looking into it.' },
          { at: new Date(T0).toISOString(), text: 'A fix ships with tonight`s release.' },
          { at: new Date(T0).toISOString(), text: 'Our team is working on it.' },
        ],
      },
    ]);
  });

  it('a customer sees only its own tenant; staff see any with ?tenant=; a customer cannot use the staff API', async () => {
    const { t } = await start();
    const globex = await signIn(t.url, 'globex-ops', PASSWORD);
    const own = await asSession(t.url, globex, 'GET', '/v1/status');
    expect(own.body).toMatchObject({ tenant: { id: 'globex' }, regions: [], current: [], history: [], requests: [] });
    expect(await asSession(t.url, globex, 'GET', '/v1/status?tenant=acme')).toEqual({ status: 403, body: { error: 'forbidden', message: 'your account follows tenant globex only' } });
    expect((await asSession(t.url, globex, 'GET', '/v1/tickets')).status).toBe(403);
    expect((await asSession(t.url, globex, 'GET', '/v1/incidents/live')).status).toBe(403);
    expect((await api(t.url, 'GET', '/v1/status?tenant=acme', undefined, ADMIN_TOKEN)).body.current).toHaveLength(1);
    expect((await api(t.url, 'GET', '/v1/status?tenant=nope', undefined, ADMIN_TOKEN)).status).toBe(404);
  });

  it('share links: made and revoked by the tenant, opened without an account; a summary-only link shows regions only', async () => {
    const { t } = await start();
    const acme = await signIn(t.url, 'acme-ops', PASSWORD);
    const full = await asSession(t.url, acme, 'POST', '/v1/status/links', { name: 'for our NOC' });
    expect(full.status).toBe(201);
    expect(full.body.path).toBe(`/status/#s=${full.body.secret}`);
    const summary = (await asSession(t.url, acme, 'POST', '/v1/status/links', { name: 'public', summary_only: true })).body;

    const open = (secret: string) => api(t.url, 'GET', '/v1/status/shared', undefined, secret);
    expect((await open(full.body.secret)).body).toMatchObject({ tenant: { id: 'acme' }, current: [expect.objectContaining({ phase: 'investigating' })] });
    const pub = (await open(summary.secret)).body;
    expect(pub).toEqual({ tenant: { id: 'acme', name: 'Acme Live' }, regions: [{ region: 'eu-west', status: 'outage' }], generated_at: expect.any(String) });

    const listed = (await asSession(t.url, acme, 'GET', '/v1/status/links')).body;
    expect(listed.map((l: { name: string }) => l.name)).toEqual(['for our NOC', 'public']);
    expect(JSON.stringify(listed)).not.toContain(full.body.secret);
    // Another tenant cannot see or revoke acme's links.
    const globex = await signIn(t.url, 'globex-ops', PASSWORD);
    expect((await asSession(t.url, globex, 'DELETE', `/v1/status/links/${full.body.id}`)).status).toBe(404);
    expect((await asSession(t.url, acme, 'DELETE', `/v1/status/links/${full.body.id}`)).status).toBe(204);
    expect(await open(full.body.secret)).toEqual({ status: 401, body: { error: 'unauthorized', message: 'this share link is unknown or was revoked' } });
    expect((await open('qws_guess')).status).toBe(401);
    expect((await open(ADMIN_TOKEN)).status).toBe(401);

    const audit = (await api(t.url, 'GET', '/v1/audit?action=share_link.')).body.entries;
    expect(audit.map((e: { actor: string; action: string }) => [e.actor, e.action])).toEqual([['acme-ops', 'share_link.revoke'], ['acme-ops', 'share_link.create'], ['acme-ops', 'share_link.create']]);
    expect(t.logs.join('\n')).not.toContain(summary.secret);
  });

  it('staff below admin cannot manage a tenant`s links', async () => {
    const { t } = await start();
    const rita = await signIn(t.url, 'rita', PASSWORD);
    expect((await asSession(t.url, rita, 'POST', '/v1/status/links?tenant=acme', {})).status).toBe(403);
    expect((await api(t.url, 'POST', '/v1/status/links?tenant=acme', {}, ADMIN_TOKEN)).status).toBe(201);
  });
});

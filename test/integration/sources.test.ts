import { readFileSync } from 'node:fs';
import { beforeEach, describe, expect, it } from 'vitest';
import { api, incidents } from '../helpers/alerting.js';
import { ADMIN_PASSWORD, asSession, createUser, signIn } from '../helpers/accounts.js';
import { type TestApp, appsClosedAfterEach } from '../helpers/app.js';
import { OPS_HOOK, pagingFixtureEnv, timeline, useLoopbackServers } from '../helpers/paging.js';
import { waitFor } from '../helpers/ports.js';
import { json } from '../helpers/receiver.js';

/**
 * Alert sources end to end in one process: payload fixtures of Alertmanager, Grafana, PagerDuty Events v2 and a
 * generic webhook become alerts on incidents that page through the real pager (a loopback receiver), deduplicated
 * by fingerprint; resolves mitigate; heartbeats fire when missed. The real Alertmanager is in
 * alertmanager-process.test.ts.
 */
const M = 60_000;
const T0 = Date.UTC(2030, 0, 7, 12, 0, 0);
let now = T0;
const { receiver } = useLoopbackServers();
const startClosed = appsClosedAfterEach();
beforeEach(() => {
  now = T0;
});
const fixture = (name: string): unknown => JSON.parse(readFileSync(`test/fixtures/sources/${name}`, 'utf8'));

async function start(): Promise<TestApp> {
  return startClosed({ clock: () => now, env: { ...pagingFixtureEnv(receiver), QOSWATCH_ADMIN_PASSWORD: ADMIN_PASSWORD }, config: { tenants: [{ id: 'acme', tier: 'strategic' }] } });
}

async function createSource(t: TestApp, body: Record<string, unknown>): Promise<{ id: string; secret: string; endpoint: string }> {
  const r = await api(t.url, 'POST', '/v1/sources', body);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return { id: r.body.source.id, secret: r.body.secret, endpoint: r.body.source.endpoint };
}

async function post(t: TestApp, path: string, body: unknown, secret: string | null, query = ''): Promise<{ status: number; body: any }> {
  const r = await fetch(`${t.url}${path}${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(secret !== null && { authorization: `Bearer ${secret}` }) },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}

const pages = () => receiver.to(OPS_HOOK).map((r) => json(r));

describe('Alertmanager webhook', () => {
  it('a firing group opens an incident per region that pages; repeats change nothing; resolved mitigates', async () => {
    const t = await start();
    const am = await createSource(t, { name: 'prom', kind: 'alertmanager', mapping: { tenant: 'acme' } });
    expect(am.endpoint).toBe(`/v1/sources/${am.id}/alerts`);

    const r = await post(t, am.endpoint, fixture('alertmanager-firing.json'), am.secret);
    expect(r).toEqual({ status: 202, body: { accepted: 2, rejected: [], incidents: [1] } });
    const [inc] = await incidents(t.url);
    // Both alerts are of eu-west: one incident, at the most severe alert's priority (critical → P1, warning → P3).
    expect(inc).toMatchObject({ id: 1, tenant: 'acme', region: 'eu-west', priority: 'P1', state: 'open', title: 'Origin origin-1 is down' });
    const detail = (await api(t.url, 'GET', '/v1/incidents/1')).body;
    expect(detail.alerts.map((a: any) => [a.rule, a.group, a.priority, a.firing])).toEqual([
      ['source:prom', '5f3d4c1a2b9e8d7c', 'P1', true],
      ['source:prom', '9a8b7c6d5e4f3a2b', 'P3', true],
    ]);
    expect(detail.alerts[0].trigger.external).toMatchObject({ source: 'prom', kind: 'alertmanager', summary: 'Origin origin-1 is down', runbook: 'https://runbooks.example.test/origin-down' });

    await t.app.pager.tick();
    await waitFor('alice`s page', () => pages().find((p) => p.mention === 'U-alice'));
    const page = pages().find((p) => p.mention === 'U-alice');
    expect(page.incident).toMatchObject({ id: 1, priority: 'P1', title: 'P1 eu-west: Origin origin-1 is down', runbook: 'https://runbooks.example.test/origin-down' });
    expect(page.incident.text).toContain('source:prom: Origin origin-1 is down');

    // Alertmanager repeats a group every repeat_interval: nothing new on the incident.
    const entries = (await timeline(t.url, 1)).length;
    now += M;
    expect((await post(t, am.endpoint, fixture('alertmanager-firing.json'), am.secret)).body).toEqual({ accepted: 2, rejected: [], incidents: [] });
    expect((await timeline(t.url, 1)).length).toBe(entries);

    now += M;
    expect((await post(t, am.endpoint, fixture('alertmanager-resolved.json'), am.secret)).body).toMatchObject({ accepted: 2, incidents: [1] });
    expect((await incidents(t.url))[0]).toMatchObject({ id: 1, state: 'mitigated' });
    const kinds = (await timeline(t.url, 1)).map((e) => e.kind);
    expect(kinds.filter((k) => k === 'alert_cleared')).toHaveLength(2);
    expect(kinds).toContain('mitigated');

    // Firing again later is a new firing of the same alerts (the incident reopens: within the reopen window).
    now += M;
    await post(t, am.endpoint, fixture('alertmanager-firing.json'), am.secret);
    expect((await incidents(t.url))[0]).toMatchObject({ id: 1, state: 'open' });
    const m = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${t.env.QOSWATCH_ADMIN_TOKEN}` } }).then((x) => x.text());
    expect(m).toMatch(/qoswatch_source_alerts_total\{kind="alertmanager",outcome="fired"\} 4/);
    expect(m).toMatch(/qoswatch_source_alerts_total\{kind="alertmanager",outcome="unchanged"\} 2/);
  });

  it('refuses senders without the source`s secret, reads ?token=, and never logs it', async () => {
    const t = await start();
    const am = await createSource(t, { name: 'prom', kind: 'alertmanager' });
    const other = await createSource(t, { name: 'other', kind: 'alertmanager' });
    const body = fixture('alertmanager-firing.json');
    expect(await post(t, am.endpoint, body, null)).toMatchObject({ status: 401, body: { error: 'unauthorized', message: expect.stringContaining('missing source secret') } });
    expect((await post(t, am.endpoint, body, 'f'.repeat(32))).status).toBe(401);
    // Another source's secret does not open this one.
    expect((await post(t, am.endpoint, body, other.secret)).status).toBe(401);
    expect((await post(t, am.endpoint, body, null, `?token=${am.secret}`)).status).toBe(202);
    expect(t.logs.join('\n')).not.toContain(am.secret);
    expect(JSON.stringify((await api(t.url, 'GET', '/v1/sources')).body)).not.toContain(am.secret);
  });

  it('a stranger guessing secrets is limited per secret presented, and never uses up the real source`s allowance', async () => {
    const t = await start();
    const am = await createSource(t, { name: 'prom', kind: 'alertmanager' });
    const guess = () => post(t, am.endpoint, { alerts: [] }, 'f'.repeat(32));
    const answers: number[] = [];
    for (let i = 0; i < 600; i += 50) answers.push(...(await Promise.all(Array.from({ length: 50 }, () => guess()))).map((r) => r.status));
    expect(new Set(answers)).toEqual(new Set([401]));
    const limited = await fetch(`${t.url}${am.endpoint}`, { method: 'POST', headers: { authorization: `Bearer ${'f'.repeat(32)}`, 'content-type': 'application/json' }, body: '{"alerts": []}' });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await post(t, am.endpoint, { alerts: [] }, am.secret)).status).toBe(202);
  });

  it('a malformed payload is a 400 naming the field; alerts of unknown tenants are refused one by one', async () => {
    const t = await start();
    const am = await createSource(t, { name: 'prom', kind: 'alertmanager' });
    expect(await post(t, am.endpoint, { alerts: [{ status: 'burning', labels: {} }] }, am.secret)).toEqual({
      status: 400, body: { error: 'bad_request', message: expect.stringMatching(/^alerts\[0\]\.status: /) },
    });
    const one = (tenant: string, fp: string) => ({ status: 'firing', labels: { alertname: 'X', tenant }, fingerprint: fp });
    expect(await post(t, am.endpoint, { alerts: [one('nobody', 'a')] }, am.secret)).toEqual({
      status: 422, body: { accepted: 0, incidents: [], rejected: [{ fingerprint: 'a', error: 'tenant "nobody" is not a tenant here' }] },
    });
    expect((await post(t, am.endpoint, { alerts: [one('nobody', 'a'), one('acme', 'b')] }, am.secret)).body).toMatchObject({ accepted: 1, incidents: [1] });
    expect((await incidents(t.url))[0]).toMatchObject({ tenant: 'acme', priority: 'P2' });
  });

  it('a source fires at most max_firing alerts at once', async () => {
    const t = await start();
    const am = await createSource(t, { name: 'prom', kind: 'alertmanager', mapping: { max_firing: 2 } });
    const alerts = ['a', 'b', 'c'].map((fp) => ({ status: 'firing', labels: { alertname: fp }, fingerprint: fp }));
    const r = await post(t, am.endpoint, { alerts }, am.secret);
    expect(r.body.accepted).toBe(2);
    expect(r.body.rejected).toEqual([{ fingerprint: 'c', error: 'source prom has 2 alerts firing already (mapping.max_firing)' }]);
  });

  it('silences match the source as the rule; deleting the source clears its alerts', async () => {
    const t = await start();
    const am = await createSource(t, { name: 'prom', kind: 'alertmanager' });
    const s = await api(t.url, 'POST', '/v1/silences', { matchers: { rule: 'source:prom' }, ends_at: new Date(now + 60 * M).toISOString(), comment: 'planned origin work' });
    expect(s.status, JSON.stringify(s.body)).toBe(201);
    await post(t, am.endpoint, fixture('alertmanager-firing.json'), am.secret);
    expect((await incidents(t.url))[0]).toMatchObject({ silenced: true });
    expect((await api(t.url, 'DELETE', `/v1/sources/${am.id}`)).status).toBe(204);
    expect((await incidents(t.url))[0]).toMatchObject({ state: 'mitigated' });
    expect((await post(t, am.endpoint, fixture('alertmanager-firing.json'), am.secret)).status).toBe(401);
  });
});

describe('Grafana and the generic webhook', () => {
  it("Grafana's contact point fires with the panel as the link", async () => {
    const t = await start();
    const g = await createSource(t, { name: 'grafana', kind: 'grafana', mapping: { tenant: 'acme' } });
    expect((await post(t, g.endpoint, fixture('grafana-firing.json'), g.secret)).body).toMatchObject({ accepted: 1, incidents: [1] });
    const detail = (await api(t.url, 'GET', '/v1/incidents/1')).body;
    expect(detail).toMatchObject({ tenant: 'acme', region: 'ap-south', priority: 'P2', title: 'cdn-a answers 7% 5xx in ap-south' });
    expect(detail.alerts[0].trigger.external.url).toBe('https://grafana.example.test/d/cdn?viewPanel=4');
  });

  it('a generic webhook maps its fields; a bad mapping is refused at creation', async () => {
    const t = await start();
    const bad = await api(t.url, 'POST', '/v1/sources', { name: 'bad', kind: 'webhook', settings: { fingerprint: 'a..b' } });
    expect(bad).toMatchObject({ status: 400, body: { message: expect.stringMatching(/^settings\.fingerprint: must be a field path/) } });
    const w = await createSource(t, { name: 'zabbix', kind: 'webhook', settings: { fingerprint: 'event.id', status: 'event.status', summary: 'event.name', labels: { region: 'host.dc', severity: 'event.severity' } } });
    const event = (status: string) => ({ event: { id: 4242, status, name: 'Packager queue full', severity: 'critical' }, host: { dc: 'us-east' } });
    expect((await post(t, w.endpoint, event('PROBLEM'), w.secret)).body).toMatchObject({ accepted: 1, incidents: [1] });
    expect((await incidents(t.url))[0]).toMatchObject({ region: 'us-east', priority: 'P1', title: 'Packager queue full', state: 'open' });
    expect((await post(t, w.endpoint, event('RESOLVED'), w.secret)).body).toMatchObject({ incidents: [1] });
    expect((await incidents(t.url))[0]).toMatchObject({ state: 'mitigated' });
    expect(await post(t, w.endpoint, event('SLEEPY'), w.secret)).toMatchObject({ status: 400, body: { message: expect.stringContaining('event.status: "sleepy" is none of') } });
  });
});

describe('PagerDuty Events API v2', () => {
  it('trigger, acknowledge and resolve round-trip with PagerDuty`s answers', async () => {
    const t = await start();
    const pd = await createSource(t, { name: 'pd', kind: 'pagerduty', mapping: { tenant: 'acme' } });
    expect(pd.endpoint).toBe('/v2/enqueue');
    expect(pd.secret).toMatch(/^[0-9a-f]{32}$/);
    const event = (action: string, extra: Record<string, unknown> = {}) => ({ routing_key: pd.secret, event_action: action, dedup_key: 'edge-9/disk', ...extra });
    const trigger = event('trigger', { payload: { summary: 'Disk full on edge-9', source: 'edge-9', severity: 'critical', custom_details: { region: 'eu-west' } } });

    expect(await post(t, '/v2/enqueue', trigger, null)).toEqual({ status: 202, body: { status: 'success', message: 'Event processed', dedup_key: 'edge-9/disk' } });
    expect((await incidents(t.url))[0]).toMatchObject({ id: 1, region: 'eu-west', priority: 'P1', state: 'open' });
    await t.app.pager.tick();
    await waitFor('a page', () => pages().find((p) => p.incident.id === 1));
    // A ticket with SLA clocks, as for the rules' incidents.
    const ticket = await waitFor('the ticket', async () => (await api(t.url, 'GET', '/v1/tickets')).body.tickets.find((x: any) => x.incident_id === 1));
    expect(ticket).toMatchObject({ tenant: 'acme', priority: 'P1', state: 'new' });

    now += M;
    expect((await post(t, '/v2/enqueue', event('acknowledge'), null)).status).toBe(202);
    expect((await incidents(t.url))[0]).toMatchObject({ state: 'acknowledged', acknowledged_by: 'source:pd' });
    now += M;
    expect((await post(t, '/v2/enqueue', event('resolve'), null)).status).toBe(202);
    expect((await incidents(t.url))[0]).toMatchObject({ state: 'mitigated' });

    // Without a dedup_key, one is made and returned (as PagerDuty does).
    const made = await post(t, '/v2/enqueue', { ...trigger, dedup_key: undefined }, null);
    expect(made.body.dedup_key).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('invalid events and unknown routing keys get PagerDuty-shaped errors', async () => {
    const t = await start();
    const pd = await createSource(t, { name: 'pd', kind: 'pagerduty' });
    const am = await createSource(t, { name: 'am', kind: 'alertmanager' });
    expect(await post(t, '/v2/enqueue', { routing_key: pd.secret, event_action: 'resolve' }, null)).toEqual({
      status: 400, body: { status: 'invalid event', message: 'dedup_key: resolve needs the dedup_key of the alert', errors: ['dedup_key: resolve needs the dedup_key of the alert'], error: 'bad_request' },
    });
    expect(await post(t, '/v2/enqueue', { routing_key: 'nope', event_action: 'trigger' }, null)).toMatchObject({ status: 401, body: { status: 'invalid event', error: 'unauthorized' } });
    expect(await post(t, '/v2/enqueue', { routing_key: am.secret, event_action: 'resolve', dedup_key: 'x' }, null)).toMatchObject({ status: 401, body: { message: expect.stringContaining('alertmanager source') } });
  });
});

describe('heartbeats', () => {
  it('a missed heartbeat opens an incident; the next ping (GET with ?token= or POST) clears it', async () => {
    const t = await start();
    const hb = await createSource(t, { name: 'nightly-vod-export', kind: 'heartbeat', mapping: { tenant: 'acme', priority: 'P1' }, settings: { period: '5m', grace: '1m' } });
    expect(hb.endpoint).toBe(`/v1/sources/${hb.id}/ping`);
    const since = now;
    now += 5 * M;
    await t.app.sources.checkHeartbeats(now, since);
    expect(await incidents(t.url)).toEqual([]);
    const ping = await fetch(`${t.url}${hb.endpoint}?token=${hb.secret}`);
    expect(await ping.json()).toEqual({ ok: true, incidents: [] });

    now += 6 * M + 1;
    await t.app.sources.checkHeartbeats(now, since);
    const [inc] = await incidents(t.url);
    expect(inc).toMatchObject({ tenant: 'acme', priority: 'P1', state: 'open' });
    expect(inc.title).toBe(`no heartbeat from nightly-vod-export: none since ${new Date(T0 + 5 * M).toISOString()} (expected every 5m, 1m grace)`);
    // Checked again while firing: still one alert.
    await t.app.sources.checkHeartbeats(now + M, since);
    expect((await api(t.url, 'GET', `/v1/incidents/${inc.id}`)).body.alerts).toHaveLength(1);

    now += M;
    expect(await post(t, hb.endpoint, {}, hb.secret)).toEqual({ status: 200, body: { ok: true, incidents: [inc.id] } });
    expect((await incidents(t.url))[0]).toMatchObject({ state: 'mitigated' });
    // A heartbeat takes pings, not alerts.
    expect((await post(t, `/v1/sources/${hb.id}/alerts`, { alerts: [] }, hb.secret)).status).toBe(400);
  });

  it('qoswatch`s own downtime is not a missed heartbeat: the watch counts from its start', async () => {
    const t = await start();
    await createSource(t, { name: 'job', kind: 'heartbeat', settings: { period: '1m', grace: '30s' } });
    now += 60 * M;
    await t.app.sources.checkHeartbeats(now, now - 10_000);
    expect(await incidents(t.url)).toEqual([]);
  });
});

describe('managing sources', () => {
  it('admins create, change, rotate and delete (audited); viewers read; secrets are shown once', async () => {
    const t = await start();
    const s = await createSource(t, { name: 'prom', kind: 'alertmanager' });
    expect((await api(t.url, 'POST', '/v1/sources', { name: 'prom', kind: 'grafana' })).status).toBe(409);
    expect((await api(t.url, 'POST', '/v1/sources', { name: 'Bad Name', kind: 'grafana' })).body.message).toMatch(/^body\.name: use 1-63 characters/);
    expect((await api(t.url, 'POST', '/v1/sources', { name: 'x', kind: 'alertmanager', mapping: { tenant: 'ghost' } })).body.message).toBe('mapping: tenant "ghost" is not a tenant here');
    const patched = await api(t.url, 'PATCH', `/v1/sources/${s.id}`, { mapping: { tenant: 'acme', priority: 'P1' } });
    expect(patched.body.mapping).toMatchObject({ tenant: 'acme', priority: 'P1' });
    const rotated = await api(t.url, 'POST', `/v1/sources/${s.id}/secret`);
    expect(rotated.body.secret).not.toBe(s.secret);
    expect((await post(t, s.endpoint, { alerts: [] }, s.secret)).status).toBe(401);
    expect((await post(t, s.endpoint, { alerts: [] }, rotated.body.secret)).status).toBe(202);

    await createUser(t.url, { id: 'vic', role: 'viewer', password: 'vic-password-0123' });
    const vic = await signIn(t.url, 'vic', 'vic-password-0123');
    expect((await asSession(t.url, vic, 'GET', '/v1/sources')).body.sources.map((x: any) => x.name)).toEqual(['prom']);
    expect((await asSession(t.url, vic, 'POST', '/v1/sources', { name: 'y', kind: 'grafana' })).status).toBe(403);
    const audit = (await api(t.url, 'GET', '/v1/audit')).body.entries.map((e: any) => e.action);
    expect(audit).toEqual(expect.arrayContaining(['source.create', 'source.update', 'source.rotate_secret']));
    expect(JSON.stringify((await api(t.url, 'GET', '/v1/audit')).body)).not.toContain(rotated.body.secret);
  });
});

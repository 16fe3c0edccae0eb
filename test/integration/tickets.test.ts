import { readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { z } from 'zod';
import { describe, expect, it } from 'vitest';
import type { fileConfigSchema } from '../../src/config/file.js';
import { sha256 } from '../../src/tenants/keys.js';
import { api, incidents, stallRule, viewers, writeRules } from '../helpers/alerting.js';
import { ADMIN_TOKEN, INGEST_KEY, type TestApp, appsClosedAfterEach, postTelemetry } from '../helpers/app.js';
import { burstWhenSaturated } from '../helpers/loop.js';
import { waitFor } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Tickets in the real app (real SQLite, telemetry over HTTP, injected clock): a stall storm of a strategic tenant
 * opens an incident and its ticket with SLA clocks; the incident's ack stops the response clock; the support API
 * (manual tickets, moves, pauses, priority, assignee, comments) and each tenant's read-only view with its own key.
 * Clocks are computed when read, so moving `now` and reading is exact — no sleeps.
 */

const M = 60_000;
const H = 60 * M;
/** Far from the real clock, so nothing depends on it. */
const T0 = Date.UTC(2030, 0, 7, 12, 0, 0);
const iso = (offset: number) => new Date(T0 + offset).toISOString();

const ACME_KEY = 'acme-ingest-key-0123456789';
const GLOBEX_KEY = 'globex-ingest-key-0123456789';
/** acme: strategic (P0 15 min / 1 h / 24 h). globex: basic. `default` (INGEST_KEY) is a third tenant. */
const CONFIG: z.input<typeof fileConfigSchema> = {
  tenants: [
    { id: 'acme', name: 'ACME Live', tier: 'strategic', timezone: 'Asia/Shanghai', ingest_keys: [{ id: 'acme-sdk', sha256: sha256(ACME_KEY) }] },
    { id: 'globex', tier: 'basic', timezone: 'Europe/Berlin', ingest_keys: [{ id: 'globex-sdk', sha256: sha256(GLOBEX_KEY) }] },
  ],
};

let now = T0;
const startClosed = appsClosedAfterEach();
async function start(): Promise<TestApp> {
  now = T0;
  // P0 above 20 % stall at once; clear_for long enough that nothing auto-mitigates while the clock jumps ahead.
  const rules = writeRules([stallRule({ for: '0s', min_sessions: 0, clear_for: '6h' })]);
  return startClosed({ clock: () => now, config: CONFIG, env: { QOSWATCH_RULES_DIR: rules } });
}

/** Moves the clock to T0 + `offset`, sends acme's viewers of eu-west stalling `ratio` with acme's key, evaluates once. */
async function storm(t: TestApp, offset: number, ratio = 0.25): Promise<void> {
  now = T0 + offset;
  const r = await postTelemetry(t.url, { samples: viewers('eu-west', now, ratio) }, { authorization: `Bearer ${ACME_KEY}` });
  expect(r.status).toBe(202);
  await t.app.alerting.tick(now);
}

/** An admin call that must answer `status`; returns the body. */
async function call(t: TestApp, method: string, path: string, body: unknown, status: number): Promise<any> {
  const r = await api(t.url, method, path, body);
  expect(r.status, `${method} ${path} ${JSON.stringify(r.body)}`).toBe(status);
  return r.body;
}
const ticket = (t: TestApp, id: number) => call(t, 'GET', `/v1/tickets/${id}`, undefined, 200);
const move = (t: TestApp, id: number, body: Record<string, unknown>, status = 200) => call(t, 'POST', `/v1/tickets/${id}/state`, body, status);
const openTicket = (t: TestApp, body: Record<string, unknown>) => call(t, 'POST', '/v1/tickets', { title: 'viewers report black screens', priority: 'P2', ...body }, 201);
/** One SLA clock of a ticket view. */
const clock = (view: { sla: { target: string }[] }, target: string): any => view.sla.find((c) => c.target === target);
const eventKinds = (view: { events: { kind: string }[] }) => view.events.map((e) => e.kind);

describe('incident → ticket', () => {
  /** A storm of acme in eu-west → one P0 incident at T0; returns its id. */
  async function p0Incident(t: TestApp): Promise<number> {
    await storm(t, 0);
    const list = await incidents(t.url);
    expect(list).toEqual([expect.objectContaining({ tenant: 'acme', region: 'eu-west', priority: 'P0', opened_at: iso(0) })]);
    return list[0].id;
  }
  /** The one ticket of the incident. */
  async function ticketOf(t: TestApp, incidentId: number): Promise<any> {
    const { tickets } = await call(t, 'GET', '/v1/tickets', undefined, 200);
    expect(tickets.filter((x: { incident_id?: number }) => x.incident_id === incidentId)).toHaveLength(1);
    return ticket(t, tickets.find((x: { incident_id?: number }) => x.incident_id === incidentId).id);
  }

  it('a strategic tenant\'s stall storm opens exactly one ticket with the incident\'s priority and SLA clocks; no ack → breached at 15 min', async () => {
    const t = await start();
    const incidentId = await p0Incident(t);
    for (const s of [10_000, 20_000, 30_000]) await storm(t, s);

    const { tickets } = await call(t, 'GET', '/v1/tickets', undefined, 200);
    expect(tickets).toHaveLength(1);
    const view = await ticket(t, tickets[0].id);
    expect(view).toMatchObject({ tenant: 'acme', incident_id: incidentId, priority: 'P0', state: 'new', opened_at: iso(0) });
    expect(view.title).toContain('eu-west');
    expect(view.sla).toEqual([
      { target: 'response', target_ms: 15 * M, calendar: '24x7', elapsed_ms: 30_000, running: true, warn_at: iso(12 * M), due_at: iso(15 * M), breached: false },
      { target: 'restore', target_ms: H, calendar: '24x7', elapsed_ms: 30_000, running: true, warn_at: iso(48 * M), due_at: iso(H), breached: false },
      { target: 'resolve', target_ms: 24 * H, calendar: '24x7', elapsed_ms: 30_000, running: true, warn_at: iso(0.8 * 24 * H), due_at: iso(24 * H), breached: false },
    ]);
    expect(view.events).toEqual([expect.objectContaining({ kind: 'opened', actor: 'qoswatch', visibility: 'customer', at: iso(0), data: expect.objectContaining({ priority: 'P0', incident: incidentId }) })]);

    now = T0 + 15 * M - 1;
    expect(clock(await ticket(t, view.id), 'response')).toMatchObject({ breached: false, running: true });
    now = T0 + 15 * M;
    expect(clock(await ticket(t, view.id), 'response')).toMatchObject({ breached: true, running: true, elapsed_ms: 15 * M });
    expect(clock(await ticket(t, view.id), 'restore')).toMatchObject({ breached: false });
    expect((await incidents(t.url))[0]).toMatchObject({ id: incidentId, state: 'open' });
  });

  it('acknowledging the incident stops the ticket\'s response clock in time; mitigating it stops restore', async () => {
    const t = await start();
    const incidentId = await p0Incident(t);
    now = T0 + 10 * M;
    await call(t, 'POST', `/v1/incidents/${incidentId}/ack`, { by: 'carol' }, 200);
    let view = await ticketOf(t, incidentId);
    expect(view.state).toBe('acknowledged');
    expect(view.events.at(-1)).toMatchObject({ kind: 'state_changed', actor: 'carol', at: iso(10 * M), data: { from: 'new', to: 'acknowledged' } });

    now = T0 + 30 * M; // past the 15 min target: stopped in time, so not breached
    view = await ticket(t, view.id);
    expect(clock(view, 'response')).toEqual(expect.objectContaining({ running: false, stopped_at: iso(10 * M), elapsed_ms: 10 * M, breached: false }));
    expect(clock(view, 'restore')).toMatchObject({ running: true, elapsed_ms: 30 * M });

    now = T0 + 40 * M;
    await call(t, 'POST', `/v1/incidents/${incidentId}/mitigate`, { by: 'carol' }, 200);
    now = T0 + 2 * H;
    view = await ticket(t, view.id);
    expect(view.state).toBe('mitigated');
    expect(clock(view, 'restore')).toMatchObject({ running: false, stopped_at: iso(40 * M), breached: false });
    expect(clock(view, 'resolve')).toMatchObject({ running: true });
  });
});

describe('the tickets API', () => {
  it('opens a ticket by hand (201), 404 for an unknown tenant, 400 naming the bad fields', async () => {
    const t = await start();
    now = T0 + 5 * M;
    const created = await openTicket(t, { tenant: 'acme', priority: 'P1', note: 'customer called', by: 'dora' });
    expect(created).toMatchObject({ tenant: 'acme', priority: 'P1', state: 'new', opened_at: iso(5 * M), title: 'viewers report black screens' });
    expect(created.incident_id).toBeUndefined();
    expect(clock(created, 'response')).toMatchObject({ target_ms: 30 * M, due_at: iso(35 * M), running: true });
    expect((await ticket(t, created.id)).events).toEqual([expect.objectContaining({ kind: 'opened', actor: 'dora', data: expect.objectContaining({ note: 'customer called', priority: 'P1' }) })]);

    const unknown = await api(t.url, 'POST', '/v1/tickets', { tenant: 'initech', title: 'x', priority: 'P1' });
    expect(unknown).toMatchObject({ status: 404, body: { error: 'not_found', message: expect.stringContaining('initech') } });
    const bad = await api(t.url, 'POST', '/v1/tickets', { tenant: 'acme', priority: 'P9', extra: 1 });
    expect(bad.status).toBe(400);
    for (const field of ['title', 'priority', 'extra']) expect(bad.body.message).toContain(field);
    expect((await call(t, 'GET', '/v1/tickets', undefined, 200)).tickets).toHaveLength(1);
    await call(t, 'GET', '/v1/tickets/999999', undefined, 404);
  });

  it('moves through the lifecycle with 409s for moves the state does not allow, and a root cause for P0/P1', async () => {
    const t = await start();
    const { id } = await openTicket(t, { tenant: 'acme', priority: 'P1' });
    now = T0 + 10 * M;
    expect(await move(t, id, { to: 'acknowledged', by: 'erin' })).toMatchObject({ state: 'acknowledged', updated_at: iso(10 * M) });
    const again = await move(t, id, { to: 'acknowledged' }, 409);
    expect(again).toMatchObject({ error: 'conflict', message: expect.stringContaining('acknowledged') });
    await move(t, id, { to: 'new' }, 409);
    await move(t, id, { to: 'resume' }, 409);
    await move(t, id, { to: 'mitigated' });
    const noCause = await move(t, id, { to: 'resolved' }, 400);
    expect(noCause.message).toContain('root_cause');
    expect((await ticket(t, id)).state).toBe('mitigated');
    expect(await move(t, id, { to: 'resolved', root_cause: 'edge cache eviction storm' })).toMatchObject({ state: 'resolved', root_cause: 'edge cache eviction storm' });
    await move(t, id, { to: 'closed' });
    for (const to of ['new', 'acknowledged', 'mitigated', 'resolved', 'waiting_on_customer']) await move(t, id, { to }, 409);
    await move(t, id, { to: 'sideways' }, 400);
    await move(t, 999_999, { to: 'acknowledged' }, 404);
    const view = await ticket(t, id);
    expect(view.events.filter((e: { kind: string }) => e.kind === 'state_changed').map((e: { data: { to: string } }) => e.data.to)).toEqual(['acknowledged', 'mitigated', 'resolved', 'closed']);
  });

  it('waiting on the customer pauses the clocks (due_at moves by the pause); resume returns to the paused state', async () => {
    const t = await start();
    const { id } = await openTicket(t, { tenant: 'acme', priority: 'P1' }); // 30 min / 4 h / 3 d
    now = T0 + 10 * M;
    await move(t, id, { to: 'acknowledged' });
    now = T0 + H;
    expect(clock(await ticket(t, id), 'restore')).toMatchObject({ due_at: iso(4 * H), running: true });
    await move(t, id, { to: 'waiting_on_customer', note: 'asked for a player log' });
    now = T0 + H + 30 * M;
    const paused = await ticket(t, id);
    expect(paused.state).toBe('waiting_on_customer');
    expect(clock(paused, 'restore')).toMatchObject({ running: false, elapsed_ms: H });
    expect(clock(paused, 'restore').due_at).toBeUndefined();
    expect(await move(t, id, { to: 'resume' })).toMatchObject({ state: 'acknowledged' });
    now = T0 + 2 * H;
    const resumed = await ticket(t, id);
    expect(clock(resumed, 'restore')).toMatchObject({ running: true, elapsed_ms: 90 * M, warn_at: iso(0.8 * 4 * H + 30 * M), due_at: iso(4 * H + 30 * M) });
    expect(clock(resumed, 'resolve').due_at).toBe(iso(3 * 24 * H + 30 * M));
    expect(clock(resumed, 'response')).toMatchObject({ stopped_at: iso(10 * M), breached: false });
  });

  it('a priority change makes the clocks follow the new target and stays in the history; assignee and comments', async () => {
    const t = await start();
    const { id } = await openTicket(t, { tenant: 'acme', priority: 'P2' });
    now = T0 + 20 * M;
    const raised = await call(t, 'POST', `/v1/tickets/${id}/priority`, { priority: 'P0', by: 'erin' }, 200);
    expect(raised.priority).toBe('P0');
    expect(clock(raised, 'response')).toMatchObject({ target_ms: 15 * M, due_at: iso(15 * M), breached: true });
    await call(t, 'POST', `/v1/tickets/${id}/priority`, { priority: 'P7' }, 400);

    expect(await call(t, 'POST', `/v1/tickets/${id}/assign`, { assignee: 'frank' }, 200)).toMatchObject({ assignee: 'frank' });
    await call(t, 'POST', `/v1/tickets/${id}/assign`, {}, 400);
    const internal = await call(t, 'POST', `/v1/tickets/${id}/comment`, { text: 'suspect the sh-2 origin' }, 201);
    expect(internal).toMatchObject({ kind: 'comment', visibility: 'internal', actor: 'admin', at: iso(20 * M), data: { text: 'suspect the sh-2 origin' } });
    await call(t, 'POST', `/v1/tickets/${id}/comment`, { text: 'we are on it', visibility: 'customer', by: 'frank' }, 201);
    await call(t, 'POST', `/v1/tickets/${id}/comment`, { text: 'x', visibility: 'public' }, 400);
    await call(t, 'POST', '/v1/tickets/999999/comment', { text: 'x' }, 404);

    const view = await ticket(t, id);
    expect(eventKinds(view)).toEqual(['opened', 'priority_changed', 'assigned', 'comment', 'comment']);
    expect(view.events[1]).toMatchObject({ actor: 'erin', visibility: 'customer', data: { from: 'P2', to: 'P0', raised: true } });
    expect(view.events.map((e: { visibility: string }) => e.visibility)).toEqual(['customer', 'customer', 'internal', 'internal', 'customer']);
  });

  it('lists newest first with filters', async () => {
    const t = await start();
    const a = await openTicket(t, { tenant: 'acme', priority: 'P1' });
    const b = await openTicket(t, { tenant: 'globex', priority: 'P2' });
    const c = await openTicket(t, { tenant: 'acme', priority: 'P3' });
    await move(t, c.id, { to: 'acknowledged' });
    const ids = async (q: string) => (await call(t, 'GET', `/v1/tickets${q}`, undefined, 200)).tickets.map((x: { id: number }) => x.id);
    expect(await ids('')).toEqual([c.id, b.id, a.id]);
    expect(await ids('?tenant=acme')).toEqual([c.id, a.id]);
    expect(await ids('?state=new&priority=P1,P2')).toEqual([b.id, a.id]);
    expect(await ids('?state=acknowledged')).toEqual([c.id]);
    const page = await call(t, 'GET', '/v1/tickets?limit=2', undefined, 200);
    expect(page.next_before).toBe(b.id);
    expect(await ids(`?before=${page.next_before}`)).toEqual([a.id]);
    await call(t, 'GET', '/v1/tickets?state=open', undefined, 400);
    // globex is basic: its clock runs in business hours.
    expect(clock(b, 'response')).toMatchObject({ calendar: 'business', target_ms: 8 * H });
  });

  it('needs the admin token: none, a wrong one or an ingest key is a 401', async () => {
    const t = await start();
    const { id } = await openTicket(t, { tenant: 'acme' });
    for (const token of [null, 'wrong-token', ACME_KEY, INGEST_KEY]) {
      expect((await api(t.url, 'GET', '/v1/tickets', undefined, token)).status, String(token)).toBe(401);
      expect((await api(t.url, 'GET', `/v1/tickets/${id}`, undefined, token)).status).toBe(401);
      expect((await api(t.url, 'POST', '/v1/tickets', { tenant: 'acme', title: 'x', priority: 'P1' }, token)).status).toBe(401);
      expect((await api(t.url, 'POST', `/v1/tickets/${id}/state`, { to: 'acknowledged' }, token)).status).toBe(401);
    }
    expect((await ticket(t, id)).state).toBe('new');
    expect((await call(t, 'GET', '/v1/tickets', undefined, 200)).tickets).toHaveLength(1);
  });
});

describe("a tenant's read-only view", () => {
  /** A GET with a credential (null: none). */
  const asTenant = (t: TestApp, path: string, token: string | null) => api(t.url, 'GET', path, undefined, token);
  const ACME_TOKEN = 'acme-tenant-api-token-0123456789';
  const GLOBEX_TOKEN = 'globex-tenant-api-token-0123456789';
  /** CONFIG with a tenant API token for acme and globex, defined by hash as ingest keys are. */
  const WITH_TOKENS: z.input<typeof fileConfigSchema> = {
    tenants: CONFIG.tenants!.map((x) => ({ ...x, api_tokens: [{ id: `${x.id}-portal`, sha256: sha256(x.id === 'acme' ? ACME_TOKEN : GLOBEX_TOKEN) }] })),
  };
  const startWithTokens = (env: Record<string, string> = {}) => {
    now = T0;
    return startClosed({ clock: () => now, config: WITH_TOKENS, env });
  };

  it('an ingest key — public, carried by every player — cannot read its tenant\'s tickets: 401 saying ingest keys only ingest', async () => {
    const t = await start();
    const acme = await openTicket(t, { tenant: 'acme', title: 'viewers in Shanghai see black screens' });
    for (const [path, token] of [['/v1/tenant/tickets', ACME_KEY], [`/v1/tenant/tickets/${acme.id}`, ACME_KEY], [`/v1/tenant/tickets?key=${ACME_KEY}`, null], ['/v1/tenant/tickets', INGEST_KEY]] as const) {
      const r = await asTenant(t, path, token);
      expect(r.status, path).toBe(401);
      expect(r.body).toEqual({ error: 'unauthorized', message: expect.stringMatching(/ingest keys only ingest/) });
      expect(JSON.stringify(r.body)).not.toContain('Shanghai');
    }
  });

  it('reads with a tenant API token: created through the admin API (secret shown once, stored hashed), listed, revoked; it never ingests', async () => {
    now = T0;
    const dataDir = tempDir('tenant-tokens');
    const t = await startClosed({ clock: () => now, config: WITH_TOKENS, dataDir });
    await openTicket(t, { tenant: 'acme', title: 'acme report' });
    const created = await call(t, 'POST', '/v1/admin/tenants/acme/tokens', { name: 'status page' }, 201);
    expect(created).toEqual({ id: expect.stringMatching(/^t_/), tenant: 'acme', name: 'status page', source: 'api', created_at: iso(0), token: expect.stringMatching(/^qwt_/) });
    const listed = await call(t, 'GET', '/v1/admin/tenants/acme/tokens', undefined, 200);
    expect(listed.map((x: { id: string }) => x.id).sort()).toEqual(['acme-portal', created.id].sort());
    expect(JSON.stringify(listed)).not.toContain(created.token);
    const tenants = await call(t, 'GET', '/v1/admin/tenants', undefined, 200);
    expect(tenants.find((x: { id: string }) => x.id === 'acme').api_tokens).toHaveLength(2);
    expect(JSON.stringify(tenants)).not.toContain(created.token);
    expect(readFileSync(join(dataDir, 'state.db')).includes(created.token), 'the secret must be stored hashed').toBe(false);

    const read = await asTenant(t, '/v1/tenant/tickets', created.token);
    expect(read.status).toBe(200);
    expect(read.body.tickets.map((x: { title: string }) => x.title)).toEqual(['acme report']);
    expect((await asTenant(t, '/v1/tenant/tickets', GLOBEX_TOKEN)).body.tickets).toEqual([]);

    // Reading is all it does: no telemetry, no admin API.
    const ingest = await postTelemetry(t.url, { samples: viewers('eu-west', now, 0) }, { authorization: `Bearer ${created.token}` });
    expect(ingest.status).toBe(401);
    expect(ingest.body.message).toMatch(/tenant API token.*only reads/);
    const ws = new WebSocket(`${t.wsUrl}?key=${created.token}`);
    expect(await new Promise((resolve) => ws.on('close', (code, reason) => resolve([code, String(reason)])))).toEqual([1008, expect.stringMatching(/only reads/)]);
    expect((await api(t.url, 'GET', '/v1/tickets', undefined, created.token)).status).toBe(401);

    expect((await call(t, 'DELETE', `/v1/admin/tenants/acme/tokens/${created.id}`, undefined, 204))).toBeUndefined();
    const revoked = await asTenant(t, '/v1/tenant/tickets', created.token);
    expect(revoked.status).toBe(401);
    expect(revoked.body.message).toMatch(/unknown or revoked tenant API token/);
    await call(t, 'DELETE', `/v1/admin/tenants/acme/tokens/${created.id}`, undefined, 404);
    expect((await call(t, 'DELETE', '/v1/admin/tenants/acme/tokens/acme-portal', undefined, 409)).message).toMatch(/config file/);
    await call(t, 'POST', '/v1/admin/tenants/nobody/tokens', {}, 404);
    // Config tokens work; a token in the query string is not taken (it would sit in proxies' logs).
    expect((await asTenant(t, '/v1/tenant/tickets', ACME_TOKEN)).status).toBe(200);
    expect((await asTenant(t, `/v1/tenant/tickets?key=${ACME_TOKEN}`, null)).body.message).toMatch(/Authorization: Bearer/);
  });

  it('shows only its own tickets by public ids, with their clocks and customer-visible events; another tenant\'s ticket is a 404', async () => {
    const t = await startWithTokens();
    const acme = await openTicket(t, { tenant: 'acme', priority: 'P1' });
    const acme2 = await openTicket(t, { tenant: 'acme', priority: 'P3' });
    const globex = await openTicket(t, { tenant: 'globex', priority: 'P1' });
    await call(t, 'POST', `/v1/tickets/${acme.id}/assign`, { assignee: 'frank' }, 200);
    await call(t, 'POST', `/v1/tickets/${acme.id}/comment`, { text: 'INTERNAL: customer is on an old SDK' }, 201);
    await call(t, 'POST', `/v1/tickets/${acme.id}/comment`, { text: 'we found the cause', visibility: 'customer' }, 201);
    await move(t, acme.id, { to: 'acknowledged', note: 'looking into it' });

    // Public ids: random, not the global sequence (which would tell a tenant how many tickets everyone has).
    for (const x of [acme, acme2, globex]) expect(x.public_id).toMatch(/^tk_[0-9a-f]{16}$/);
    expect(new Set([acme.public_id, acme2.public_id, globex.public_id]).size).toBe(3);

    const list = await asTenant(t, '/v1/tenant/tickets', ACME_TOKEN);
    expect(list.status).toBe(200);
    expect(list.body.tickets.map((x: { id: string }) => x.id)).toEqual([acme2.public_id, acme.public_id]);
    expect(list.body.tickets.every((x: { tenant: string; incident_id?: unknown; public_id?: unknown }) => x.tenant === 'acme' && !('incident_id' in x) && !('public_id' in x))).toBe(true);
    expect((await asTenant(t, '/v1/tenant/tickets', GLOBEX_TOKEN)).body.tickets.map((x: { id: string }) => x.id)).toEqual([globex.public_id]);

    const own = await asTenant(t, `/v1/tenant/tickets/${acme.public_id}`, ACME_TOKEN);
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ id: acme.public_id, tenant: 'acme', state: 'acknowledged', priority: 'P1' });
    expect(own.body.sla.map((c: { target: string }) => c.target)).toEqual(['response', 'restore', 'resolve']);
    expect(own.body.events.every((e: { visibility: string; id?: unknown }) => e.visibility === 'customer' && !('id' in e))).toBe(true);
    expect(eventKinds(own.body)).toEqual(['opened', 'comment', 'state_changed']);
    // A state change keeps its note (customer updates send it too), not who made it.
    expect(own.body.events[2]).toEqual({ at: expect.any(String), kind: 'state_changed', visibility: 'customer', data: { from: 'new', to: 'acknowledged', note: 'looking into it' } });
    const text = JSON.stringify(own.body);
    for (const secret of ['INTERNAL', 'frank']) expect(text, `the customer view must not show "${secret}"`).not.toContain(secret);

    // Another tenant's ticket is "not found", exactly like an id that does not exist; so is the global number.
    const foreign = await asTenant(t, `/v1/tenant/tickets/${acme.public_id}`, GLOBEX_TOKEN);
    const missing = await asTenant(t, '/v1/tenant/tickets/tk_0000000000000000', GLOBEX_TOKEN);
    expect(foreign.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(foreign.body).toEqual({ ...missing.body, message: missing.body.message.replace('tk_0000000000000000', acme.public_id) });
    expect((await asTenant(t, `/v1/tenant/tickets/${acme.id}`, ACME_TOKEN)).status).toBe(404);

    for (const token of [null, 'not-a-token-0123456789', ADMIN_TOKEN]) {
      expect((await asTenant(t, '/v1/tenant/tickets', token)).status, String(token)).toBe(401);
      expect((await asTenant(t, `/v1/tenant/tickets/${acme.public_id}`, token)).status).toBe(401);
    }
    // A tenant cannot widen its view with a query parameter.
    expect((await asTenant(t, '/v1/tenant/tickets?tenant=globex', ACME_TOKEN)).status).toBe(400);

    // Pages by public id.
    const page = await asTenant(t, '/v1/tenant/tickets?limit=1', ACME_TOKEN);
    expect(page.body).toEqual({ tickets: [expect.objectContaining({ id: acme2.public_id })], next_before: acme2.public_id });
    expect((await asTenant(t, `/v1/tenant/tickets?limit=1&before=${page.body.next_before}`, ACME_TOKEN)).body.tickets.map((x: { id: string }) => x.id)).toEqual([acme.public_id]);
    expect((await asTenant(t, `/v1/tenant/tickets?before=${globex.public_id}`, ACME_TOKEN)).status).toBe(404);
  });

  it('the ticket of an incident is in its tenant\'s view (no incident numbers), not in another tenant\'s', async () => {
    const t = await startWithTokens({ QOSWATCH_RULES_DIR: writeRules([stallRule({ for: '0s', min_sessions: 0, clear_for: '6h' })]) });
    await storm(t, 0);
    const [inc] = await incidents(t.url);
    await call(t, 'POST', `/v1/incidents/${inc.id}/ack`, { by: 'carol' }, 200);
    const { tickets } = (await asTenant(t, '/v1/tenant/tickets', ACME_TOKEN)).body;
    expect(tickets).toEqual([expect.objectContaining({ tenant: 'acme', priority: 'P0', state: 'acknowledged' })]);
    const view = (await asTenant(t, `/v1/tenant/tickets/${tickets[0].id}`, ACME_TOKEN)).body;
    expect(JSON.stringify(view)).not.toMatch(/incident/);
    // Nor who acted: like the assignee, the engineers stay unnamed (the status page and customer updates name none).
    expect(eventKinds(view)).toContain('state_changed');
    expect(JSON.stringify(view)).not.toMatch(/carol/);
    expect((await asTenant(t, '/v1/tenant/tickets', GLOBEX_TOKEN)).body.tickets).toEqual([]);
    expect((await asTenant(t, `/v1/tenant/tickets/${tickets[0].id}`, GLOBEX_TOKEN)).status).toBe(404);
  });

  it('limits each token\'s requests (QOSWATCH_TENANT_API_RATE or its own rate_limit): 429 with Retry-After', async () => {
    now = T0;
    const config = { tenants: [{ ...WITH_TOKENS.tenants![0]!, api_tokens: [{ id: 'acme-portal', sha256: sha256(ACME_TOKEN), rate_limit: '3/1m' }] }, WITH_TOKENS.tenants![1]!] };
    const t = await startClosed({ clock: () => now, config, env: { QOSWATCH_TENANT_API_RATE: '2/1m' } });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await fetch(`${t.url}/v1/tenant/tickets`, { headers: { authorization: `Bearer ${ACME_TOKEN}` } }));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(Number(answers[3]!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await answers[3]!.json()).toEqual({ error: 'too_many_requests', message: expect.stringMatching(/rate limit .*tenant API token/) });
    // globex's token has the default, and its own budget.
    const globex = [];
    for (let i = 0; i < 3; i++) globex.push((await asTenant(t, '/v1/tenant/tickets', GLOBEX_TOKEN)).status);
    expect(globex).toEqual([200, 200, 429]);
  });

  it('sheds reads with 503 and Retry-After once a saturated loop has a long turn, and recovers', async () => {
    const t = await startWithTokens({ QOSWATCH_MAX_EVENT_LOOP_DELAY: '5ms', QOSWATCH_TENANT_API_RATE: '1000/1s' });
    for (let i = 0; i < 500; i++) await t.app.tickets.open({ tenant: 'acme', title: `report ${i}`, priority: 'P2', actor: 'admin' }, now);
    // Connections opened beforehand (the server accepts one new connection per turn of its loop), then, in a loop
    // whose every turn has lasted over 5 ms for over a second, a burst on them: one turn reads the requests together, and once it has spent 5 ms
    // (500 tickets with their clocks take longer), the rest are shed.
    const agent = new Agent({ keepAlive: true, maxSockets: 40 });
    const get = (path: string) =>
      new Promise<{ status: number; retryAfter: string | undefined; body: string }>((resolve, reject) => {
        const req = httpRequest(`${t.url}${path}`, { agent, headers: { authorization: `Bearer ${ACME_TOKEN}` } }, (res) => {
          let body = '';
          res.on('data', (d) => (body += String(d)));
          res.on('end', () => resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'], body }));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      await Promise.all(Array.from({ length: 40 }, () => get('/v1/tenant/tickets?limit=1')));
      const answers = await burstWhenSaturated(1200, () => Array.from({ length: 40 }, () => get('/v1/tenant/tickets?limit=500')));
      const statuses = answers.map((r) => r.status);
      expect(statuses.filter((s) => s === 503).length, statuses.join(' ')).toBeGreaterThan(0);
      expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
      expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
      const shed = answers.find((r) => r.status === 503)!;
      expect(shed.retryAfter).toBe('1');
      expect(JSON.parse(shed.body)).toEqual({ error: 'unavailable', message: expect.stringMatching(/busy/) });
    } finally {
      agent.destroy();
    }
    // A lone request in a quiet loop is taken (waited for: a loaded machine may delay the loop's probe).
    await waitFor('a lone read to be answered', async () => (await asTenant(t, '/v1/tenant/tickets?limit=1', ACME_TOKEN)).status === 200);
  });
});

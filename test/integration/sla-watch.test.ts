import { beforeEach, describe, expect, it, vi } from 'vitest';
import { SlaWatch } from '../../src/tickets/sla-watch.js';
import { api, incidents, send, viewers, writeRules } from '../helpers/alerting.js';
import { type TestApp, appsClosedAfterEach } from '../helpers/app.js';
import { LINK_SECRET, PUBLIC_URL, pagingOnCall, pagingRule, timeline, useLoopbackServers, writeOnCall } from '../helpers/paging.js';
import { json } from '../helpers/receiver.js';

const M = 60_000;
const H = 60 * M;
const T0 = Date.UTC(2030, 0, 7, 12, 0, 0);
let now = T0;
const { smtp, receiver } = useLoopbackServers();
beforeEach(() => {
  now = T0;
});
const startClosed = appsClosedAfterEach();

/** A strategic tenant paged by the paging fixture (alice level 1, bob level 2, 5 min each). */
const start = (rules = [pagingRule()]) =>
  startClosed({
    clock: () => now,
    config: { tenants: [{ id: 'default', tier: 'strategic', timezone: 'UTC', business_hours: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '18:00', holidays: [] }, ingest_keys: [] }] },
    env: {
      QOSWATCH_RULES_DIR: writeRules(rules),
      QOSWATCH_ONCALL: writeOnCall(pagingOnCall((p) => receiver.url(p))),
      SMTP_URL: smtp.url,
      QOSWATCH_PUBLIC_URL: PUBLIC_URL,
      QOSWATCH_LINK_SECRET: LINK_SECRET,
    },
  });

/** Moves the clock, checks the SLA clocks and delivers what that paged. */
async function slaAt(t: TestApp, time: number): Promise<void> {
  now = time;
  await t.app.slaWatch.tick(now);
  await t.app.pager.tick();
}

const slaPages = () => [
  ...smtp.mails.filter((m) => /SLA/.test(m.subject ?? '')).map((m) => `email ${[m.to].flat().map((a) => a?.text).join()} ${m.subject}`),
  ...receiver.requests.filter((r) => json(r).kind === 'sla_warning').map((r) => `hook ${json(r).mention} ${(json(r).incident as { text: string }).text.split('\n')[0]}`),
];

describe('SLA warnings and breaches go through the paging outbox (strategic P1: restore within 4 h)', () => {
  it('warns the next escalation level at exactly 80 % and escalates at 100 %, once each', async () => {
    const t = await start();
    await send(t.url, viewers('eu-west', now, 0.3));
    await t.app.alerting.tick(now);
    await t.app.pager.tick();
    const [inc] = await incidents(t.url);
    expect(inc.priority).toBe('P1');
    now = T0 + M;
    expect((await api(t.url, 'POST', `/v1/incidents/${inc.id}/ack`, { by: 'alice' })).status).toBe(200);
    const ticket = (await api(t.url, 'GET', '/v1/tickets')).body.tickets[0];
    expect(ticket).toMatchObject({ incident_id: inc.id, priority: 'P1', state: 'acknowledged' });
    const restore = ticket.sla.find((c: { target: string }) => c.target === 'restore');
    expect(restore).toMatchObject({ target_ms: 4 * H, running: true, warn_at: new Date(T0 + 3.2 * H).toISOString(), due_at: new Date(T0 + 4 * H).toISOString() });
    expect(ticket.sla.find((c: { target: string }) => c.target === 'response')).toMatchObject({ running: false, breached: false });

    await slaAt(t, T0 + 3.2 * H - 1);
    expect(slaPages()).toEqual([]);
    await slaAt(t, T0 + 3.2 * H);
    // The ack stopped escalation after level 1 (alice): the next level is bob, on email and chat (P1).
    expect(slaPages().sort()).toEqual([
      `email bob@example.com [P1] eu-west: ${inc.title} (incident #${inc.id} SLA warning)`,
      `hook U-bob SLA warning (80 %): restore for ticket #${ticket.id} is due ${new Date(T0 + 4 * H).toISOString()}`,
    ]);
    await slaAt(t, T0 + 3.5 * H);
    expect(slaPages(), 'a warning is sent once').toHaveLength(2);

    await slaAt(t, T0 + 4 * H);
    expect(slaPages()).toHaveLength(4);
    expect(slaPages().some((p) => p.includes('SLA BREACHED: restore'))).toBe(true);
    const detail = (await api(t.url, 'GET', `/v1/tickets/${ticket.id}`)).body;
    expect(detail.events.filter((e: { kind: string }) => e.kind.startsWith('sla_')).map((e: { kind: string; at: string; data: { target: string } }) => [e.kind, e.data.target, e.at])).toEqual([
      ['sla_warning', 'restore', new Date(T0 + 3.2 * H).toISOString()],
      ['sla_breach', 'restore', new Date(T0 + 4 * H).toISOString()],
    ]);
    expect(detail.sla.find((c: { target: string }) => c.target === 'restore').breached).toBe(true);
    const kinds = (await timeline(t.url, inc.id)).map((e) => e.kind);
    expect(kinds).toContain('sla_warning');
    expect(kinds).toContain('sla_breach');
  });

  it('a clock stopped in time never warns', async () => {
    const t = await start();
    await send(t.url, viewers('eu-west', now, 0.3));
    await t.app.alerting.tick(now);
    const [inc] = await incidents(t.url);
    now = T0 + M;
    await api(t.url, 'POST', `/v1/incidents/${inc.id}/mitigate`, { by: 'alice' });
    await slaAt(t, T0 + 5 * H);
    expect(slaPages()).toEqual([]);
    const ticket = (await api(t.url, 'GET', '/v1/tickets')).body.tickets[0];
    expect(ticket.sla.filter((c: { breached: boolean }) => c.breached)).toEqual([]);
  });
  it('strategic P0 with no ack: the warning at exactly 12 min and the breach at exactly 15 min are delivered through the outbox', async () => {
    const t = await start([pagingRule({ thresholds: { P0: '> 0.2', P1: '> 0.05' } })]);
    await send(t.url, viewers('eu-west', now, 0.3));
    await t.app.alerting.tick(now);
    await t.app.pager.tick();
    const [inc] = await incidents(t.url);
    expect(inc.priority).toBe('P0');
    for (const m of [5, 10]) await slaAt(t, T0 + m * M); // escalation levels come due meanwhile
    await slaAt(t, T0 + 12 * M - 1);
    expect(slaPages()).toEqual([]);
    await slaAt(t, T0 + 12 * M);
    expect(slaPages().filter((p) => p.startsWith('hook'))).toEqual([expect.stringContaining(`SLA warning (80 %): response for ticket #`)]);
    await slaAt(t, T0 + 15 * M - 1);
    expect(slaPages().some((p) => p.includes('BREACHED'))).toBe(false);
    await slaAt(t, T0 + 15 * M);
    expect(slaPages().filter((p) => p.includes('BREACHED: response'))).toHaveLength(1);
    const rows = (await t.app.pager.outbox.ofIncident(inc.id)).filter((r) => r.kind === 'sla_warning');
    expect(rows.length).toBeGreaterThanOrEqual(4); // warning and breach, email and chat
    expect(rows.every((r) => r.state === 'delivered')).toBe(true);
  });
  it('a ticket opened by hand is warned through the policy routed for its tenant and priority (level 1)', async () => {
    const t = await start();
    const ticket = (await api(t.url, 'POST', '/v1/tickets', { tenant: 'default', title: 'customer reports black screens', priority: 'P0' })).body;
    await slaAt(t, T0 + 12 * M);
    expect(slaPages().sort()).toEqual([
      `email alice@example.com [P0] default: customer reports black screens (SLA warning)`,
      `hook U-alice SLA warning (80 %): response for ticket #${ticket.id} is due ${new Date(T0 + 15 * M).toISOString()}`,
    ]);
    const mail = smtp.mails.find((m) => /SLA warning/.test(m.subject ?? ''))!;
    expect(mail.text).not.toContain('/v1/links/'); // nothing to acknowledge by link: the ticket is handled in the API
  });
});

describe('the SLA watch under crashes, two runners and many tickets', () => {
  /** A strategic P0 ticket opened by hand at T0: its response warning is due at exactly 12 min. */
  const p0 = async (t: TestApp) => (await api(t.url, 'POST', '/v1/tickets', { tenant: 'default', title: 'black screens', priority: 'P0' })).body.id as number;
  const warnings = async (t: TestApp, id: number) => (await t.app.tickets.events(id)).filter((e) => e.kind === 'sla_warning');

  it('marks a warning and pages it in one transaction: a crash between the two leaves neither, and the next check pages once', async () => {
    const t = await start();
    const id = await p0(t);
    await slaAt(t, T0 + M);
    // The page cannot be written (the process dies there): whatever the check wrote before it must not stay.
    vi.spyOn(t.app.pager, 'slaAlert').mockImplementationOnce(() => Promise.reject(new Error('killed')));
    now = T0 + 12 * M;
    try {
      await t.app.slaWatch.tick(now);
    } catch {
      // the old watch let it through; the new one logs it
    }
    expect(await warnings(t, id), 'no warning recorded without its page').toEqual([]);
    await slaAt(t, T0 + 12 * M + 1000);
    expect(await warnings(t, id)).toHaveLength(1);
    expect(slaPages().sort()).toEqual([
      `email alice@example.com [P0] default: black screens (SLA warning)`,
      `hook U-alice SLA warning (80 %): response for ticket #${id} is due ${new Date(T0 + 15 * M).toISOString()}`,
    ]);
  });

  it('two watchers over one state db warn once: the mark is unique per ticket, target, priority and kind', async () => {
    const t = await start();
    const id = await p0(t);
    const other = new SlaWatch({ tickets: t.app.tickets, tenants: t.app.tenants, incidents: t.app.incidents, pager: t.app.pager, log: t.app.log, clock: () => now }, 1000);
    await other.start();
    try {
      await slaAt(t, T0 + M);
      await other.tick(now);
      now = T0 + 12 * M;
      await other.tick(now);
      await slaAt(t, now);
      expect(await warnings(t, id)).toHaveLength(1);
      expect(slaPages()).toHaveLength(2); // email and chat, once each
    } finally {
      await other.stop();
    }
  });

  it('an edit of a tenant through the API re-reads its tickets\' targets: a P0 warns at 80 % of the new tier\'s target', async () => {
    const t = await start();
    expect((await api(t.url, 'PUT', '/v1/admin/tenants/acme', { tier: 'enterprise' })).status).toBe(201);
    const id = (await api(t.url, 'POST', '/v1/tickets', { tenant: 'acme', title: 'black screens', priority: 'P0' })).body.id as number;
    await slaAt(t, T0 + M); // enterprise P0: response within 30 min, warned at 24 min
    expect((await api(t.url, 'PUT', '/v1/admin/tenants/acme', { tier: 'strategic' })).status).toBe(200);
    await slaAt(t, T0 + 12 * M - 1);
    expect(await warnings(t, id)).toEqual([]);
    await slaAt(t, T0 + 12 * M); // strategic P0: within 15 min, warned at 12 min
    expect(await warnings(t, id)).toEqual([expect.objectContaining({ at: T0 + 12 * M, data: expect.objectContaining({ target: 'response', tier: 'strategic' }) })]);
  });

  it('a check reads only the tickets that changed or came due: none while nothing is due, however many are open', async () => {
    const t = await start();
    await t.app.slaWatch.stop(); // only the checks below run (its timer would take changed tickets in between)
    /** `n` tickets opened at T0 (whatever the clock says now), so that they all come due together. */
    const open = async (n: number) => {
      for (let i = 0; i < n; i++) await t.app.tickets.open({ tenant: 'default', title: `ticket ${i}`, priority: 'P3', actor: 'test' }, T0);
    };
    const reads = vi.spyOn(t.app.tickets, 'events');
    /** Tickets whose events one check read. */
    const check = async (time: number) => {
      reads.mockClear();
      await t.app.slaWatch.tick((now = time));
      return new Set(reads.mock.calls.map(([id]) => id)).size;
    };
    await open(100);
    expect(await check(T0 + 1000), 'the new tickets are indexed once').toBe(100);
    expect(await check(T0 + 2000)).toBe(0);
    await open(1000);
    expect(await check(T0 + 3000)).toBe(1000);
    for (const s of [4, 5, 60, 600]) expect(await check(T0 + s * 1000), `${s} s: nothing due`).toBe(0);
    // Strategic P3: response within 1 business day (9 h, 09:00–18:00 UTC on weekdays) from Mon 12:00: 80 % is
    // reached on Tue at 10:12 by every one of them, in one check (P3 pages nobody).
    const warnAt = Date.parse('2030-01-08T10:12:00Z');
    expect(await check(warnAt - 1)).toBe(0);
    expect(await check(warnAt)).toBe(1100);
    expect(await check(warnAt + 1000)).toBe(0);
    const id = await p0(t);
    expect(await check(warnAt + 2000)).toBe(1);
    expect(await check(warnAt + 12 * M - 1), 'the P0 warns at 12 min').toBe(0);
    expect(await check(warnAt + 12 * M + 1000)).toBe(1);
    expect(await warnings(t, id)).toHaveLength(1);
  });
});

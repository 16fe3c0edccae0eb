import { beforeEach, describe, expect, it } from 'vitest';
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
  t.app.slaWatch.tick(now);
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
    t.app.alerting.tick(now);
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
    t.app.alerting.tick(now);
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
    t.app.alerting.tick(now);
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
    const rows = t.app.pager.outbox.ofIncident(inc.id).filter((r) => r.kind === 'sla_warning');
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

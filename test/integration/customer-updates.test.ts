import { beforeEach, describe, expect, it } from 'vitest';
import { api, incidents, send, stallRule, viewers, writeRules } from '../helpers/alerting.js';
import { appsClosedAfterEach } from '../helpers/app.js';
import { PUBLIC_URL, pagingOnCall, useLoopbackServers, writeOnCall } from '../helpers/paging.js';
import { json } from '../helpers/receiver.js';

const M = 60_000;
const T0 = Date.UTC(2030, 0, 7, 12, 0, 0);
let now = T0;
const { smtp, receiver } = useLoopbackServers();
beforeEach(() => {
  now = T0;
});
const startClosed = appsClosedAfterEach();
const CUSTOMER_HOOK = '/hooks/acme';

describe('customer transparency: customer-visible updates reach the tenant’s contacts and customer channel', () => {
  it('opened, acknowledged with an ETA, mitigated and resolved — and nothing internal', async () => {
    const oncall = pagingOnCall((p) => receiver.url(p));
    oncall.channels.push({ id: 'acme-group', provider: 'webhook', url: receiver.url(CUSTOMER_HOOK), secret: 'whsec-acme-0123456789' });
    const t = await startClosed({
      clock: () => now,
      config: { tenants: [{ id: 'default', name: 'ACME Live', tier: 'strategic', contacts: [{ name: 'Ops', email: 'ops@acme.example' }], customer_channel: 'acme-group' }] },
      env: { QOSWATCH_RULES_DIR: writeRules([stallRule({ for: '0s', min_sessions: 0 })]), QOSWATCH_ONCALL: writeOnCall(oncall), SMTP_URL: smtp.url, QOSWATCH_PUBLIC_URL: PUBLIC_URL },
    });
    await send(t.url, viewers('eu-west', now, 0.1)); // P1
    await t.app.alerting.tick(now);
    await t.app.pager.tick();
    const [inc] = await incidents(t.url);
    const ticket = (await api(t.url, 'GET', '/v1/tickets')).body.tickets[0];
    now = T0 + 5 * M;
    await api(t.url, 'POST', `/v1/incidents/${inc.id}/ack`, { by: 'alice' });
    await api(t.url, 'POST', `/v1/tickets/${ticket.id}/comment`, { text: 'internal: suspect cdn-b', visibility: 'internal' });
    now = T0 + 30 * M;
    await api(t.url, 'POST', `/v1/tickets/${ticket.id}/state`, { to: 'mitigated', note: 'Traffic moved to another CDN.' });
    now = T0 + 60 * M;
    await api(t.url, 'POST', `/v1/tickets/${ticket.id}/state`, { to: 'resolved', root_cause: 'A CDN node ran out of disk.' });
    await t.app.pager.tick();

    const customerMails = smtp.mails.filter((m) => [m.to].flat().some((a) => a?.text === 'ops@acme.example'));
    // The ticket by the public id the tenant's view knows it by: no incident or ticket number of the global sequences.
    expect(customerMails.map((m) => m.subject?.match(/\(ticket (tk_[0-9a-f]{16}) ([^)]+)\)$/)?.slice(1))).toEqual(
      ['opened', 'acknowledged', 'mitigated', 'resolved'].map((kind) => [ticket.public_id, kind]),
    );
    const hooked = receiver.to(CUSTOMER_HOOK);
    const seen = JSON.stringify([customerMails.map((m) => [m.subject, m.text, m.html]), hooked.map((r) => [r.body, r.headers])]);
    for (const internal of [`#${inc.id}\\b`, `"id":${inc.id}\\b`, `ticket:${ticket.id}:`, `"id":${ticket.id}\\b`]) expect(seen).not.toMatch(new RegExp(internal));
    expect(hooked.map((r) => [(json(r).incident as { id: number }).id, json(r).ticket])).toEqual(Array(4).fill([0, ticket.public_id]));
    const texts = hooked.map((r) => (json(r).incident as { text: string }).text);
    expect(texts).toEqual([
      `We are investigating a P1 issue: ${ticket.title}.`,
      `Our engineers are working on it. We expect service to be restored by ${new Date(T0 + 4 * 60 * M).toISOString().replace('.000Z', 'Z')}.`,
      'Service has been restored; we keep monitoring and will follow up with the root cause. Traffic moved to another CDN.',
      'This issue is resolved. Root cause: A CDN node ran out of disk.',
    ]);
    const everything = JSON.stringify([customerMails.map((m) => m.text), texts]);
    expect(everything).not.toContain('suspect cdn-b');
    expect(everything).not.toContain('/v1/links/'); // customers get no ack links
    // The on-call people are not told twice, and customers are not paged about the incident's ack.
    const ackPages = smtp.mails.filter((m) => /acknowledged\)$/.test(m.subject ?? '') && ![m.to].flat().some((a) => a?.text === 'ops@acme.example'));
    expect(ackPages.map((m) => [m.to].flat().map((a) => a?.text).join())).toEqual(['alice@example.com']);
  });
});

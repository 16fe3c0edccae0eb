import { describe, expect, it } from 'vitest';
import { api, incidents, send, stallRule, viewers, writeRules } from '../helpers/alerting.js';
import { ADMIN_TOKEN, appsClosedAfterEach } from '../helpers/app.js';
import { readMarkdown } from '../helpers/chat-clients.js';

const M = 60_000;
const T0 = Date.UTC(2030, 0, 7, 12, 0, 0);
let now = T0;
const startClosed = appsClosedAfterEach();

describe('postmortem', () => {
  it('renders a resolved P0 ticket: impact, SLA outcome, root cause and the merged timeline as Markdown', async () => {
    const t = await startClosed({
      clock: () => now,
      config: { tenants: [{ id: 'default', tier: 'strategic', timezone: 'UTC', business_hours: { days: ['mon'], start: '09:00', end: '18:00', holidays: [] }, ingest_keys: [] }] },
      env: { QOSWATCH_RULES_DIR: writeRules([stallRule({ for: '0s' })]) },
    });
    await send(t.url, viewers('eu-west', now, 0.3)); // P0: above 20 %
    await t.app.alerting.tick(now);
    const [inc] = await incidents(t.url);
    const ticket = (await api(t.url, 'GET', '/v1/tickets')).body.tickets[0];
    now = T0 + 10 * M;
    await api(t.url, 'POST', `/v1/incidents/${inc.id}/ack`, { by: 'alice' });
    now = T0 + 70 * M;
    await api(t.url, 'POST', `/v1/incidents/${inc.id}/mitigate`, { by: 'alice' });
    now = T0 + 2 * 60 * M;
    expect((await api(t.url, 'POST', `/v1/tickets/${ticket.id}/state`, { to: 'resolved' })).body.message).toMatch(/^root_cause: /);
    expect((await api(t.url, 'POST', `/v1/tickets/${ticket.id}/state`, { to: 'resolved', root_cause: 'CDN edge config pushed with a *bad* cache key', by: 'alice' })).status).toBe(200);

    const res = await fetch(`${t.url}/v1/tickets/${ticket.id}/postmortem`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(res.headers.get('content-type')).toMatch(/^text\/markdown/);
    const md = await res.text();
    expect(md).toContain(`# Postmortem: ticket #${ticket.id}`);
    expect(md).not.toContain('Draft');
    expect(md).toContain(`- Tenant: default (strategic) · Priority: P0 · Incident: #${inc.id}`);
    expect(md).toContain('- Regions: eu-west');
    expect(md).toContain('- Duration until restored: 1h 10m');
    expect(md).toContain('- Peak sessions in an alerting window: 30');
    expect(md).toContain('| response | 15m (24x7) | met | 2030-01-07T12:10:00Z |');
    expect(md).toContain('| restore | 1h (24x7) | BREACHED | 2030-01-07T13:10:00Z |');
    expect(md).toContain('CDN edge config pushed with a \\*bad\\* cache key');
    const timeline = md.slice(md.indexOf('## Timeline'));
    expect(timeline.indexOf('incident: opened')).toBeLessThan(timeline.indexOf('ticket: state changed → acknowledged'));
    expect(timeline).toContain('ticket: state changed → resolved (alice)');
    // Markdown and HTML characters of values are escaped: `_` with a backslash, `>` as an entity
    expect(timeline).toContain('incident: alert fired: stall\\_ratio 30% (&gt; 0.2) — eu-west (qoswatch)');
  });
});

describe('postmortem of hostile telemetry and people’s text (issue 14 item 11)', () => {
  // A region and an ISP from telemetry (≤ 64 printable characters, no backslash); the people's text is free.
  const REGION = '<img src=x onerror=alert(1)>[Ack](https://evil.com/a) *b*';
  const ISP = '![t](https://evil.com/t.png) <b>x</b> &lt;i&gt; evil.com';
  const ACTOR = '<img src=y onerror=alert(2)> `x` a@evil.com';
  const COMMENT = 'see <a href="https://evil.com">Ack</a> | **b**\nTitle\n===\n# Heading\n- item\n[x]: https://evil.com/ref';
  const ROOT_CAUSE = 'CDN _cache key_\n> quote\n    indented\n<script>alert(3)</script>\n| a | b |\n|---|---|\n1. one\nwww.evil.com';

  it('shows every value as text to a renderer that allows HTML and Markdown: no tag, link, image or heading of theirs', async () => {
    now = T0;
    const t = await startClosed({
      clock: () => now,
      env: { QOSWATCH_RULES_DIR: writeRules([stallRule({ for: '0s', group_by: ['tenant', 'region', 'isp'] })]) },
    });
    await send(t.url, viewers(REGION, now, 0.3).map((s) => ({ ...s, dims: { isp: ISP } })));
    await t.app.alerting.tick(now);
    const [inc] = await incidents(t.url);
    expect(inc.region).toBe(REGION);
    const ticket = (await api(t.url, 'GET', '/v1/tickets')).body.tickets[0];
    now = T0 + 10 * M;
    expect((await api(t.url, 'POST', `/v1/incidents/${inc.id}/ack`, { by: ACTOR, note: COMMENT })).status).toBe(200);
    expect((await api(t.url, 'POST', `/v1/tickets/${ticket.id}/comment`, { text: COMMENT, by: ACTOR })).status).toBe(201);
    now = T0 + 70 * M;
    expect((await api(t.url, 'POST', `/v1/tickets/${ticket.id}/state`, { to: 'resolved', root_cause: ROOT_CAUSE, by: ACTOR })).status).toBe(200);

    const res = await fetch(`${t.url}/v1/tickets/${ticket.id}/postmortem`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const doc = readMarkdown(await res.text());
    expect({ html: doc.html, links: doc.links, images: doc.images, active: doc.active }).toEqual({ html: [], links: [], images: [], active: [] });
    // The document's own structure, and only it
    expect(doc.headings).toEqual([`Postmortem: ticket #${ticket.id} — ${ticket.title}`, 'Impact', 'SLA', 'Root cause', 'Timeline']);
    expect(ticket.title).toContain(REGION);
    // Every value shown as the text it is
    for (const s of [REGION, ISP, ACTOR, ...COMMENT.split('\n'), ...ROOT_CAUSE.split('\n').map((l) => l.trim())]) expect(doc.text, s).toContain(s);
  });
});

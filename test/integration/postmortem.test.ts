import { describe, expect, it } from 'vitest';
import { api, incidents, send, stallRule, viewers, writeRules } from '../helpers/alerting.js';
import { ADMIN_TOKEN, appsClosedAfterEach } from '../helpers/app.js';

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
    t.app.alerting.tick(now);
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
    expect(timeline).toContain('incident: alert fired: stall_ratio 30% (> 0.2) — eu-west (qoswatch)'.replace('stall_ratio', 'stall\\_ratio'));
  });
});

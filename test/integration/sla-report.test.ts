import { describe, expect, it } from 'vitest';
import { api } from '../helpers/alerting.js';
import { type TestApp, appsClosedAfterEach } from '../helpers/app.js';
import { percentile } from '../../src/reports/sla-report.js';

const M = 60_000;
const T0 = Date.UTC(2030, 0, 7, 12, 0, 0); // a Monday
let now = T0;
const startClosed = appsClosedAfterEach();
const start = () => startClosed({ clock: () => now, config: { default_tenant: 'acme', tenants: [{ id: 'acme', tier: 'strategic', timezone: 'UTC', business_hours: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '18:00', holidays: [] }, ingest_keys: [] }] } });

/** Opens a P0 ticket at T0 + `openAt` min and acknowledges it `ackAfter` min later (undefined: never). */
async function ticket(t: TestApp, openAt: number, ackAfter: number | undefined, mitigateAfter?: number): Promise<number> {
  now = T0 + openAt * M;
  const { body } = await api(t.url, 'POST', '/v1/tickets', { tenant: 'acme', title: `t${openAt}`, priority: 'P0' });
  if (ackAfter !== undefined) {
    now = T0 + (openAt + ackAfter) * M;
    expect((await api(t.url, 'POST', `/v1/tickets/${body.id}/state`, { to: 'acknowledged' })).status).toBe(200);
  }
  if (mitigateAfter !== undefined) {
    now = T0 + (openAt + mitigateAfter) * M;
    expect((await api(t.url, 'POST', `/v1/tickets/${body.id}/state`, { to: 'mitigated' })).status).toBe(200);
  }
  return body.id as number;
}

describe('GET /v1/sla/report: figures match a hand-computed fixture', () => {
  it('counts, MTTA/MTTR, p50/p90, % within target and breaches for strategic P0 (response 15 min, restore 1 h)', async () => {
    const t = await start();
    // Four P0 tickets: acked after 5, 10, 20 min and never; two mitigated after 30 and 90 min.
    const a = await ticket(t, 0, 5, 30);
    await ticket(t, 1, 10);
    const c = await ticket(t, 2, 20, 90);
    const d = await ticket(t, 3, undefined);
    now = T0 + 4 * 60 * M; // report at 16:00
    const { status, body } = await api(t.url, 'GET', `/v1/sla/report?from=${T0}&to=${T0 + 60 * M}`);
    expect(status).toBe(200);
    expect(body.groups).toHaveLength(1);
    const g = body.groups[0];
    expect(g).toMatchObject({ tier: 'strategic', priority: 'P0', tickets: 4 });
    // Response: stopped for 3 tickets after 5, 10, 20 min → mean 11.67 min, p50 10 min, p90 20 min; 2 of 3 within 15 min.
    expect(g.targets.response).toEqual({ tickets: 4, met_or_missed: 3, mean_ms: (35 * M) / 3, p50_ms: 10 * M, p90_ms: 20 * M, within_target: 2 / 3, breached: 2 });
    // Restore (1 h): stopped for a (30 min, in time) and c (90 min, late); b and d still running past 1 h at 16:00.
    expect(g.targets.restore).toEqual({ tickets: 4, met_or_missed: 2, mean_ms: 60 * M, p50_ms: 30 * M, p90_ms: 90 * M, within_target: 0.5, breached: 3 });
    expect(body.breaches.filter((b: { target: string }) => b.target === 'response').map((b: { ticket: number }) => b.ticket)).toEqual([c, d]);
    expect(body.breaches.find((b: { ticket: number; target: string }) => b.ticket === a && b.target === 'restore')).toBeUndefined();

    const csv = await fetch(`${t.url}/v1/sla/report?from=${T0}&to=${T0 + 60 * M}&format=csv`, { headers: { authorization: 'Bearer test-admin-token-0123456789' } });
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = (await csv.text()).trim().split('\n');
    expect(lines[0]).toBe('tier,priority,target,tickets,stopped,mean_ms,p50_ms,p90_ms,within_target,breached');
    expect(lines[1]).toBe(`strategic,P0,response,4,3,${Math.round((35 * M) / 3)},${10 * M},${20 * M},0.6667,2`);
  });

  it('filters by tier and range, and rejects bad input naming the field', async () => {
    const t = await start();
    await ticket(t, 0, 5);
    expect((await api(t.url, 'GET', `/v1/sla/report?from=${T0}&to=${T0 + M}&tier=basic`)).body.groups).toEqual([]);
    expect((await api(t.url, 'GET', `/v1/sla/report?from=${T0 + M}&to=${T0 + 2 * M}`)).body.groups).toEqual([]);
    expect((await api(t.url, 'GET', `/v1/sla/report?from=${T0}&to=${T0}`)).body.message).toMatch(/^to: must be after from/);
    expect((await api(t.url, 'GET', '/v1/sla/report?to=1')).body.message).toMatch(/from/);
    expect((await api(t.url, 'GET', `/v1/sla/report?from=${T0}&to=${T0 + M}`, undefined, null)).status).toBe(401);
  });
});

describe('percentile (nearest rank)', () => {
  it('takes the value at rank ceil(q·n)', () => {
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9)).toBe(9);
    expect(percentile([5], 0.5)).toBe(5);
    expect(percentile([], 0.5)).toBeUndefined();
  });
});

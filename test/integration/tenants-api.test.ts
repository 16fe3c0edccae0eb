import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { api } from '../helpers/alerting.js';
import { appsClosedAfterEach, postTelemetry, sample } from '../helpers/app.js';
import { metricValue, metricsText } from '../helpers/metrics.js';
import { tempDir } from '../helpers/tmp.js';

const startClosed = appsClosedAfterEach();
const CONFIG = { tenants: [{ id: 'acme', tier: 'strategic' as const }] };

describe('tenants admin API', () => {
  it('creates and replaces tenants (persisted), refuses config tenants, and names bad fields', async () => {
    const dataDir = join(tempDir('tenants'), 'data');
    let t = await startClosed({ dataDir, keepData: true, config: CONFIG });
    const body = { name: 'Globex TV', tier: 'basic', timezone: 'Europe/Berlin', business_hours: { holidays: ['2026-12-25'] }, contacts: [{ name: 'NOC', email: 'noc@globex.example' }], sla: { P1: { response: '4h business' } } };
    const created = await api(t.url, 'PUT', '/v1/admin/tenants/globex?by=carol', body);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: 'globex', name: 'Globex TV', tier: 'basic', timezone: 'Europe/Berlin', contacts: [{ email: 'noc@globex.example' }], keys: [] });
    expect(t.app.tenants.get('globex')!.sla.P1.response).toEqual({ ms: 4 * 3_600_000, calendar: 'business' });
    expect((await api(t.url, 'PUT', '/v1/admin/tenants/globex', { ...body, tier: 'enterprise' })).status).toBe(200);

    // A ticket for the new tenant uses its tier's clocks at once.
    const ticket = await api(t.url, 'POST', '/v1/tickets', { tenant: 'globex', title: 'report', priority: 'P0' });
    expect(ticket.body.sla.find((c: { target: string }) => c.target === 'response').target_ms).toBe(30 * 60_000); // enterprise P0

    expect((await api(t.url, 'PUT', '/v1/admin/tenants/acme', { tier: 'basic' })).status).toBe(409);
    const bad = await api(t.url, 'PUT', '/v1/admin/tenants/initech', { tier: 'gold', timezone: 'Mars/Olympus', sla: { P0: { response: 'soon' } } });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/tier: /);
    expect(bad.body.message).toMatch(/timezone: is not an IANA time zone/);
    expect(bad.body.message).toMatch(/sla\.P0\.response: "soon" is not an SLA target/);
    expect((await api(t.url, 'PUT', '/v1/admin/tenants/initech', { id: 'other' })).body.message).toMatch(/^id: must match/);
    expect((await api(t.url, 'PUT', '/v1/admin/tenants/x', {}, null)).status).toBe(401);

    await t.close();
    t = await startClosed({ dataDir, config: CONFIG });
    expect(t.app.tenants.get('globex')).toMatchObject({ tier: 'enterprise', timezone: 'Europe/Berlin' });
    expect((await api(t.url, 'GET', '/v1/admin/tenants')).body.map((x: { id: string }) => x.id).sort()).toEqual(['acme', 'default', 'globex']);
  });

  it('takes a tenant\'s budgets (as in the config file) and applies them to its telemetry', async () => {
    const t = await startClosed({ config: CONFIG });
    const put = await api(t.url, 'PUT', '/v1/admin/tenants/globex', { budgets: { series: 5, sessions: 2 } });
    expect(put.status).toBe(201);
    expect(put.body.budgets).toEqual({ series: 5, sessions: 2 });
    expect((await api(t.url, 'PUT', '/v1/admin/tenants/initech', { budgets: { series: 0, points: 'many' } })).body.message).toMatch(/budgets\.series: .*budgets\.points: /s);
    const key = (await api(t.url, 'POST', '/v1/admin/tenants/globex/keys', {})).body.key as string;
    const samples = Array.from({ length: 20 }, (_, i) => sample({ region: `r-${i}`, session: `s-${i}`, dims: { isp: `isp-${i}` } }));
    expect((await postTelemetry(t.url, { samples }, { authorization: `Bearer ${key}` })).body.accepted).toBe(20);
    const text = await metricsText(t.url);
    expect(metricValue(text, 'qoswatch_tenant_series{tenant="globex"}')).toBe(6); // 5, and its region "other"
    expect(metricValue(text, 'qoswatch_tenant_live_sessions{tenant="globex"}')).toBe(2);
    expect(metricValue(text, 'qoswatch_tenant_budget{tenant="globex",budget="points"}')).toBe(24_000); // the default
  });
});

describe('bounded values in the admin API', () => {
  it('refuses a 100 KB rate_limit or silence duration at once, naming the field, without echoing the value', async () => {
    const t = await startClosed({ config: CONFIG });
    // Digits, 100 000 spaces, then a character that fails: the shape that made the old patterns backtrack.
    const rate = `1/1${' '.repeat(100_000)}x`;
    const key = await api(t.url, 'POST', '/v1/admin/tenants/acme/keys', { rate_limit: rate });
    expect(key.status).toBe(400);
    expect(key.body.message).toMatch(/rate_limit: must be at most 64 characters/);
    expect(key.body.message.length).toBeLessThan(300);

    const silence = await api(t.url, 'POST', '/v1/silences', {
      matchers: { tenant: 'acme' }, comment: 'nightly', recurrence: { timezone: 'UTC', start: '02:00', duration: `1${' '.repeat(100_000)}x` },
    });
    expect(silence.status).toBe(400);
    expect(silence.body.message).toMatch(/duration: must be at most 64 characters/);
    expect(silence.body.message.length).toBeLessThan(300);
    expect((await api(t.url, 'GET', '/v1/admin/tenants')).body.find((x: { id: string }) => x.id === 'acme').keys).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { api, incidents, send, stallRule, viewers, writeRules } from '../helpers/alerting.js';
import { type TestApp, appsClosedAfterEach, startApp } from '../helpers/app.js';
import { useInfluxServer } from '../helpers/influx-suite.js';
import { HAVE_INFLUXD, NO_INFLUXD_MESSAGE } from '../helpers/influxd.js';
import { pagingOnCall, useLoopbackServers, writeOnCall } from '../helpers/paging.js';
import { waitFor } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';

if (!HAVE_INFLUXD) console.warn(NO_INFLUXD_MESSAGE);

const S = 1000;
const M = 60 * S;
const T0 = Date.UTC(2030, 0, 7, 12, 0, 0);
const iso = (t: number) => new Date(t).toISOString();
let now = T0;

const startClosed = appsClosedAfterEach();
/** P1 above 10 % stall; with an event's factor 0.5, above 5 %. Fires at once, clears after 5 min. */
const rules = () => writeRules([stallRule({ thresholds: { P1: '> 0.1' }, for: '0s', min_sessions: 0, clear_for: '5m' })]);

async function at(t: TestApp, offset: number, regions: Record<string, number>): Promise<void> {
  now = T0 + offset;
  for (const [region, ratio] of Object.entries(regions)) await send(t.url, viewers(region, now, ratio));
  await t.app.alerting.tick(now);
}

describe('planned events: a rule overlay with tighter thresholds', () => {
  it('tightens thresholds only inside the event window, only in its regions, and stops when cancelled', async () => {
    now = T0;
    const t = await startClosed({ clock: () => now, env: { QOSWATCH_RULES_DIR: rules() } });
    const created = await api(t.url, 'POST', '/v1/events', { name: 'Final', regions: ['eu-west'], starts_at: iso(T0 + 10 * M), ends_at: iso(T0 + 20 * M), factor: 0.5, by: 'ops-lead' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: 1, tenant: 'default', name: 'Final', regions: ['eu-west'], state: 'upcoming', factor: 0.5, rules: null, created_by: 'ops-lead',
      readiness: { due_at: iso(T0 + 10 * M - 86_400_000), sent_at: null },
      thresholds: [{ id: 'stall-ratio', metric: 'stall_ratio', levels: [{ priority: 'P1', normal: '> 0.1', during: '> 0.05' }] }],
    });

    // Before the event: 7 % stall is under the rule's 10 %.
    await at(t, 0, { 'eu-west': 0.07, 'us-east': 0.07 });
    await at(t, 9 * M, { 'eu-west': 0.07, 'us-east': 0.07 });
    expect(await incidents(t.url)).toEqual([]);

    // During it: over the event's 5 % in eu-west (an incident), still under 10 % in us-east (none).
    await at(t, 10 * M, { 'eu-west': 0.07, 'us-east': 0.07 });
    const [inc] = await incidents(t.url);
    expect(await incidents(t.url)).toHaveLength(1);
    expect(inc).toMatchObject({ region: 'eu-west', priority: 'P1', state: 'open' });
    const alerts = (await api(t.url, 'GET', `/v1/incidents/${inc.id}`)).body.alerts;
    expect(alerts[0].trigger).toMatchObject({ threshold: '> 0.05 (Final)', value: expect.closeTo(0.07, 9) });
    expect((await api(t.url, 'GET', '/v1/events/1')).body.state).toBe('active');

    // After it: the same 7 % no longer breaches; the alert clears after clear_for and the incident is mitigated.
    await at(t, 20 * M, { 'eu-west': 0.07 });
    await at(t, 24 * M, { 'eu-west': 0.07 });
    expect((await incidents(t.url))[0].state).toBe('open');
    await at(t, 25 * M, { 'eu-west': 0.07 });
    expect(await incidents(t.url)).toEqual([expect.objectContaining({ id: inc.id, state: 'mitigated' })]);
    expect((await api(t.url, 'GET', '/v1/events?state=ended')).body.events.map((e: { id: number }) => e.id)).toEqual([1]);

    // A cancelled event stops tightening at once.
    const second = await api(t.url, 'POST', '/v1/events', { name: 'Encore', regions: ['us-east'], starts_at: iso(T0 + 26 * M), ends_at: iso(T0 + 60 * M) });
    expect((await api(t.url, 'DELETE', `/v1/events/${second.body.id}`)).body.state).toBe('cancelled');
    await at(t, 27 * M, { 'us-east': 0.07 });
    expect((await incidents(t.url)).filter((i: { region: string }) => i.region === 'us-east')).toEqual([]);
  });

  it('a region falling silent at the planned end of its event opens nothing; the same silence elsewhere is a P0', async () => {
    now = T0;
    const silent = writeRules([{ id: 'region-silent', kind: 'absent', for: '60s', min_baseline: 100, lookback: '1h' }]);
    const t = await startClosed({ clock: () => now, env: { QOSWATCH_RULES_DIR: silent } });
    expect((await api(t.url, 'POST', '/v1/events', { name: 'Final', regions: ['eu-west'], starts_at: iso(T0), ends_at: iso(T0 + 5 * M) })).status).toBe(201);
    // 150 viewers in both regions until the end of the event; then both streams stop.
    for (let s = 0; s <= 5 * M; s += 10 * S) {
      now = T0 + s;
      for (const region of ['eu-west', 'us-east']) await send(t.url, viewers(region, now, 0, 150));
      await t.app.alerting.tick(now);
    }
    // Another event registered later refreshes the overlay: the ended one must stay with it.
    now = T0 + 6 * M;
    expect((await api(t.url, 'POST', '/v1/events', { name: 'Later', regions: ['ap-south'], starts_at: iso(T0 + 60 * M), ends_at: iso(T0 + 90 * M) })).status).toBe(201);
    for (const offset of [6 * M, 7 * M, 10 * M]) {
      now = T0 + offset;
      await t.app.alerting.tick(now);
    }
    expect(await incidents(t.url)).toEqual([expect.objectContaining({ region: 'us-east', priority: 'P0', state: 'open' })]);
  });

  it('rejects bad events with a 4xx naming the field', async () => {
    now = T0;
    const t = await startClosed({ clock: () => now, env: { QOSWATCH_RULES_DIR: rules() } });
    const post = (body: Record<string, unknown>, token?: null) => api(t.url, 'POST', '/v1/events', body, token);
    const base = { name: 'Gala', starts_at: iso(T0 + M), ends_at: iso(T0 + 2 * M) };
    expect((await post(base, null)).status).toBe(401);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...base, name: undefined }, /name/],
      [{ ...base, ends_at: iso(T0) }, /ends_at: must be after starts_at/],
      [{ ...base, starts_at: iso(T0 - 2 * M), ends_at: iso(T0 - M) }, /ends_at: the event is already over/],
      [{ ...base, ends_at: iso(T0 + 40 * 86_400_000) }, /ends_at: an event lasts at most 31 days/],
      [{ ...base, factor: 1.5 }, /factor/],
      [{ ...base, rules: ['no-such-rule'] }, /rules\[0\]: no threshold rule "no-such-rule"/],
      [{ ...base, tenant: 'nobody' }, /tenant: no tenant "nobody"/],
      [{ ...base, notify: ['not-an-email'] }, /notify/],
      [{ ...base, starts_at: 'tomorrow' }, /starts_at/],
    ];
    for (const [body, message] of cases) {
      const r = await post(body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.message).toMatch(message);
    }
    expect((await api(t.url, 'GET', '/v1/events/99')).status).toBe(404);
    expect((await api(t.url, 'GET', '/v1/events')).body.events).toEqual([]);
  });
});

describe.skipIf(!HAVE_INFLUXD)('planned events: the readiness report (real InfluxDB, real SMTP server)', () => {
  const influx = useInfluxServer();
  const { smtp, receiver } = useLoopbackServers();

  it('sends the readiness report once, also when its time passed while the service was down', async () => {
    await influx().createDb('readiness');
    const T = Date.parse('2026-12-05T10:00:00Z');
    const line = (region: string, offsetMs: number, f: string) => `qos_region,region=${region},tenant=acme ${f} ${BigInt(T + offsetMs) * 1_000_000n}`;
    // eu-west in the last 24 h: 0.5 % stall, 1 % loss, p95 700 ms, 2 000 concurrent; 3 days ago: 1 000 concurrent.
    const body = [
      line('eu-west', -3600_000, 'stall_ms=500,play_ms=99500,packets_lost=100,packets_expected=10000,latency_p95=700,concurrency=2000i,samples=100i'),
      line('eu-west', -3 * 86_400_000, 'stall_ms=1500,play_ms=98500,packets_lost=0,packets_expected=10000,latency_p95=650,concurrency=1000i,samples=100i'),
    ].join('\n');
    expect((await fetch(`${influx().url}/write?db=readiness&precision=ns`, { method: 'POST', body })).status).toBe(204);

    const dataDir = tempDir('qoswatch-events');
    const oncall = writeOnCall(pagingOnCall((p) => receiver.url(p)));
    const rulesDir = rules();
    now = T;
    const start = () =>
      startApp({
        dataDir, clock: () => now,
        config: { default_tenant: 'acme', tenants: [{ id: 'acme', name: 'Acme Live', timezone: 'Asia/Shanghai' }] },
        env: { QOSWATCH_RULES_DIR: rulesDir, QOSWATCH_ONCALL: oncall, INFLUX_API: 'v1', INFLUX_URL: influx().url, INFLUX_DB: 'readiness', SMTP_URL: smtp.url },
      });

    let t = await start();
    try {
      const e = await api(t.url, 'POST', '/v1/events', {
        name: 'Double 11 Gala', regions: ['eu-west'], starts_at: iso(T + 3 * 3600_000), ends_at: iso(T + 5 * 3600_000), readiness_lead: '2h', notify: ['noc@acme.example'],
      });
      expect(e.body.readiness.due_at).toBe(iso(T + 3600_000));
      t.app.stateDb!
        .prepare("INSERT INTO incidents (group_key, tenant, region, title, state, priority, opened_at, updated_at) VALUES ('g', 'acme', 'eu-west', 'latency creeping up on isp-a', 'acknowledged', 'P2', ?, ?)")
        .run(T - 600_000, T);
      await t.app.sendReadiness();
      expect(smtp.mails).toHaveLength(0); // not due yet
    } finally {
      await t.close();
    }

    // Down at T+1h, when the report was due; back at T+1.5h: it goes out at start.
    now = T + 90 * M;
    t = await start();
    try {
      const mail = await waitFor('the readiness report', () => smtp.mails[0]);
      expect(mail.subject).toBe('[qoswatch] Readiness: Double 11 Gala — Acme Live, starts Sat 5 Dec 21:00 CST');
      expect((mail.to as { value: { address: string }[] }).value.map((a) => a.address)).toEqual(['noc@acme.example']);
      const text = mail.text!;
      for (const part of [text, String(mail.html)]) {
        expect(part).toContain('0.50%'); // last 24 h stall ratio
        expect(part).toContain('1.00%'); // last 7 days stall ratio: (500 + 1500) / 200 000
        expect(part).toContain('2,000'); // peak concurrency
        expect(part).toMatch(/700\s*ms/);
        expect(part).toContain('Alice');
        expect(part).toContain('Bob');
        expect(part).toContain('latency creeping up on isp-a');
      }
      expect(text).toContain('P1: > 0.1 → > 0.05');
      expect(String(mail.html)).toContain('&#62; 0.05');
      await waitFor('the event marked as sent', async () => ((await api(t.url, 'GET', '/v1/events/1')).body.readiness.sent_at ? true : undefined));
      expect((await api(t.url, 'GET', '/v1/events/1')).body.readiness).toMatchObject({ sent_at: iso(now), attempts: 1, error: null });
    } finally {
      await t.close();
    }

    now += M;
    t = await start();
    try {
      await t.app.sendReadiness();
      expect(smtp.mails).toHaveLength(1);
    } finally {
      await t.close();
    }
  });
});

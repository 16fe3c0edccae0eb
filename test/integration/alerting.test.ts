import { describe, expect, it, vi } from 'vitest';
import { type RuleDef, type Sample, api, notPaging, incidents, send, stallRatio, stallRule, viewers, writeRules } from '../helpers/alerting.js';
import { ADMIN_TOKEN, INGEST_KEY, type TestApp, appsClosedAfterEach, startApp } from '../helpers/app.js';
import { freePort } from '../helpers/ports.js';
import { metricValue, metricsText } from '../helpers/metrics.js';

/**
 * The rule engine, incidents and silences in the real app (real SQLite, telemetry over HTTP) with an injected clock:
 * every step moves `now`, sends samples stamped `now` and runs one evaluation pass at `now`, so `for`, `clear_for`
 * and silence are exact — no sleeps. (The app's own timers also evaluate, but at the same `now`.)
 */

const S = 1000;
/** A window start (10 s windows), far from the real clock so nothing depends on it. */
const T0 = Date.UTC(2030, 0, 7, 12, 0, 0);
const iso = (offset: number) => new Date(T0 + offset).toISOString();

let now = T0;
let sent: Sample[] = [];

const startClosed = appsClosedAfterEach();

async function start(rules: RuleDef[] | string, dir?: string): Promise<TestApp> {
  now = T0;
  sent = [];
  return startClosed({ clock: () => now, env: { QOSWATCH_RULES_DIR: dir ?? writeRules(rules) } });
}


/** Moves the clock to T0 + `offset`, sends 30 viewers per region with the given stall ratio, evaluates once. */
async function at(t: TestApp, offset: number, regions: Record<string, number> = {}): Promise<void> {
  now = T0 + offset;
  for (const [region, ratio] of Object.entries(regions)) {
    const batch = viewers(region, now, ratio);
    await send(t.url, batch);
    sent.push(...batch);
  }
  await t.app.alerting.tick(now);
}

const detail = async (t: TestApp, id: number) => {
  const r = await api(t.url, 'GET', `/v1/incidents/${id}`);
  expect(r.status).toBe(200);
  return r.body;
};
const kinds = (d: { timeline: { kind: string }[] }) => d.timeline.filter(notPaging).map((e) => e.kind);
const instant = stallRule({ for: '0s', min_sessions: 0, clear_for: '5m' });

describe('threshold rules open and mitigate incidents', () => {
  it('a stall storm in one region opens exactly one P1 incident after `for`, then auto-mitigates after `clear_for`', async () => {
    const t = await start([stallRule()]);
    const storm = { 'eu-west': 0.08, 'us-east': 0 };
    for (const s of [0, 10, 20]) {
      await at(t, s * S, storm);
      expect(await incidents(t.url)).toEqual([]);
    }
    const pending = await api(t.url, 'GET', '/v1/alerts');
    expect(pending.body).toEqual([expect.objectContaining({ rule: 'stall-ratio', labels: { tenant: 'default', region: 'eu-west' }, status: 'pending', priority: 'P1', since: iso(0) })]);
    await at(t, 29_999);
    expect(await incidents(t.url)).toEqual([]);

    // `for` has run out at T0+30s: the alert fires on the windows it has (T0..T0+20s), no new sample needed. (With
    // samples stamped T0+30s, the app's own timer could evaluate just before or after they land.)
    await at(t, 30 * S);
    const opened = await incidents(t.url);
    expect(opened).toEqual([expect.objectContaining({ tenant: 'default', region: 'eu-west', priority: 'P1', state: 'open', silenced: false, opened_at: iso(30 * S) })]);
    const id = opened[0].id as number;
    const eu = sent.filter((s) => s.region === 'eu-west');
    expect((await detail(t, id)).alerts).toEqual([
      expect.objectContaining({
        rule: 'stall-ratio', labels: { tenant: 'default', region: 'eu-west' }, priority: 'P1', firing: true, fired_at: iso(30 * S),
        trigger: {
          metric: 'stall_ratio', value: expect.closeTo(stallRatio(eu), 12), threshold: '> 0.05', window_ms: 60_000,
          samples: eu.length, sessions: expect.any(Number),
        },
      }),
    ]);
    expect(stallRatio(eu)).toBeCloseTo(0.08, 12);

    // The storm goes on: the same incident, nothing new.
    for (const s of [30, 40, 50]) await at(t, s * S, storm);
    expect((await incidents(t.url)).map((i) => i.id)).toEqual([id]);
    expect((await api(t.url, 'GET', '/v1/alerts')).body).toEqual([expect.objectContaining({ rule: 'stall-ratio', status: 'firing', fired_at: iso(30 * S) })]);

    // eu-west recovers. The 1 min window still holds storm windows until T0+80s (3 of 6 windows stalling 8 %: 4 %),
    // so clear_for (1 min) runs from T0+80s: still open at +130s, mitigated by qoswatch at +140s.
    const healthy = { 'eu-west': 0, 'us-east': 0 };
    for (let s = 60; s <= 130; s += 10) await at(t, s * S, healthy);
    expect((await incidents(t.url))[0]).toMatchObject({ id, state: 'open' });
    await at(t, 140 * S, healthy);
    const mitigated = await detail(t, id);
    expect(mitigated).toMatchObject({ state: 'mitigated', mitigated_by: 'qoswatch', mitigated_at: iso(140 * S), priority: 'P1' });
    expect(mitigated.alerts).toEqual([expect.objectContaining({ firing: false, cleared_at: iso(140 * S) })]);
    expect(kinds(mitigated)).toEqual(['opened', 'alert_fired', 'alert_cleared', 'mitigated']);
    expect(mitigated.timeline.every((e: { actor: string }) => e.actor === 'qoswatch')).toBe(true);
    expect(await incidents(t.url)).toHaveLength(1);
    expect((await api(t.url, 'GET', '/v1/alerts')).body).toEqual([]);
  });

  it('min_sessions and the reported sessions count viewers in the rule window, not viewer-windows', async () => {
    // 30 viewers stalling in eu-west, 6 in ap-east; min_sessions 20. Each viewer beacons every 10 s, so a 1 min
    // window holds 6 beacons per viewer: 6 viewers must not pass a 20-session guard by being counted 6 times.
    const t = await start([stallRule()]);
    for (let s = 0; s <= 90; s += 10) {
      now = T0 + s * S;
      await send(t.url, viewers('eu-west', now, 0.08));
      await send(t.url, viewers('ap-east', now, 0.08, 6));
      await t.app.alerting.tick(now);
    }
    const list = await incidents(t.url);
    expect(list.map((i) => i.region), 'only eu-west has enough viewers to judge').toEqual(['eu-west']);
    expect((await detail(t, list[0].id)).alerts[0].trigger, 'sessions = distinct viewers in the window').toMatchObject({ sessions: 30 });
  });

  it('a region going silent opens a P0 once 60 s pass without a sample from it', async () => {
    const t = await start([{ id: 'region-silent', kind: 'absent', description: 'a region stopped reporting', for: '60s', priority: 'P0', lookback: '1h' }]);
    await at(t, 0, { 'eu-west': 0, 'ap-south': 0 });
    for (const s of [10, 20, 30, 40, 50]) await at(t, s * S, { 'eu-west': 0 });
    await at(t, 59 * S, { 'eu-west': 0 });
    expect(await incidents(t.url)).toEqual([]);
    await at(t, 60 * S, { 'eu-west': 0 });
    const list = await incidents(t.url);
    expect(list).toEqual([expect.objectContaining({ region: 'ap-south', priority: 'P0', state: 'open', opened_at: iso(60 * S) })]);
    expect((await detail(t, list[0].id)).alerts).toEqual([
      expect.objectContaining({ rule: 'region-silent', priority: 'P0', firing: true, trigger: expect.objectContaining({ metric: 'silence_ms', value: 60_000 }) }),
    ]);
  });
});

describe('incidents API', () => {
  it('filters, pages, acts with 409 on the wrong state, comments on the timeline, and validates its input', async () => {
    const t = await start([instant]);
    await at(t, 0, { 'r-a': 0.08, 'r-b': 0.3, 'r-c': 0.08 });
    const all = await incidents(t.url);
    expect(all.map((i) => i.id)).toEqual([...all.map((i) => i.id)].sort((a, b) => b - a)); // newest first
    const byRegion = Object.fromEntries(all.map((i) => [i.region, i]));
    expect(Object.keys(byRegion).sort()).toEqual(['r-a', 'r-b', 'r-c']);
    expect([byRegion['r-a'].priority, byRegion['r-b'].priority, byRegion['r-c'].priority]).toEqual(['P1', 'P0', 'P1']);
    const regions = async (q: string) => (await incidents(t.url, q)).map((i) => i.region).sort();
    const a = byRegion['r-a'].id as number;

    expect(await regions('priority=P0')).toEqual(['r-b']);
    expect(await regions('priority=P0,P1')).toEqual(['r-a', 'r-b', 'r-c']);
    expect(await regions('region=r-c')).toEqual(['r-c']);
    expect(await regions('tenant=default&priority=P1')).toEqual(['r-a', 'r-c']);
    expect(await regions('tenant=nobody')).toEqual([]);

    // ack, then a second ack is a conflict
    now += S;
    const ack = await api(t.url, 'POST', `/v1/incidents/${a}/ack`, { by: 'alice', note: 'looking' });
    expect(ack.status).toBe(200);
    expect(ack.body).toMatchObject({ id: a, state: 'acknowledged', acknowledged_by: 'alice', acknowledged_at: iso(S) });
    const again = await api(t.url, 'POST', `/v1/incidents/${a}/ack`, { by: 'alice' });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('conflict');
    expect(await regions('state=acknowledged')).toEqual(['r-a']);
    expect(await regions('state=open')).toEqual(['r-b', 'r-c']);
    expect(await regions('state=open,acknowledged&priority=P1')).toEqual(['r-a', 'r-c']);

    const comment = await api(t.url, 'POST', `/v1/incidents/${a}/comment`, { by: 'bob', text: 'cdn-a rerouted to cdn-b' });
    expect(comment.status).toBe(201);
    expect(comment.body).toMatchObject({ kind: 'commented', actor: 'bob', data: { text: 'cdn-a rerouted to cdn-b' } });
    const resolve = await api(t.url, 'POST', `/v1/incidents/${a}/resolve`, { by: 'carol' });
    expect(resolve.status).toBe(200);
    expect(resolve.body).toMatchObject({ state: 'resolved', resolved_by: 'carol' });
    expect((await api(t.url, 'POST', `/v1/incidents/${a}/resolve`, {})).status).toBe(409);
    expect((await api(t.url, 'POST', `/v1/incidents/${a}/ack`, {})).status).toBe(409);
    expect(await regions('state=resolved')).toEqual(['r-a']);
    const timeline = ((await detail(t, a)).timeline as { kind: string; actor: string; data?: Record<string, unknown> }[]).filter(notPaging);
    expect(timeline.map((e) => [e.kind, e.actor])).toEqual([
      ['opened', 'qoswatch'], ['alert_fired', 'qoswatch'], ['acknowledged', 'alice'], ['commented', 'bob'], ['resolved', 'carol'],
    ]);
    expect(timeline[2]!.data).toEqual({ note: 'looking' });
    expect(timeline[3]!.data).toEqual({ text: 'cdn-a rerouted to cdn-b' });

    // paging: newest first, next_before continues below the last id
    const p1 = await api(t.url, 'GET', '/v1/incidents?limit=2');
    expect(p1.body.incidents.map((i: { id: number }) => i.id)).toEqual(all.slice(0, 2).map((i) => i.id));
    expect(p1.body.next_before).toBe(all[1].id);
    const p2 = await api(t.url, 'GET', `/v1/incidents?limit=2&before=${p1.body.next_before}`);
    expect(p2.body.incidents.map((i: { id: number }) => i.id)).toEqual([all[2].id]);
    expect(p2.body.next_before).toBeUndefined();

    // errors
    expect((await api(t.url, 'GET', '/v1/incidents/999999')).status).toBe(404);
    expect((await api(t.url, 'POST', '/v1/incidents/999999/ack', {})).status).toBe(404);
    expect((await api(t.url, 'POST', '/v1/incidents/999999/comment', { text: 'x' })).status).toBe(404);
    expect((await api(t.url, 'GET', '/v1/incidents', undefined, null)).status).toBe(401);
    expect((await api(t.url, 'GET', '/v1/incidents', undefined, 'not-the-admin-token-0000')).status).toBe(401);
    expect((await api(t.url, 'POST', `/v1/incidents/${a}/comment`, { text: 'x' }, null)).status).toBe(401);
    for (const [path, body, field] of [
      ['/v1/incidents?priority=P9', undefined, 'querystring.priority'],
      ['/v1/incidents?limit=0', undefined, 'querystring.limit'],
      ['/v1/incidents?state=closed', undefined, 'querystring.state'],
      ['/v1/incidents?before=abc', undefined, 'querystring.before'],
      [`/v1/incidents/${a}/comment`, { by: 'bob' }, 'body.text'],
      [`/v1/incidents/${a}/comment`, { text: '' }, 'body.text'],
    ] as const) {
      const r = await api(t.url, body === undefined ? 'GET' : 'POST', path, body);
      expect(r.status, path).toBe(400);
      expect(r.body.error, path).toBe('bad_request');
      expect(r.body.message, path).toContain(field);
    }
  });

  it('ack, mitigate and resolve take an empty request (the body is optional; by defaults to "admin")', async () => {
    const t = await start([instant]);
    await at(t, 0, { 'eu-west': 0.08 });
    const [inc] = await incidents(t.url);
    for (const [action, state] of [['ack', 'acknowledged'], ['mitigate', 'mitigated'], ['resolve', 'resolved']] as const) {
      const r = await api(t.url, 'POST', `/v1/incidents/${inc.id}/${action}`);
      expect(r.status, `POST ${action} without a body: ${JSON.stringify(r.body)}`).toBe(200);
      expect(r.body).toMatchObject({ state, [`${state}_by`]: 'admin' });
    }
  });
});

describe('silences', () => {
  it('record but silence matching incidents, reject bad input naming the field, and unsilence when deleted', async () => {
    const t = await start([instant]);
    const bad = async (body: unknown, field: string) => {
      const r = await api(t.url, 'POST', '/v1/silences', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.message, JSON.stringify(body)).toContain(field);
    };
    await bad({ matchers: {}, comment: 'x' }, 'body.matchers');
    await bad({ matchers: { region: 'eu-west' }, comment: 'x', recurrence: { timezone: 'Mars/Olympus_Mons', start: '02:00', duration: '2h' } }, 'body.recurrence.timezone');
    await bad({ matchers: { region: 'eu-west' }, comment: 'x', starts_at: T0 + 60 * S, ends_at: T0 }, 'ends_at');
    expect((await api(t.url, 'GET', '/v1/silences')).body).toEqual([]);

    const created = await api(t.url, 'POST', '/v1/silences', { matchers: { region: 'eu-west' }, comment: 'planned CDN switch', by: 'ops' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ matchers: { region: 'eu-west' }, active: true, created_by: 'ops' });

    await at(t, 0, { 'eu-west': 0.08, 'us-east': 0.08 });
    const byRegion = Object.fromEntries((await incidents(t.url)).map((i) => [i.region, i]));
    expect(byRegion['eu-west']).toMatchObject({ state: 'open', priority: 'P1', silenced: true });
    expect(byRegion['us-east']).toMatchObject({ state: 'open', priority: 'P1', silenced: false });
    const eu = byRegion['eu-west'].id as number;
    expect((await detail(t, eu)).alerts).toEqual([expect.objectContaining({ firing: true, silenced: true })]);

    now += 5 * S;
    const del = await api(t.url, 'DELETE', `/v1/silences/${created.body.id}`);
    expect(del.status).toBe(204);
    await at(t, 10 * S, { 'eu-west': 0.08, 'us-east': 0.08 });
    const after = await detail(t, eu);
    expect(after).toMatchObject({ state: 'open', silenced: false });
    expect(after.alerts).toEqual([expect.objectContaining({ firing: true, silenced: false })]);
    expect(kinds(after)).toEqual(['opened', 'alert_fired', 'unsilenced']);
    expect((await api(t.url, 'GET', '/v1/silences')).body).toEqual([]);
    expect((await api(t.url, 'GET', '/v1/silences?deleted=true')).body).toEqual([expect.objectContaining({ id: created.body.id })]);
    expect(await incidents(t.url)).toHaveLength(2);
  });
  it('re-checks silences only when one can start or end (an edit, a start or end instant, a maintenance window opening or closing), not on every pass', async () => {
    const t = await start([instant]);
    await at(t, 0, { 'eu-west': 0.08 });
    const [inc] = await incidents(t.url);
    const refreshes = vi.spyOn(t.app.incidents, 'refreshSilences');
    const silenced = async () => (await detail(t, inc.id)).silenced;
    const created = await api(t.url, 'POST', '/v1/silences', { matchers: { region: 'eu-west' }, comment: 'CDN switch', starts_at: T0 + 60 * S, ends_at: T0 + 120 * S });
    expect(created.status).toBe(201);
    // T0 is Mon 12:00 UTC: a daily maintenance window 12:03–12:04.
    const window = await api(t.url, 'POST', '/v1/silences', { matchers: { region: 'eu-west' }, comment: 'nightly', recurrence: { timezone: 'UTC', start: '12:03', duration: '1m' } });
    expect(window.status).toBe(201);
    const byApi = refreshes.mock.calls.length;

    /** Evaluation passes a second apart from `from` to `to` seconds (inclusive); how many re-checked silences. */
    const passes = async (from: number, to: number) => {
      const before = refreshes.mock.calls.length;
      for (let s = from; s <= to; s++) {
        if (s % 10 === 0) await at(t, s * S, { 'eu-west': 0.08 });
        else await t.app.alerting.tick((now = T0 + s * S));
      }
      return refreshes.mock.calls.length - before;
    };
    await passes(1, 1); // the first pass after an edit re-checks (unless the app's own timer did already)
    expect(await passes(2, 59), 'nothing starts or ends before 60 s').toBe(0);
    expect(await silenced()).toBe(false);
    expect(await passes(60, 60)).toBe(1);
    expect(await silenced()).toBe(true);
    expect(await passes(61, 119)).toBe(0);
    expect(await passes(120, 120)).toBe(1);
    expect(await silenced()).toBe(false);
    expect(await passes(121, 179)).toBe(0);
    expect(await passes(180, 180)).toBe(1);
    expect(await silenced(), 'inside the maintenance window').toBe(true);
    expect(await passes(181, 240)).toBe(1);
    expect(await silenced()).toBe(false);
    expect(kinds(await detail(t, inc.id)).filter((k) => k.endsWith('silenced'))).toEqual(['silenced', 'unsilenced', 'silenced', 'unsilenced']);
    expect(byApi, 'creating a silence re-checks at once (the API)').toBeGreaterThan(0);
  });
});

describe('rule files', () => {
  const lossRule = (metric: string) => ({ id: 'loss', description: 'packet loss per region', metric, window: '1m', thresholds: { P1: '> 0.05' } });

  it('a broken file on reload is refused with 422 naming file, rule and field; the old rules stay; the fixed file loads', async () => {
    const dir = writeRules([stallRule()]);
    const t = await start([], dir);
    const ruleIds = async () => ((await api(t.url, 'GET', '/v1/rules')).body.rules as { id: string }[]).map((r) => r.id);
    expect(await ruleIds()).toEqual(['stall-ratio']);

    writeRules([lossRule('packet_los')], dir, 'zz-loss.yaml');
    const refused = await api(t.url, 'POST', '/v1/admin/rules/reload');
    expect(refused.status).toBe(422);
    expect(refused.body.error).toBe('invalid_rules');
    expect(refused.body.problems).toEqual([expect.stringMatching(/zz-loss\.yaml: rule "loss": metric: /)]);
    expect(await ruleIds()).toEqual(['stall-ratio']);

    writeRules([lossRule('packet_loss')], dir, 'zz-loss.yaml');
    const ok = await api(t.url, 'POST', '/v1/admin/rules/reload');
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ reloaded: true, rules: 2 });
    expect(ok.body.files).toHaveLength(2);
    const rules = (await api(t.url, 'GET', '/v1/rules')).body.rules;
    expect(rules.map((r: { id: string }) => r.id)).toEqual(['stall-ratio', 'loss']);
    expect(rules[1]).toMatchObject({ id: 'loss', kind: 'threshold', metric: 'packet_loss', file: 'zz-loss.yaml', thresholds: { P1: '> 0.05' } });
  });

  it('an invalid rules dir stops the start, naming file, rule and field', async () => {
    const dir = writeRules([stallRule({ id: 'stall-typo', thresholds: { P0: '> 0.2', P1: '>> 0.05' } })], undefined, 'broken.yaml');
    await expect(startApp({ env: { QOSWATCH_RULES_DIR: dir } })).rejects.toThrow(/broken\.yaml: rule "stall-typo": thresholds\.P1: .*>> 0\.05/);
  });
});

describe('/metrics', () => {
  it('counts evaluations, fired alerts and opened incidents', async () => {
    const t = await start([instant]);
    const before = await metricsText(t.url);
    expect(metricValue(before, 'qoswatch_alert_transitions_total{type="fired"}') ?? 0).toBe(0);
    expect(metricValue(before, 'qoswatch_incident_events_total{kind="opened"}') ?? 0).toBe(0);
    await at(t, 0, { 'eu-west': 0.08 });
    const after = await metricsText(t.url);
    expect(metricValue(after, 'qoswatch_rule_evaluations_total')).toBeGreaterThanOrEqual(1);
    expect(metricValue(after, 'qoswatch_alert_transitions_total{type="fired"}')).toBe(1);
    expect(metricValue(after, 'qoswatch_incident_events_total{kind="opened"}')).toBe(1);
  });

  const METRICS_TOKEN = 'metrics-scrape-token-0123456789';
  const scrape = async (url: string, token?: string) => {
    const r = await fetch(`${url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: r.status, text: await r.text() };
  };

  it("is not public: every tenant's open incidents are there, so it needs the metrics or the admin token", async () => {
    now = T0;
    const t = await startClosed({ clock: () => now, env: { QOSWATCH_RULES_DIR: writeRules([instant]), QOSWATCH_METRICS_TOKEN: METRICS_TOKEN } });
    await at(t, 0, { 'eu-west': 0.08 });
    for (const token of [undefined, 'wrong-token-0123456789', INGEST_KEY]) {
      const r = await scrape(t.url, token);
      expect(r.status, String(token)).toBe(401);
      expect(JSON.parse(r.text)).toEqual({ error: 'unauthorized', message: expect.stringMatching(/QOSWATCH_METRICS_TOKEN/) });
    }
    for (const token of [METRICS_TOKEN, ADMIN_TOKEN]) {
      const r = await scrape(t.url, token);
      expect(r.status).toBe(200);
      expect(r.text).toMatch(/^qoswatch_incidents_open\{tenant="default",priority="P1"\} 1$/m);
    }
  });

  it('is served on its own address instead when QOSWATCH_METRICS_LISTEN is set (the token still applies if set)', async () => {
    const port = await freePort();
    const t = await startClosed({ env: { QOSWATCH_METRICS_LISTEN: `127.0.0.1:${port}` } });
    expect((await scrape(t.url, ADMIN_TOKEN)).status).toBe(404);
    const open = await scrape(`http://127.0.0.1:${port}`);
    expect(open.status).toBe(200);
    expect(open.text).toContain('qoswatch_rule_evaluations_total');
    expect((await fetch(`http://127.0.0.1:${port}/v1/incidents`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(404);
    await t.close();

    const port2 = await freePort();
    const guarded = await startClosed({ env: { QOSWATCH_METRICS_LISTEN: `127.0.0.1:${port2}`, QOSWATCH_METRICS_TOKEN: METRICS_TOKEN } });
    expect((await scrape(`http://127.0.0.1:${port2}`)).status).toBe(401);
    expect((await scrape(`http://127.0.0.1:${port2}`, METRICS_TOKEN)).status).toBe(200);
    expect((await scrape(guarded.url, METRICS_TOKEN)).status).toBe(404);
  });
});

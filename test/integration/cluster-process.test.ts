import { existsSync } from 'node:fs';
import { type IncomingMessage, get } from 'node:http';
import { ADMIN_PASSWORD, asSession, signIn } from '../helpers/accounts.js';
import { describe, expect, it } from 'vitest';
import { postTelemetry } from '../helpers/app.js';
import { api, incidents, send, viewers, writeRules } from '../helpers/alerting.js';
import { metricsText, metricValue } from '../helpers/metrics.js';
import { LINK_SECRET, OPS_HOOK, PUBLIC_URL, pagingEntries, pagingOnCall, pagingRule, personIn, timeline, useLoopbackServers, writeOnCall } from '../helpers/paging.js';
import { waitFor } from '../helpers/ports.js';
import { NATS_URL, testPrefix } from '../helpers/nats.js';
import { PG_URL, freshSchema } from '../helpers/postgres.js';
import { header, json } from '../helpers/receiver.js';
import { CLI, type ServiceProcess, runCliStreams, servicesKilledAfterEach } from '../helpers/service.js';

/**
 * The cluster mode: nodes of the built service, as real processes, sharing their state in the machine's PostgreSQL
 * and their telemetry in its NATS JetStream; one of them leads (pages, escalates), workers own partitions by lease.
 */

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);

const { receiver } = useLoopbackServers();
const service = servicesKilledAfterEach();

const leader = async (url: string) => metricValue(await metricsText(url), 'qoswatch_leader');
const ready = async (url: string, role: string) => (await fetch(`${url}/readyz?role=${role}`)).status;

describe.runIf(PG_URL && NATS_URL)('cluster mode: nodes sharing PostgreSQL and NATS', () => {
  it('one leads and pages; a leader-only node refuses telemetry, shares the API and its silences reach the worker; killed, the leader hands a failing page to the other, which delivers it with the same key', async () => {
    const { schema, drop } = freshSchema();
    const doc = pagingOnCall((p) => receiver.url(p));
    personIn(doc, 'alice').notify = ['ops-hook'];
    const common = {
      QOSWATCH_MODE: 'cluster',
      DATABASE_URL: PG_URL!,
      DATABASE_SCHEMA: schema,
      NATS_URL: NATS_URL!,
      QOSWATCH_NATS_PREFIX: testPrefix(),
      QOSWATCH_PARTITIONS: '4',
      QOSWATCH_LEASE_TTL: '1s',
      QOSWATCH_LEADER_CHECK: '200ms',
      QOSWATCH_RULES_DIR: writeRules([pagingRule()]),
      QOSWATCH_ONCALL: writeOnCall(doc),
      QOSWATCH_PUBLIC_URL: PUBLIC_URL,
      QOSWATCH_LINK_SECRET: LINK_SECRET,
      QOSWATCH_PAGE_TIMEOUT: '1s',
      QOSWATCH_SHUTDOWN_TIMEOUT: '1s',
    };
    try {
      const a = await service({ ...common, QOSWATCH_ROLES: 'collector,worker,leader', QOSWATCH_NODE_ID: 'node-a' });
      const b = await service({ ...common, QOSWATCH_ROLES: 'leader', QOSWATCH_NODE_ID: 'node-b' });
      const status = async () => {
        const r = await runCliStreams(['cluster', 'status'], { DATABASE_URL: PG_URL!, DATABASE_SCHEMA: schema, NATS_URL: NATS_URL!, QOSWATCH_NATS_PREFIX: common.QOSWATCH_NATS_PREFIX, QOSWATCH_PARTITIONS: '4' });
        expect(r.code, r.stderr).toBe(0);
        return JSON.parse(r.stdout);
      };
      await waitFor('node-a to own every partition', async () => ((await status()).partitions.owners['node-a']?.length === 4 ? true : undefined));
      expect(await status()).toMatchObject({ schema, leader: { held: true, node: 'node-a' }, partitions: { owners: { 'node-a': [0, 1, 2, 3] }, unowned: [] }, outbox: { waiting: 0 }, incidents: { open: 0 } });
      expect([await leader(a.url), await leader(b.url)], 'the node that started first leads').toEqual([1, 0]);
      // Readiness per role, for load balancers: telemetry to the collector, paging on the leader, the API on both.
      expect([await ready(a.url, 'telemetry'), await ready(b.url, 'telemetry')]).toEqual([200, 503]);
      expect([await ready(a.url, 'leader'), await ready(b.url, 'leader')]).toEqual([200, 503]);
      expect([await ready(a.url, 'api'), await ready(b.url, 'api')]).toEqual([200, 200]);
      expect([await ready(a.url, 'worker'), await ready(b.url, 'worker')], 'a worker can own partitions; a leader-only node cannot').toEqual([200, 503]);

      // A node without the collector role refuses telemetry, saying where to send it.
      const refused = await postTelemetry(b.url, { samples: viewers('eu-west', Date.now(), 0.3) });
      expect(refused.status).toBe(503);
      expect(JSON.stringify(refused.body)).toMatch(/does not take telemetry/);

      // A silence made through the other node's API reaches the worker's cache (PostgreSQL's notification).
      const silence = await api(b.url, 'POST', '/v1/silences', { matchers: { region: 'us-east' }, comment: 'CDN switch', ends_at: Date.now() + 3_600_000 });
      expect(silence.status).toBe(201);
      await waitFor('the worker to hold the silence', async () => ((await api(a.url, 'GET', '/v1/silences')).body.length === 1 ? true : undefined));

      // The page to alice fails (500) while the first leader retries it.
      receiver.otherwise = { status: 500, body: 'down' };
      await send(a.url, [...viewers('eu-west', Date.now(), 0.3), ...viewers('us-east', Date.now(), 0.3)]);
      const opened = await waitFor('both incidents, on either node', async () => {
        const list = await incidents(b.url);
        return list.length === 2 ? list : undefined;
      });
      const eu = opened.find((i) => i.region === 'eu-west')!;
      const us = opened.find((i) => i.region === 'us-east')!;
      expect(us.silenced, 'the silence made on the other node covers it').toBe(true);
      await waitFor('a failed attempt at the page', () => (receiver.to(OPS_HOOK).some((r) => r.answered?.status === 500) ? true : undefined));

      // The leader dies. The other node takes the lead and delivers the page once the endpoint answers again.
      expect(await a.stop('SIGKILL')).toBe('SIGKILL');
      receiver.otherwise = { status: 200, body: 'ok' };
      await waitFor('the other node to lead', async () => ((await leader(b.url)) === 1 ? true : undefined), 10_000);
      expect(await ready(b.url, 'leader')).toBe(200);
      expect(metricValue(await metricsText(b.url), 'qoswatch_leader_changes_total{to="leader"}'), 'one failover').toBe(1);
      await waitFor('the dead worker\'s leases to age out', async () => ((await status()).partitions.unowned.length === 4 ? true : undefined));
      expect(await status()).toMatchObject({ leader: { held: true, node: 'node-b' }, partitions: { owners: {} }, incidents: { open: 2 } });
      await waitFor('the page delivered by the new leader', () => (receiver.to(OPS_HOOK).some((r) => r.answered?.status === 200) ? true : undefined), 30_000);

      const requests = receiver.to(OPS_HOOK);
      const delivered = requests.find((r) => r.answered?.status === 200)!;
      expect(json(delivered)).toMatchObject({ kind: 'opened', incident: { id: eu.id }, mention: 'U-alice' });
      expect(new Set(requests.map((r) => header(r, 'idempotency-key'))).size, 'every attempt, before and after the failover, is the same page').toBe(1);
      expect(requests.every((r) => json(r).incident.id === eu.id), 'the silenced incident pages nobody').toBe(true);
      await waitFor('the delivery on the timeline', async () => ((await pagingEntries(b.url, eu.id)).some((e) => e.kind === 'page_delivered') ? true : undefined));
      expect((await pagingEntries(b.url, us.id)).map((e) => e.kind)).toEqual(['not_paged']);
    } finally {
      await drop();
    }
  });

  it('two workers share the partitions and take telemetry for any region; kill -9 the storm region\'s owner: the other takes its partitions over from the checkpoint, and the storm stays one incident, paged once', async () => {
    const { schema, drop } = freshSchema();
    const doc = pagingOnCall((p) => receiver.url(p));
    personIn(doc, 'alice').notify = ['ops-hook'];
    const prefix = testPrefix();
    const common = {
      QOSWATCH_MODE: 'cluster', DATABASE_URL: PG_URL!, DATABASE_SCHEMA: schema, NATS_URL: NATS_URL!, QOSWATCH_NATS_PREFIX: prefix,
      QOSWATCH_PARTITIONS: '4', QOSWATCH_LEASE_TTL: '1s', QOSWATCH_LEADER_CHECK: '200ms', QOSWATCH_RULES_DIR: writeRules([pagingRule()]),
      QOSWATCH_ONCALL: writeOnCall(doc), QOSWATCH_PUBLIC_URL: PUBLIC_URL, QOSWATCH_LINK_SECRET: LINK_SECRET, QOSWATCH_SHUTDOWN_TIMEOUT: '1s',
    };
    const status = async () => {
      const r = await runCliStreams(['cluster', 'status'], { DATABASE_URL: PG_URL!, DATABASE_SCHEMA: schema, NATS_URL: NATS_URL!, QOSWATCH_NATS_PREFIX: prefix, QOSWATCH_PARTITIONS: '4' });
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { partitions: { owners: Record<string, number[]>; unowned: number[] } };
    };
    try {
      // Each region is evaluated on one node: a rule grouping wider is refused at start, naming it.
      await expect(service({ ...common, QOSWATCH_RULES_DIR: writeRules([pagingRule({ id: 'stall-anywhere', group_by: ['tenant'] })]) })).rejects.toThrow(/rule stall-anywhere: group_by must include tenant and region/);
      const nodes = { 'node-a': await service({ ...common, QOSWATCH_NODE_ID: 'node-a' }), 'node-b': await service({ ...common, QOSWATCH_NODE_ID: 'node-b' }) };
      const owners = await waitFor('both workers to own partitions', async () => {
        const { owners, unowned } = (await status()).partitions;
        return owners['node-a']?.length && owners['node-b']?.length && unowned.length === 0 ? owners : undefined;
      });
      expect([...owners['node-a']!, ...owners['node-b']!].sort(), 'each partition has one owner').toEqual([0, 1, 2, 3]);

      // A storm in one region, sent to both collectors: its owner evaluates all of it, wherever it arrived.
      const storm = (ts: number) => viewers('eu-west', ts, 0.3);
      const start = Date.now();
      await send(nodes['node-a'].url, storm(start).slice(0, 15));
      await send(nodes['node-b'].url, storm(start).slice(15));
      const [inc] = await waitFor('the storm\'s incident', async () => {
        const list = await incidents(nodes['node-a'].url);
        return list.length ? list : undefined;
      });
      await waitFor('its page delivered', () => (receiver.to(OPS_HOOK).some((r) => r.answered?.status === 200) ? true : undefined));
      const { partitionOf } = await import('../../src/cluster/partitions.js');
      const p = partitionOf(inc.tenant, 'eu-west', 4);
      const [ownerId, survivorId] = owners['node-a']!.includes(p) ? (['node-a', 'node-b'] as const) : (['node-b', 'node-a'] as const);
      const survivor = nodes[survivorId];

      // The owner dies mid-storm; the storm goes on, sent to the survivor, which takes the partition over.
      expect(await nodes[ownerId].stop('SIGKILL')).toBe('SIGKILL');
      for (let i = 1; i <= 3; i++) await send(survivor.url, storm(start + i * 1000));
      await waitFor('the survivor to own every partition', async () => ((await status()).partitions.owners[survivorId]?.length === 4 ? true : undefined), 15_000);
      const text = await metricsText(survivor.url);
      expect(metricValue(text, 'qoswatch_partition_takeovers_total{event="acquired"}')).toBeGreaterThanOrEqual(owners[survivorId]!.length + owners[ownerId]!.length);
      await waitFor('the storm\'s alert resumed on the survivor', async () => (metricValue(await metricsText(survivor.url), 'qoswatch_alerts{status="firing"}') === 1 ? true : undefined));
      await send(survivor.url, storm(Date.now()));
      // Give the survivor's engine passes the time to fire a second incident or page if it were going to.
      await new Promise((r) => setTimeout(r, 2000));
      const after = await incidents(survivor.url);
      expect(after.map((i) => [i.id, i.region, i.state]), 'the storm is still its one incident').toEqual([[inc.id, 'eu-west', 'open']]);
      expect((await timeline(survivor.url, inc.id)).filter((e) => /opened|fired/.test(e.kind)).map((e) => e.kind), 'opened once, by one alert firing once').toEqual(['opened', 'alert_fired']);
      const alerts = await api(nodes[ownerId === 'node-a' ? 'node-b' : 'node-a'].url, 'GET', '/v1/alerts');
      expect(alerts.body.map((a: { labels: { region: string }; status: string }) => [a.labels.region, a.status]), 'any node lists the owners\' alerts').toEqual([['eu-west', 'firing']]);
      const requests = receiver.to(OPS_HOOK).filter((r) => r.answered?.status === 200);
      const keys = requests.map((r) => header(r, 'idempotency-key'));
      expect(new Set(keys).size, 'every delivered page has a key of its own: none was sent twice').toBe(keys.length);
      expect(requests.map((r) => json(r).kind), 'one page: the opening').toEqual(['opened']);
    } finally {
      await drop();
    }
  });

  it('a console session started on one node works on another; the live feed of an API-only node hears what the worker node did; the audit log is shared', async () => {
    const { schema, drop } = freshSchema();
    const common = {
      QOSWATCH_MODE: 'cluster', DATABASE_URL: PG_URL!, DATABASE_SCHEMA: schema, NATS_URL: NATS_URL!, QOSWATCH_NATS_PREFIX: testPrefix(),
      QOSWATCH_PARTITIONS: '4', QOSWATCH_LEASE_TTL: '1s', QOSWATCH_LEADER_CHECK: '200ms', QOSWATCH_RULES_DIR: writeRules([pagingRule()]),
      QOSWATCH_SHUTDOWN_TIMEOUT: '1s', QOSWATCH_ADMIN_PASSWORD: ADMIN_PASSWORD,
    };
    try {
      const a = await service({ ...common, QOSWATCH_ROLES: 'collector,worker,leader', QOSWATCH_NODE_ID: 'node-a' });
      const b = await service({ ...common, QOSWATCH_ROLES: 'leader', QOSWATCH_NODE_ID: 'node-b' });
      await waitFor('node-a to own every partition', async () => ((await ready(a.url, 'worker')) === 200 ? true : undefined));
      const s = await signIn(b.url, 'admin', ADMIN_PASSWORD);
      const live = await new Promise<IncomingMessage>((resolve) => get(`${b.url}/v1/incidents/live`, { headers: { cookie: s.cookie } }, resolve));
      let text = '';
      live.setEncoding('utf8');
      live.on('data', (chunk: string) => (text += chunk));
      try {
        await waitFor('the live feed to follow', () => text.includes(': following') || undefined);
        await send(a.url, viewers('eu-west', Date.now(), 0.3));
        const [inc] = await waitFor('the incident', async () => ((await incidents(a.url)).length ? incidents(a.url) : undefined));
        await waitFor('node-b`s live feed to hear of it', () => new RegExp(`"incident_id":${inc.id},"kind":"opened"`).test(text) || undefined);
        // The session node-b started acts on node-a, as admin, with its CSRF token.
        const acked = await asSession(a.url, s, 'POST', `/v1/incidents/${inc.id}/ack`, {});
        expect(acked.body).toMatchObject({ state: 'acknowledged', acknowledged_by: 'admin' });
        await waitFor('node-b`s live feed to hear of the ack', () => new RegExp(`"incident_id":${inc.id},"kind":"acknowledged"`).test(text) || undefined);
        await asSession(b.url, s, 'POST', '/v1/silences', { matchers: { region: 'us-east' }, comment: 'cluster audit' });
        expect((await asSession(a.url, s, 'GET', '/v1/audit')).body.entries.map((e: { action: string }) => e.action)).toEqual(['silence.create']);
        expect((await asSession(a.url, s, 'POST', '/v1/auth/logout')).status).toBe(204);
        expect((await asSession(b.url, s, 'GET', '/v1/me')).status, 'signed out on one node is signed out on all').toBe(401);
      } finally {
        live.destroy();
      }
    } finally {
      await drop();
    }
  });

  it('an alert source takes alerts on any node and the leader pages them; a missed heartbeat fires, and a ping to any node clears it', async () => {
    const { schema, drop } = freshSchema();
    const doc = pagingOnCall((p) => receiver.url(p));
    personIn(doc, 'alice').notify = ['ops-hook'];
    const common = {
      QOSWATCH_MODE: 'cluster', DATABASE_URL: PG_URL!, DATABASE_SCHEMA: schema, NATS_URL: NATS_URL!, QOSWATCH_NATS_PREFIX: testPrefix(),
      QOSWATCH_PARTITIONS: '4', QOSWATCH_LEASE_TTL: '1s', QOSWATCH_LEADER_CHECK: '200ms', QOSWATCH_RULES_DIR: writeRules([pagingRule()]),
      QOSWATCH_ONCALL: writeOnCall(doc), QOSWATCH_SHUTDOWN_TIMEOUT: '1s',
    };
    const nodes: ServiceProcess[] = [];
    try {
      const a = await service({ ...common, QOSWATCH_ROLES: 'collector,worker,leader', QOSWATCH_NODE_ID: 'node-a' });
      nodes.push(a);
      const b = await service({ ...common, QOSWATCH_ROLES: 'leader', QOSWATCH_NODE_ID: 'node-b' });
      nodes.push(b);
      await waitFor('node-a to lead', async () => ((await leader(a.url)) === 1 ? true : undefined));
      const am = (await api(b.url, 'POST', '/v1/sources', { name: 'prom', kind: 'alertmanager' })).body;
      const post = (url: string, body: unknown) => fetch(`${url}${am.source.endpoint}`, { method: 'POST', headers: { authorization: `Bearer ${am.secret}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const alert = (status: string) => ({ alerts: [{ status, labels: { alertname: 'OriginDown', region: 'eu-west', severity: 'critical' }, annotations: { summary: 'Origin down' }, fingerprint: 'f1' }] });
      // Posted to the standby node: stored in PostgreSQL, paged by the leader.
      expect((await post(b.url, alert('firing'))).status).toBe(202);
      const inc = await waitFor('the incident on the leader', async () => (await incidents(a.url))[0]);
      expect(inc).toMatchObject({ region: 'eu-west', priority: 'P1', state: 'open' });
      await waitFor('alice paged by the leader', () => receiver.to(OPS_HOOK).find((r) => json(r).incident.id === inc.id));
      // The same alert through the other node changes nothing; its resolve through it mitigates.
      expect(await (await post(a.url, alert('firing'))).json()).toEqual({ accepted: 1, rejected: [], incidents: [] });
      expect((await post(a.url, alert('resolved'))).status).toBe(202);
      expect((await incidents(b.url))[0].state).toBe('mitigated');

      const hb = (await api(b.url, 'POST', '/v1/sources', { name: 'job', kind: 'heartbeat', settings: { period: '2s', grace: '1s' } })).body;
      const missed = await waitFor('the missed heartbeat`s incident', async () => (await incidents(b.url)).find((i) => i.title.startsWith('no heartbeat from job')), 15_000);
      const ping = await fetch(`${b.url}${hb.source.endpoint}?token=${hb.secret}`);
      expect(await ping.json()).toEqual({ ok: true, incidents: [missed.id] });
      expect((await incidents(a.url)).find((i) => i.id === missed.id).state).toBe('mitigated');
      for (const node of [a, b]) expect(node.output).not.toContain(hb.secret);
    } finally {
      // The nodes first: the leader's heartbeat watch writes every second, and DROP SCHEMA beside it can deadlock.
      await Promise.allSettled(nodes.map((n) => n.stop('SIGKILL')));
      await drop();
    }
  });
});

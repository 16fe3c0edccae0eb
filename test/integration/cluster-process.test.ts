import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { postTelemetry } from '../helpers/app.js';
import { api, incidents, send, viewers, writeRules } from '../helpers/alerting.js';
import { metricsText, metricValue } from '../helpers/metrics.js';
import { LINK_SECRET, OPS_HOOK, PUBLIC_URL, pagingEntries, pagingOnCall, pagingRule, personIn, useLoopbackServers, writeOnCall } from '../helpers/paging.js';
import { waitFor } from '../helpers/ports.js';
import { PG_URL, freshSchema } from '../helpers/postgres.js';
import { header, json } from '../helpers/receiver.js';
import { CLI, runCliStreams, servicesKilledAfterEach } from '../helpers/service.js';

/**
 * The cluster mode as far as it goes today (issue 17): nodes of the built service, as real processes, sharing their
 * state in the machine's PostgreSQL; one of them leads (pages, escalates); one is the worker (telemetry and rules).
 */

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);

const { receiver } = useLoopbackServers();
const service = servicesKilledAfterEach();

const leader = async (url: string) => metricValue(await metricsText(url), 'qoswatch_leader');
const ready = async (url: string, role: string) => (await fetch(`${url}/readyz?role=${role}`)).status;

describe.runIf(PG_URL)('cluster mode: two nodes sharing PostgreSQL', () => {
  it('one leads and pages; the other refuses telemetry, shares the API and its silences reach the worker; killed, the leader hands a failing page to the other, which delivers it with the same key', async () => {
    const { schema, drop } = freshSchema();
    const doc = pagingOnCall((p) => receiver.url(p));
    personIn(doc, 'alice').notify = ['ops-hook'];
    const common = {
      QOSWATCH_MODE: 'cluster',
      DATABASE_URL: PG_URL!,
      DATABASE_SCHEMA: schema,
      QOSWATCH_LEADER_CHECK: '200ms',
      QOSWATCH_RULES_DIR: writeRules([pagingRule()]),
      QOSWATCH_ONCALL: writeOnCall(doc),
      QOSWATCH_PUBLIC_URL: PUBLIC_URL,
      QOSWATCH_LINK_SECRET: LINK_SECRET,
      QOSWATCH_PAGE_TIMEOUT: '1s',
      QOSWATCH_SHUTDOWN_TIMEOUT: '1s',
    };
    try {
      const a = await service({ ...common, QOSWATCH_ROLES: 'worker,leader', QOSWATCH_NODE_ID: 'node-a' });
      const b = await service({ ...common, QOSWATCH_ROLES: 'leader', QOSWATCH_NODE_ID: 'node-b' });
      const status = async () => {
        const r = await runCliStreams(['cluster', 'status'], { DATABASE_URL: PG_URL!, DATABASE_SCHEMA: schema });
        expect(r.code, r.stderr).toBe(0);
        return JSON.parse(r.stdout);
      };
      expect(await status()).toMatchObject({ schema, leader: { held: true, node: 'node-a' }, worker: { held: true, node: 'node-a' }, outbox: { waiting: 0 }, incidents: { open: 0 } });
      expect([await leader(a.url), await leader(b.url)], 'the node that started first leads').toEqual([1, 0]);
      // Readiness per role, for load balancers: telemetry to the worker, paging on the leader, the API on both.
      expect([await ready(a.url, 'telemetry'), await ready(b.url, 'telemetry')]).toEqual([200, 503]);
      expect([await ready(a.url, 'leader'), await ready(b.url, 'leader')]).toEqual([200, 503]);
      expect([await ready(a.url, 'api'), await ready(b.url, 'api')]).toEqual([200, 200]);

      // One worker per cluster: a second one is refused at start.
      await expect(service({ ...common, QOSWATCH_ROLES: 'worker' })).rejects.toThrow(/another node of this cluster is the worker/);
      // A node without the worker role keeps no windows: it refuses telemetry, saying where to send it.
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
      expect(await status(), 'the dead worker\'s lock went with its session').toMatchObject({ leader: { held: true, node: 'node-b' }, worker: { held: false, node: 'node-a' }, incidents: { open: 2 } });
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
});

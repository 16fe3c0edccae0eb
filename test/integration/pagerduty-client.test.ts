import { Agent } from 'node:https';
import { acknowledge, resolve, trigger } from '@pagerduty/pdjs';
import { afterEach, describe, expect, it } from 'vitest';
import { api, incidents } from '../helpers/alerting.js';
import { appsClosedAfterEach } from '../helpers/app.js';
import { OPS_HOOK, pagingFixtureEnv, useLoopbackServers } from '../helpers/paging.js';
import { waitFor } from '../helpers/ports.js';
import { json } from '../helpers/receiver.js';
import { TlsProxy } from '../helpers/tls-proxy.js';

/**
 * PagerDuty's own JavaScript client (@pagerduty/pdjs), pointed at qoswatch instead of PagerDuty, round-trips
 * trigger → acknowledge → resolve: anything that can page PagerDuty can page qoswatch. The client speaks only
 * https, so a TLS front with a throwaway certificate stands before the service.
 */
const { receiver } = useLoopbackServers();
const startClosed = appsClosedAfterEach();
let proxy: TlsProxy | undefined;
afterEach(async () => {
  await proxy?.stop();
});

describe('a PagerDuty Events v2 client', () => {
  it('triggers, acknowledges and resolves an incident through qoswatch', async () => {
    const t = await startClosed({ env: pagingFixtureEnv(receiver) });
    const created = await api(t.url, 'POST', '/v1/sources', { name: 'pd-clients', kind: 'pagerduty' });
    const routing_key = created.body.secret as string;
    proxy = new TlsProxy(t.url);
    await proxy.start();
    const via = { server: proxy.host, agent: new Agent({ ca: proxy.cert }) };
    // pdjs's types want a payload on every event and do not know node-fetch's `agent` (its Node build passes it on):
    // the events go as the Events API takes them.
    const send = (fn: typeof trigger, data: Record<string, unknown>) => fn({ ...via, data } as unknown as Parameters<typeof trigger>[0]);

    const fired = await send(trigger, { routing_key, dedup_key: 'transcoder-3', payload: { summary: 'Transcoder 3 dropped its ladder', source: 'transcoder-3', severity: 'critical', custom_details: { region: 'ap-south' } } });
    expect(fired.status).toBe(202);
    expect(fired.data).toEqual({ status: 'success', message: 'Event processed', dedup_key: 'transcoder-3' });
    const inc = (await incidents(t.url))[0];
    expect(inc).toMatchObject({ region: 'ap-south', priority: 'P1', state: 'open', title: 'Transcoder 3 dropped its ladder' });
    await t.app.pager.tick();
    await waitFor('the page', () => receiver.to(OPS_HOOK).find((r) => json(r).incident.id === inc.id));

    const acked = await send(acknowledge, { routing_key, dedup_key: 'transcoder-3' });
    expect(acked.data).toMatchObject({ status: 'success', dedup_key: 'transcoder-3' });
    expect((await incidents(t.url))[0]).toMatchObject({ state: 'acknowledged', acknowledged_by: 'source:pd-clients' });

    const resolved = await send(resolve, { routing_key, dedup_key: 'transcoder-3' });
    expect(resolved.data).toMatchObject({ status: 'success' });
    expect((await incidents(t.url))[0]).toMatchObject({ state: 'mitigated' });

    // A wrong routing key is refused in PagerDuty's words.
    const wrong = await send(trigger, { routing_key: '0'.repeat(32), payload: { summary: 's', source: 'x', severity: 'info' } });
    expect(wrong.status).toBe(401);
    expect(wrong.data).toMatchObject({ status: 'invalid event' });
  });
});

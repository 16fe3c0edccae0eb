import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN } from '../helpers/app.js';
import { api, incidents } from '../helpers/alerting.js';
import { AlertmanagerProcess, HAVE_ALERTMANAGER, pagerDutyReceiver, webhookReceiver } from '../helpers/alertmanager.js';
import { OPS_HOOK, pagingFixtureEnv, timeline, useLoopbackServers } from '../helpers/paging.js';
import { waitFor } from '../helpers/ports.js';
import { json } from '../helpers/receiver.js';
import { servicesKilledAfterEach } from '../helpers/service.js';

/**
 * A real Alertmanager pages a person through qoswatch: Prometheus-style alerts posted to Alertmanager reach the built
 * service (its own process) through a webhook_config with the source's secret, open an incident that pages the
 * on-call person at a loopback receiver, and Alertmanager's `resolved` notification mitigates it.
 */
const { receiver } = useLoopbackServers();
const service = servicesKilledAfterEach();
const managers: AlertmanagerProcess[] = [];
afterEach(async () => {
  await Promise.allSettled(managers.splice(0).map((m) => m.stop()));
});

describe.skipIf(!HAVE_ALERTMANAGER)('a real Alertmanager', () => {
  it('pages through qoswatch, and its resolved notification mitigates the incident', async () => {
    const svc = await service({ ...pagingFixtureEnv(receiver), QOSWATCH_LOG_LEVEL: 'info' });
    const created = await api(svc.url, 'POST', '/v1/sources', { name: 'prometheus', kind: 'alertmanager', mapping: { severities: { page: 'P0', critical: 'P1' } } });
    expect(created.status).toBe(201);
    const { source, secret } = created.body;

    const am = new AlertmanagerProcess(webhookReceiver(`${svc.url}${source.endpoint}`, secret));
    managers.push(am);
    await am.start();
    const alert = { labels: { alertname: 'OriginDown', job: 'origin', instance: 'origin-1:9100', region: 'eu-west', severity: 'page' }, annotations: { summary: 'Origin origin-1 is down', runbook_url: 'https://runbooks.example.test/origin-down' }, generatorURL: 'http://prometheus.example.test/graph' };
    await am.post([{ ...alert, startsAt: new Date().toISOString() }]);

    const inc = await waitFor('the incident', async () => (await incidents(svc.url))[0]);
    expect(inc).toMatchObject({ region: 'eu-west', priority: 'P0', state: 'open', title: 'Origin origin-1 is down' });
    const page = await waitFor('alice`s page', () => receiver.to(OPS_HOOK).map((r) => json(r)).find((p) => p.mention === 'U-alice'));
    expect(page.incident).toMatchObject({ id: inc.id, priority: 'P0', runbook: 'https://runbooks.example.test/origin-down' });
    expect(page.incident.text).toContain('source:prometheus: Origin origin-1 is down (http://prometheus.example.test/graph)');

    // Prometheus resolves an alert by sending it again with an end in the past.
    await am.post([{ ...alert, startsAt: new Date(Date.now() - 60_000).toISOString(), endsAt: new Date(Date.now() - 1000).toISOString() }]);
    await waitFor('the incident mitigated', async () => ((await incidents(svc.url))[0].state === 'mitigated') || undefined);
    const kinds = (await timeline(svc.url, inc.id)).map((e) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(['opened', 'alert_fired', 'paged', 'alert_cleared', 'mitigated']));
    expect(svc.output).not.toContain(secret);
    const metrics = await fetch(`${svc.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }).then((r) => r.text());
    expect(metrics).toMatch(/qoswatch_source_alerts_total\{kind="alertmanager",outcome="fired"\} 1/);
    expect(metrics).toMatch(/qoswatch_source_alerts_total\{kind="alertmanager",outcome="cleared"\} 1/);
  });

  it("through its PagerDuty integration (Events API v2, qoswatch's /v2/enqueue): triggers and resolves", async () => {
    const svc = await service({ ...pagingFixtureEnv(receiver), QOSWATCH_LOG_LEVEL: 'info' });
    const created = await api(svc.url, 'POST', '/v1/sources', { name: 'am-pagerduty', kind: 'pagerduty', mapping: { region: 'us-east' } });
    const am = new AlertmanagerProcess(pagerDutyReceiver(`${svc.url}/v2/enqueue`, created.body.secret));
    managers.push(am);
    await am.start();
    const alert = { labels: { alertname: 'PackagerStuck', job: 'packager', severity: 'critical' }, annotations: { summary: 'Packager stuck' } };
    await am.post([{ ...alert, startsAt: new Date().toISOString() }]);
    const inc = await waitFor('the incident', async () => (await incidents(svc.url))[0]);
    // Alertmanager's PagerDuty integration sends severity "error" unless configured otherwise: P2 by default mapping.
    expect(inc).toMatchObject({ region: 'us-east', priority: 'P2', state: 'open' });
    expect(inc.title).toContain('PackagerStuck');
    const [a] = (await api(svc.url, 'GET', `/v1/incidents/${inc.id}`)).body.alerts;
    expect(a.trigger.external).toMatchObject({ kind: 'pagerduty', severity: 'error', summary: '[FIRING:1]  (PackagerStuck packager critical)', labels: { source: 'Alertmanager', num_firing: '1' } });
    await waitFor('alice`s page', () => receiver.to(OPS_HOOK).map((r) => json(r)).find((p) => p.mention === 'U-alice' && p.incident.id === inc.id));
    await am.post([{ ...alert, startsAt: new Date(Date.now() - 60_000).toISOString(), endsAt: new Date(Date.now() - 1000).toISOString() }]);
    await waitFor('the incident mitigated', async () => ((await incidents(svc.url))[0].state === 'mitigated') || undefined);
  });
});

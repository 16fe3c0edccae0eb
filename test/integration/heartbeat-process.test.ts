import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { postTelemetry, sample } from '../helpers/app.js';
import { metricValue, metricsText } from '../helpers/metrics.js';
import { waitFor } from '../helpers/ports.js';
import { HttpReceiver } from '../helpers/receiver.js';
import { ServiceProcess, servicesKilledAfterEach } from '../helpers/service.js';
import { api, incidents } from '../helpers/alerting.js';

/**
 * qoswatch's own heartbeat, from the built service as a process to a loopback receiver standing in for a heartbeat
 * service (or a second qoswatch's /v1/sources/{id}/ping): it pings while ready, stops while it is not (a journal it
 * cannot write), starts again once ready, and its URL's secrets never reach the log.
 */
const TOKEN = 'heartbeat-query-secret-0123456789';
const PATH_SECRET = 'c0ffee00-path-secret-4bd1-9a7e';
/** The service's default aggregation window (QOSWATCH_WINDOW): journal segments are named after it. */
const WINDOW_MS = 10_000;

let receiver: HttpReceiver | undefined;
let svc: ServiceProcess | undefined;
afterEach(async () => {
  await svc?.stop('SIGTERM');
  await receiver?.stop();
  svc = receiver = undefined;
});

const pings = () => receiver!.to(`/ping/${PATH_SECRET}`).length;
const counted = async (outcome: string) => metricValue(await metricsText(svc!.url), `qoswatch_heartbeat_pings_total{outcome="${outcome}"}`) ?? NaN;
const ready = async () => (await fetch(`${svc!.url}/readyz`)).status === 200;

describe('own heartbeat (QOSWATCH_HEARTBEAT_URL)', () => {
  it('pings every interval while ready, none while not ready, again once ready; failures are counted; the secrets stay out of the log', async () => {
    receiver = new HttpReceiver();
    await receiver.start();
    svc = new ServiceProcess({ QOSWATCH_HEARTBEAT_URL: receiver.url(`/ping/${PATH_SECRET}?token=${TOKEN}`), QOSWATCH_HEARTBEAT_INTERVAL: '1s' });
    await svc.start();
    expect(await counted('skipped')).toBe(0);

    await waitFor('three pings', () => pings() >= 3 || undefined, 10_000);
    const first = receiver.to(`/ping/${PATH_SECRET}`)[0]!;
    expect([first.method, first.url]).toEqual(['GET', `/ping/${PATH_SECRET}?token=${TOKEN}`]);
    expect(await counted('sent')).toBeGreaterThanOrEqual(3);

    // A heartbeat service that refuses: counted as failed (and logged once, by origin).
    receiver.otherwise = { status: 503, body: 'down' };
    await waitFor('a failed ping', async () => (await counted('failed')) >= 1 || undefined, 5000);
    receiver.otherwise = { status: 200, body: 'ok' };

    // Not ready: the journal cannot be written (a directory where the window's segment file would go).
    const logDir = join(svc.dataDir, 'ingest-log');
    const now = Date.now();
    const blockers = Array.from({ length: 20 }, (_, i) => join(logDir, `w${Math.floor(now / WINDOW_MS) - 1 + i}.log`));
    for (const b of blockers) mkdirSync(b, { recursive: true });
    expect((await postTelemetry(svc.url, { samples: [sample({ ts: now })] })).status).toBeGreaterThanOrEqual(500);
    expect(await ready()).toBe(false);
    const skippedBefore = await counted('skipped');
    // A ping already on its way (checked ready just before) may land; after it, none.
    await new Promise((r) => setTimeout(r, 1200));
    const held = pings();
    await new Promise((r) => setTimeout(r, 3000));
    expect(pings(), 'no ping while not ready').toBe(held);
    expect(await counted('skipped')).toBeGreaterThanOrEqual(skippedBefore + 2);

    for (const b of blockers) rmSync(b, { recursive: true });
    expect((await postTelemetry(svc.url, { samples: [sample({ ts: Date.now() })] })).status).toBe(202);
    expect(await ready()).toBe(true);
    await waitFor('pings again once ready', () => pings() >= held + 2 || undefined, 10_000);

    expect(svc.output).toContain('heartbeat: pings are answered');
    expect(svc.output).toContain('heartbeat: not pinging while this node is not ready');
    expect(svc.output).toContain('answered 503');
    expect(svc.output).toContain(receiver.url(''));
    expect(svc.output).not.toContain(TOKEN);
    expect(svc.output).not.toContain(PATH_SECRET);
  });
});

describe('two qoswatches watching each other', () => {
  const service = servicesKilledAfterEach();

  it("one's heartbeat source hears the other's pings; when that one dies, a missed heartbeat opens an incident", async () => {
    const watcher = await service({});
    const created = await api(watcher.url, 'POST', '/v1/sources', { name: 'pager-eu', kind: 'heartbeat', mapping: { priority: 'P1' }, settings: { period: '1s', grace: '2s' } });
    const { source, secret } = created.body;
    const pager = await service({ QOSWATCH_HEARTBEAT_URL: `${watcher.url}${source.endpoint}?token=${secret}`, QOSWATCH_HEARTBEAT_INTERVAL: '1s' });
    await waitFor('the pager`s pings heard', async () => (await api(watcher.url, 'GET', `/v1/sources/${source.id}`)).body.seen_at || undefined, 10_000);
    expect(await incidents(watcher.url)).toEqual([]);

    await pager.stop('SIGKILL');
    const inc = await waitFor('the missed heartbeat`s incident', async () => (await incidents(watcher.url))[0], 15_000);
    expect(inc).toMatchObject({ priority: 'P1', state: 'open' });
    expect(inc.title).toMatch(/^no heartbeat from pager-eu: none since /);
    expect(pager.output).not.toContain(secret);
  });
});

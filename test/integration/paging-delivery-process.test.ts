import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type Sample, api, incidents, send, viewers, writeRules } from '../helpers/alerting.js';
import { postTelemetry } from '../helpers/app.js';
import { metric } from '../helpers/metrics.js';
import { OPS_HOOK, SRE_HOOK, drained, pagingEntries, pagingOnCall, pagingRule, personIn, timeline, useLoopbackServers, writeOnCall } from '../helpers/paging.js';
import { waitFor } from '../helpers/ports.js';
import { type ReceivedRequest, json } from '../helpers/receiver.js';
import { CLI, servicesKilledAfterEach } from '../helpers/service.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Delivery under a hung endpoint and under one tenant's flood (issue 14, items 4 and 5), in the built service as a
 * real process with a real SMTP server and a chat receiver on loopback. The assertions are about who gets what
 * while something else is still stuck, not about how long anything took.
 */

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);

const { smtp, receiver } = useLoopbackServers();
const service = servicesKilledAfterEach();

const mailsAbout = (id: number) => smtp.mails.filter((m) => m.subject?.includes(`incident #${id} `));
const hooksAbout = (path: string, id: number) => receiver.to(path).filter((r) => json(r).incident.id === id);

describe('a hung chat endpoint', () => {
  it('delays only its own queue: other destinations and a fallback go out while its request is still held', async () => {
    // Level 1 pages alice (ops-hook, then email) and bob (sre-hook). sre-hook accepts bob's first page and never
    // answers while the test holds it; the page timeout is far longer than the test.
    const doc = pagingOnCall((p) => receiver.url(p));
    (doc.escalation_policies[0]!.levels as { targets: unknown[] }[])[0]!.targets.push({ person: 'bob' });
    personIn(doc, 'alice').notify = ['ops-hook', 'email'];
    personIn(doc, 'bob').notify = ['sre-hook'];
    receiver.answer(SRE_HOOK, 'hold');
    // ops-hook takes alice's first page and refuses her second for good (400): that one falls back to email.
    receiver.answer(OPS_HOOK, { status: 200, body: 'ok' }, { status: 400, body: 'bad request' });
    const svc = await service({
      QOSWATCH_RULES_DIR: writeRules([pagingRule()]),
      QOSWATCH_ONCALL: writeOnCall(doc),
      SMTP_URL: smtp.url,
      QOSWATCH_PAGE_TIMEOUT: '120s',
    });

    // A P1 in eu-west: alice on both channels at once, bob on sre-hook (held).
    await send(svc.url, viewers('eu-west', Date.now(), 0.3));
    const first = await waitFor('the eu-west incident', async () => (await incidents(svc.url)).find((i) => i.region === 'eu-west'));
    await waitFor('alice paged on ops-hook and by email, bob`s page held by sre-hook', () =>
      hooksAbout(OPS_HOOK, first.id).length === 1 && mailsAbout(first.id).length === 1 && receiver.to(SRE_HOOK).length === 1 ? true : undefined,
    );

    // A P2 in us-east while bob's request hangs: alice's first channel (ops-hook) refuses it, the fallback (email)
    // must go out at once, not after the held request.
    await send(svc.url, viewers('us-east', Date.now(), 0.08));
    const second = await waitFor('the us-east incident', async () => (await incidents(svc.url)).find((i) => i.region === 'us-east'));
    await waitFor('alice`s us-east page refused by ops-hook and delivered by email while sre-hook still holds bob`s first page', () =>
      hooksAbout(OPS_HOOK, second.id).length === 1 && mailsAbout(second.id).length === 1 ? true : undefined,
    );
    const [held] = receiver.to(SRE_HOOK) as [ReceivedRequest];
    expect(held.answered, 'bob`s first page is still in flight').toBeUndefined();
    expect(held.cut).toBe(false);
    expect(receiver.to(SRE_HOOK), 'bob`s second page waits in sre-hook`s own queue').toHaveLength(1);
    expect((await pagingEntries(svc.url, second.id)).map((e) => [e.kind, e.data?.recipient, e.data?.channel ?? e.data?.to])).toEqual([
      ['paged', undefined, undefined],
      ['page_failed', 'alice', 'ops-hook'],
      ['page_fallback', 'alice', 'email'],
      ['page_delivered', 'alice', 'email'],
    ]);

    // sre-hook comes back: bob's pages follow in the order they fell due.
    receiver.release();
    await waitFor('bob`s second page', () => (receiver.to(SRE_HOOK).length === 2 ? true : undefined));
    expect(receiver.to(SRE_HOOK).map((r) => [json(r).mention, json(r).incident.id])).toEqual([['U-bob', first.id], ['U-bob', second.id]]);
    await drained(svc.url);
    expect((await pagingEntries(svc.url, first.id)).filter((e) => e.kind === 'page_delivered').map((e) => e.data?.channel).sort()).toEqual(['email', 'ops-hook', 'sre-hook']);
  });
});

describe('one tenant`s flood', () => {
  const B_KEY = 'tenant-b-ingest-key-0123456789';
  /** `n` viewers of `region` at `ratio` (a smaller crowd than viewers()' 30, so 200 regions fit one request). */
  const crowd = (region: string, ratio: number): Sample[] => viewers(region, Date.now(), ratio, 6);
  const REGIONS = Array.from({ length: 200 }, (_, i) => `r-${String(i).padStart(3, '0')}`);

  it('does not delay another tenant`s P0; its people get a few pages that list every region', async () => {
    // Tenants a (the default ingest key) and b; alice is on call for both, by email and on ops-hook (P0/P1: both).
    const config = join(tempDir('qoswatch-config'), 'qoswatch.yaml');
    writeFileSync(config, stringify({ default_tenant: 'a', tenants: [{ id: 'a', name: 'Tenant A' }, { id: 'b', name: 'Tenant B', ingest_keys: [{ id: 'b-key', key_env: 'TENANT_B_KEY' }] }] }));
    const svc = await service({
      QOSWATCH_CONFIG: config,
      TENANT_B_KEY: B_KEY,
      QOSWATCH_RULES_DIR: writeRules([pagingRule({ thresholds: { P0: '> 0.4', P1: '> 0.2', P2: '> 0.05' } })]),
      QOSWATCH_ONCALL: writeOnCall(pagingOnCall((p) => receiver.url(p))),
      SMTP_URL: smtp.url,
      QOSWATCH_PAGE_TIMEOUT: '120s',
    });
    // ops-hook holds the first page it gets (one of a's), so a's other pages queue up behind it on that endpoint.
    receiver.answer(OPS_HOOK, 'hold');

    // Tenant a: one request with 200 regions stalling (P1 each).
    await send(svc.url, REGIONS.flatMap((r) => crowd(r, 0.3)));
    await waitFor('a`s first page held by ops-hook', () => (receiver.to(OPS_HOOK).length === 1 ? true : undefined));
    expect(json(receiver.to(OPS_HOOK)[0]!).incident.tenant).toBe('a');

    // Tenant b: a P0 at the same time.
    const r = await postTelemetry(svc.url, { samples: crowd('b-east', 0.45) }, { authorization: `Bearer ${B_KEY}` });
    expect(r.status).toBe(202);
    const b = await waitFor('b`s P0 incident, paged', async () => {
      const [inc] = await incidents(svc.url, 'tenant=b');
      return inc && (await pagingEntries(svc.url, inc.id)).some((e) => e.kind === 'paged') ? inc : undefined;
    });
    expect(b).toMatchObject({ tenant: 'b', priority: 'P0', region: 'b-east' });

    // The held request is answered: the next page on ops-hook is b's P0, ahead of a's pages still waiting there.
    receiver.release();
    const next = await waitFor('the next page on ops-hook', () => receiver.to(OPS_HOOK)[1]);
    expect(json(next).incident, 'b`s P0 goes before a`s queued P1 pages').toMatchObject({ tenant: 'b', priority: 'P0', id: b.id });
    await drained(svc.url);
    const hooksOfA = receiver.to(OPS_HOOK).filter((h) => json(h).incident.tenant === 'a');
    expect(receiver.to(OPS_HOOK).indexOf(hooksOfA.at(-1)!), 'a still had pages waiting when b`s P0 went out').toBeGreaterThan(1);

    // a's people got a readable number of pages (not one per region), which between them name every region.
    const mailsOfA = smtp.mails.filter((m) => !m.subject?.includes('b-east'));
    expect(mailsOfA.length, mailsOfA.map((m) => m.subject).join('\n')).toBeLessThanOrEqual(5);
    expect(hooksOfA.length).toBeLessThanOrEqual(5);
    const named = new Set(mailsOfA.flatMap((m) => m.text?.match(/\br-\d{3}\b/g) ?? []));
    expect(REGIONS.filter((reg) => !named.has(reg)), 'regions no page to a`s people names').toEqual([]);

    // Nothing was dropped: every incident of a has its paging on its timeline, and what was grouped is counted.
    const ofA = await incidents(svc.url, 'tenant=a&limit=500');
    for (const inc of ofA) {
      const kinds = (await timeline(svc.url, inc.id)).map((e) => e.kind);
      expect(kinds.filter((k) => k === 'paged' || k === 'grouped'), `incident #${inc.id} (${inc.region ?? 'over budget'})`).not.toEqual([]);
    }
    expect(await metric(svc.url, 'qoswatch_incidents_grouped_total')).toBeGreaterThan(0);
    expect((await api(svc.url, 'GET', `/v1/incidents/${b.id}`)).body.state).toBe('open');
  });
});

import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { incidents, send, viewers, writeRules } from '../helpers/alerting.js';
import { OPS_HOOK, SRE_HOOK, drained, pagingEntries, pagingOnCall, pagingRule, personIn, useLoopbackServers, writeOnCall } from '../helpers/paging.js';
import { waitFor } from '../helpers/ports.js';
import { type ReceivedRequest, json } from '../helpers/receiver.js';
import { CLI, servicesKilledAfterEach } from '../helpers/service.js';

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

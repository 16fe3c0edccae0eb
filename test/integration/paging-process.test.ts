import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { send, viewers, incidents, writeRules } from '../helpers/alerting.js';
import { LINK_SECRET, OPS_HOOK, PUBLIC_URL, SRE_HOOK, WEBHOOK_SECRET, drained, pagingEntries, pagingOnCall, pagingRule, personIn, useLoopbackServers, writeOnCall } from '../helpers/paging.js';
import { waitFor } from '../helpers/ports.js';
import { type ReceivedRequest, acceptedOnce, header, json, webhookSignatureValid } from '../helpers/receiver.js';
import { CLI, servicesKilledAfterEach } from '../helpers/service.js';

/**
 * Paging across kill -9 in the built service as a real process (real clock), with a real SMTP server and a chat
 * receiver on loopback. Issue 4: "nothing is lost and nothing is sent twice across kill -9: pending pages are sent
 * after restart; delivered ones are not re-sent".
 *
 * Delivery is at-least-once by design: a request cut by the crash may or may not have reached the receiver, so the
 * page is sent again after the restart with the same Idempotency-Key (and the same body; a fresh timestamp and
 * signature), and a receiver that honours the key processes it once. "Exactly one delivery per recipient and
 * channel" is therefore counted the way such a receiver counts: accepted requests, deduplicated by key.
 */

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);

const { smtp, receiver } = useLoopbackServers();

const service = servicesKilledAfterEach();

/** "<path> <mention>" of a webhook request: its channel and recipient. */
const target = (r: ReceivedRequest) => `${r.path} ${json(r).mention}`;

describe('kill -9 mid-delivery', () => {
  it('a page cut by the crash is sent again after the restart, once the killed run`s claim ran out, with the same key; delivered pages are not re-sent', async () => {
    // Level 1 pages alice (email and ops-hook at once: P1) and bob (sre-hook). sre-hook holds the first request open,
    // so that page is mid-delivery ("sending") when the service is killed.
    const doc = pagingOnCall((p) => receiver.url(p));
    (doc.escalation_policies[0]!.levels as { targets: unknown[] }[])[0]!.targets.push({ person: 'bob' });
    personIn(doc, 'bob').notify = ['sre-hook'];
    const env = {
      QOSWATCH_RULES_DIR: writeRules([pagingRule()]),
      QOSWATCH_ONCALL: writeOnCall(doc),
      SMTP_URL: smtp.url,
      QOSWATCH_PUBLIC_URL: PUBLIC_URL,
      QOSWATCH_LINK_SECRET: LINK_SECRET,
      // Long enough that the held request is still in flight when the process is killed (no timeout-driven retry);
      // the killed run's claim on it lasts 3 × this, so the restart sends it again 18 s after it was first sent.
      QOSWATCH_PAGE_TIMEOUT: '6s',
      QOSWATCH_SHUTDOWN_TIMEOUT: '1s',
    };
    receiver.answer(SRE_HOOK, 'hold');

    const svc = await service(env);
    await send(svc.url, viewers('eu-west', Date.now(), 0.3));
    await waitFor('alice paged by email and ops-hook, bob`s page held open', () =>
      smtp.mails.length >= 1 && receiver.to(OPS_HOOK).length >= 1 && receiver.to(SRE_HOOK).length >= 1 ? true : undefined,
    );
    const [inc] = await incidents(svc.url);
    expect(inc).toMatchObject({ region: 'eu-west', priority: 'P1', state: 'open' });
    // Alice's pages are recorded as delivered before the crash (so a re-send of them would be a double page).
    await waitFor('alice`s pages recorded as delivered', async () => {
      const d = (await pagingEntries(svc.url, inc.id)).filter((e) => e.kind === 'page_delivered').map((e) => e.data?.channel);
      return d.includes('email') && d.includes('ops-hook') ? true : undefined;
    });
    expect(receiver.to(SRE_HOOK)[0]!.answered, 'bob`s page is still in flight').toBeUndefined();

    expect(await svc.stop('SIGKILL')).toBe('SIGKILL');
    await waitFor('the held request to be cut by the crash', () => receiver.to(SRE_HOOK)[0]!.cut || undefined);

    // The endpoint answers again (receiver.otherwise: 200). Restart on the same data dir.
    const again = await service(env, svc.dataDir);
    await waitFor('bob`s page sent again once the killed run`s claim ran out', () => (receiver.to(SRE_HOOK).some((r) => r.answered?.status === 200) ? true : undefined), 40_000);
    await drained(again.url);

    const [cut, resent] = receiver.to(SRE_HOOK) as [ReceivedRequest, ReceivedRequest];
    expect(receiver.to(SRE_HOOK)).toHaveLength(2);
    expect(cut).toMatchObject({ cut: true, answered: undefined });
    expect(header(resent, 'idempotency-key'), 'a resend carries the same Idempotency-Key').toBe(header(cut, 'idempotency-key'));
    expect(resent.body, 'and the same page').toBe(cut.body);
    expect(json(resent)).toMatchObject({ kind: 'opened', incident: { id: inc.id }, mention: 'U-bob' });
    expect(webhookSignatureValid(cut, WEBHOOK_SECRET) && webhookSignatureValid(resent, WEBHOOK_SECRET)).toBe(true);
    expect(again.output).toContain('pages interrupted by a restart are sent again');

    // Exactly one accepted delivery per (recipient, channel), counted as a receiver honouring Idempotency-Key does;
    // and the pages delivered before the crash were not sent again at all.
    const hooks = receiver.requests.filter((r) => r.path.startsWith('/hooks/'));
    expect(acceptedOnce(hooks).map(target).sort()).toEqual([`${OPS_HOOK} U-alice`, `${SRE_HOOK} U-bob`]);
    expect(receiver.to(OPS_HOOK), 'ops-hook delivered before the crash: not re-sent').toHaveLength(1);
    expect(smtp.mails.map((m) => [m.subject?.match(/incident #\d+ \w+/)?.[0], [m.to].flat().map((a) => a?.text).join()]), 'email delivered before the crash: not re-sent').toEqual([
      [`incident #${inc.id} opened`, 'alice@example.com'],
    ]);
    const delivered = (await pagingEntries(again.url, inc.id)).filter((e) => e.kind === 'page_delivered').map((e) => e.data);
    expect(delivered).toHaveLength(3);
    expect(delivered).toEqual(
      expect.arrayContaining([
        { recipient: 'alice', channel: 'email', kind: 'opened', attempt: 1 },
        { recipient: 'alice', channel: 'ops-hook', kind: 'opened', attempt: 1 },
        { recipient: 'bob', channel: 'sre-hook', kind: 'opened', attempt: 2 },
      ]),
    );

    // Another crash with nothing in flight: the restart sends nothing.
    const seen = { hooks: receiver.requests.length, mails: smtp.mails.length };
    expect(await again.stop('SIGKILL')).toBe('SIGKILL');
    const third = await service(env, svc.dataDir);
    await drained(third.url);
    expect({ hooks: receiver.requests.length, mails: smtp.mails.length }).toEqual(seen);
    expect(third.output).not.toContain('pages interrupted by a restart');
  });
});

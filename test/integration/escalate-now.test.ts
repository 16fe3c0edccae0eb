import { beforeEach, describe, expect, it } from 'vitest';
import { api, incidents, send, viewers } from '../helpers/alerting.js';
import { ADMIN_PASSWORD, asSession, createUser, signIn } from '../helpers/accounts.js';
import { type TestApp, appsClosedAfterEach } from '../helpers/app.js';
import { OPS_HOOK, pagingFixtureEnv, timeline, useLoopbackServers } from '../helpers/paging.js';
import { waitFor } from '../helpers/ports.js';
import { json } from '../helpers/receiver.js';

/**
 * Escalate now and hand over, as a responder does from the console: the next level (or the person named) is paged
 * at once through the real pager to a loopback receiver, recorded on the timeline as the responder.
 */
const M = 60_000;
const T0 = Date.UTC(2030, 0, 7, 12, 0, 0);
let now = T0;
const PASSWORD = 'alice-password-0123';
const { receiver } = useLoopbackServers();
const startClosed = appsClosedAfterEach();
beforeEach(() => {
  now = T0;
});

/** alice (primary) is paged for a P1 storm; she signs in. */
async function paged(): Promise<{ t: TestApp; id: number; alice: Awaited<ReturnType<typeof signIn>> }> {
  const t = await startClosed({
    clock: () => now,
    env: { ...pagingFixtureEnv(receiver), QOSWATCH_ADMIN_PASSWORD: ADMIN_PASSWORD },
  });
  await api(t.url, 'POST', '/v1/users/alice/password', { password: PASSWORD });
  await send(t.url, viewers('eu-west', now, 0.3));
  await t.app.alerting.tick(now);
  await t.app.pager.tick();
  const id = (await incidents(t.url))[0].id as number;
  await waitFor('alice`s page', () => receiver.to(OPS_HOOK).find((r) => json(r).mention === 'U-alice'));
  return { t, id, alice: await signIn(t.url, 'alice', PASSWORD) };
}

const pagesTo = (mention: string) => receiver.to(OPS_HOOK).filter((r) => json(r).mention === mention).map((r) => json(r).kind as string);

describe('escalate now and hand over', () => {
  it('escalate now pages the next level at once, and the running escalation does not page it again', async () => {
    const { t, id, alice } = await paged();
    now = T0 + M;
    const r = await asSession(t.url, alice, 'POST', `/v1/incidents/${id}/escalate`, { note: 'need the CDN expert' });
    expect(r.status).toBe(201);
    // Levels count from 0: the policy's second level, bob's.
    expect(r.body).toMatchObject({ kind: 'escalated', actor: 'alice', data: { manual: true, level: 1, people: ['bob'], note: 'need the CDN expert' } });
    await t.app.pager.tick();
    await waitFor('bob`s page', () => pagesTo('U-bob').length > 0 || undefined);
    expect(pagesTo('U-bob')).toEqual(['escalated']);
    const text = receiver.to(OPS_HOOK).map((q) => json(q)).find((b) => b.mention === 'U-bob').incident.text as string;
    expect(text).toContain('Escalated by alice: need the CDN expert');

    // Five minutes after the opening, level 2 would have been due: it went out already.
    now = T0 + 6 * M;
    await t.app.pager.tick();
    await new Promise((res) => setTimeout(res, 200));
    expect(pagesTo('U-bob')).toEqual(['escalated']);
  });

  it('hand over pages the person named; unknown people, settled incidents and viewers are refused', async () => {
    const { t, id, alice } = await paged();
    const r = await asSession(t.url, alice, 'POST', `/v1/incidents/${id}/reassign`, { to: 'bob' });
    expect(r.body).toMatchObject({ kind: 'reassigned', actor: 'alice', data: { manual: true, to: 'bob', people: ['bob'] } });
    await t.app.pager.tick();
    await waitFor('bob`s page', () => pagesTo('U-bob').length > 0 || undefined);
    expect((await timeline(t.url, id)).filter((e) => e.kind === 'reassigned').map((e) => e.actor)).toEqual(['alice']);

    expect((await asSession(t.url, alice, 'POST', `/v1/incidents/${id}/reassign`, { to: 'mallory' })).body).toEqual({ error: 'bad_request', message: 'to: no person "mallory" in the on-call file' });
    await createUser(t.url, { id: 'vic', role: 'viewer', password: PASSWORD });
    const vic = await signIn(t.url, 'vic', PASSWORD);
    expect((await asSession(t.url, vic, 'POST', `/v1/incidents/${id}/escalate`, {})).status).toBe(403);
    await asSession(t.url, alice, 'POST', `/v1/incidents/${id}/resolve`, {});
    expect((await asSession(t.url, alice, 'POST', `/v1/incidents/${id}/escalate`, {})).status).toBe(409);
  });
});

import type { Page, Response } from 'playwright-core';
import { beforeEach, describe, expect, it } from 'vitest';
import { api, incidents, send, viewers } from '../helpers/alerting.js';
import { type TestApp, appsClosedAfterEach } from '../helpers/app.js';
import { HAVE_CHROMIUM, NO_CHROMIUM_MESSAGE, browserPerTest } from '../helpers/browser.js';
import { LINK_SECRET, OPS_HOOK, PUBLIC_URL, mailLinks, pagingFixtureEnv, useLoopbackServers } from '../helpers/paging.js';
import { waitFor } from '../helpers/ports.js';
import { json } from '../helpers/receiver.js';

/**
 * The signed Acknowledge / Resolve links of a page, clicked the way a person does: headless Chromium (Debian's,
 * through playwright-core) opens the link taken from a real email (SMTP on loopback) or a real webhook payload,
 * shows the confirmation page, and the person presses the button — the browser's own form post
 * (application/x-www-form-urlencoded), not a hand-made request.
 */

if (!HAVE_CHROMIUM) console.warn(NO_CHROMIUM_MESSAGE);

const M = 60_000;
const T0 = Date.UTC(2030, 0, 7, 12, 0, 0);
let now = T0;
const { smtp, receiver } = useLoopbackServers();
const startClosed = appsClosedAfterEach();
beforeEach(() => {
  now = T0;
});

/** The app on the paging fixture: a P1 stall storm in eu-west pages alice by email and on the ops-hook webhook. */
async function stormed(): Promise<{ t: TestApp; id: number }> {
  const t = await startClosed({
    clock: () => now,
    env: {
      ...pagingFixtureEnv(receiver),
      SMTP_URL: smtp.url,
      QOSWATCH_PUBLIC_URL: PUBLIC_URL,
      QOSWATCH_LINK_SECRET: LINK_SECRET,
      QOSWATCH_LINK_TTL: '1h',
    },
  });
  await send(t.url, viewers('eu-west', now, 0.3));
  await t.app.alerting.tick(now);
  await t.app.pager.tick();
  const [inc] = await incidents(t.url);
  expect(inc).toMatchObject({ state: 'open', priority: 'P1' });
  return { t, id: inc.id };
}

/** A link as sent (on QOSWATCH_PUBLIC_URL), reached on the app's loopback address instead. */
const local = (t: TestApp, link: string) => `${t.url}${new URL(link).pathname}`;

/** The page's heading as shown now (undefined when it has none, e.g. a JSON error). */
async function heading(page: Page): Promise<string | undefined> {
  const h1 = page.locator('h1');
  return (await h1.count()) ? (await h1.first().textContent())?.trim() : undefined;
}

/** A failed form post, with what it answered (a redirect has no body to show). */
const why = async (r: Response) => `the form post answered ${r.status()}${r.status() >= 400 ? `: ${(await r.text()).slice(0, 200)}` : ''}`;

/**
 * Presses the page's one button and waits until the browser shows what it led to; returns the response to the
 * form post itself and the heading of the page the browser ends up on.
 */
async function press(page: Page, name: RegExp): Promise<{ post: Response; shown: string | undefined }> {
  const post = page.waitForResponse((r) => r.request().method() === 'POST');
  await page.getByRole('button', { name }).click();
  const answered = await post;
  await page.waitForLoadState('load');
  return { post: answered, shown: await heading(page) };
}

const state = async (t: TestApp, id: number) => (await api(t.url, 'GET', `/v1/incidents/${id}`)).body;

describe.skipIf(!HAVE_CHROMIUM)('signed links in a real browser (headless Chromium)', () => {
  const browser = browserPerTest();

  it('the Acknowledge link of an email: the button acknowledges; back and reload show it acknowledged, not an error', async () => {
    const { t, id } = await stormed();
    const mail = await waitFor('alice`s email', () => smtp.mails.find((m) => /opened/.test(m.subject ?? '')));
    const { ack } = mailLinks(mail);
    expect(ack).toBeDefined();

    const page = await browser().newPage();
    now = T0 + 2 * M;
    const shown = await page.goto(local(t, ack!));
    expect(shown?.status()).toBe(200);
    expect(await heading(page)).toBe(`Acknowledge incident #${id}?`);
    expect((await state(t, id)).state, 'opening the link (as a mail scanner does) acknowledges nothing').toBe('open');

    const { post, shown: after } = await press(page, /Acknowledge as alice/);
    expect(post.status(), await why(post)).toBeLessThan(400);
    expect(after).toBe(`Incident #${id} acknowledged`);
    expect(await page.textContent('body')).toContain('by alice');
    expect(await state(t, id)).toMatchObject({ state: 'acknowledged', acknowledged_by: 'alice', acknowledged_at: new Date(T0 + 2 * M).toISOString() });

    // Back to the confirmation page and reload: the page says what happened; nothing is posted again.
    for (const step of [() => page.goBack(), () => page.reload()]) {
      const r = await step();
      expect(r?.status()).toBe(200);
      expect(await heading(page)).toBe(`Incident #${id} acknowledged`);
      expect(await page.getByRole('button').count(), 'no button once there is nothing to do').toBe(0);
    }
    const acks = (await api(t.url, 'GET', `/v1/incidents/${id}`)).body.timeline.filter((e: { kind: string }) => e.kind === 'acknowledged');
    expect(acks).toEqual([expect.objectContaining({ actor: 'alice', data: { note: 'via signed link' } })]);
  });

  it('the Resolve link of a webhook payload: the button resolves', async () => {
    const { t, id } = await stormed();
    const hook = await waitFor('alice`s webhook page', () => receiver.to(OPS_HOOK).find((r) => json(r).kind === 'opened'));
    const resolve = json(hook).links.resolve as string;

    const page = await browser().newPage();
    now = T0 + 3 * M;
    await page.goto(local(t, resolve));
    expect(await heading(page)).toBe(`Resolve incident #${id}?`);
    const { post, shown } = await press(page, /Resolve as alice/);
    expect(post.status(), await why(post)).toBeLessThan(400);
    expect(shown).toBe(`Incident #${id} resolved`);
    expect(await state(t, id)).toMatchObject({ state: 'resolved', resolved_by: 'alice', resolved_at: new Date(T0 + 3 * M).toISOString() });
  });
});

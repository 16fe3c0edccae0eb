import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { api, incidents, send, viewers } from '../helpers/alerting.js';
import { ADMIN_PASSWORD, createUser } from '../helpers/accounts.js';
import { type TestApp, appsClosedAfterEach } from '../helpers/app.js';
import { HAVE_CHROMIUM, NO_CHROMIUM_MESSAGE, browserPerTest, launchBrowser } from '../helpers/browser.js';
import { OPS_HOOK, pagingFixtureEnv, useLoopbackServers } from '../helpers/paging.js';
import { waitFor } from '../helpers/ports.js';
import { json } from '../helpers/receiver.js';

/**
 * The responder console in headless Chromium (Debian's, through playwright-core), as people use it: sign in, watch
 * an incident arrive without a reload, acknowledge it and see the pages stop at a loopback receiver; a viewer who
 * cannot act; forged requests from another origin; accessibility checked by axe-core in the same browser.
 * Screenshots at phone and desktop sizes go to test-results/screenshots.
 */

if (!HAVE_CHROMIUM) console.warn(NO_CHROMIUM_MESSAGE);

const M = 60_000;
const T0 = Date.UTC(2030, 0, 7, 12, 0, 0);
let now = T0;
const PASSWORD = 'alice-password-0123';
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };
const SHOTS = join(process.cwd(), 'test-results', 'screenshots');
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const { smtp, receiver } = useLoopbackServers();
const startClosed = appsClosedAfterEach();
beforeEach(() => {
  now = T0;
});

/** The app on the paging fixture (alice on call, then bob; 5 min each), alice with a password, vic a viewer. */
async function service(): Promise<TestApp> {
  const t = await startClosed({
    clock: () => now,
    env: {
      ...pagingFixtureEnv(receiver),
      SMTP_URL: smtp.url,
      QOSWATCH_ADMIN_PASSWORD: ADMIN_PASSWORD,
    },
  });
  expect((await api(t.url, 'POST', '/v1/users/alice/password', { password: PASSWORD })).status).toBe(204);
  await createUser(t.url, { id: 'vic', role: 'viewer', password: PASSWORD });
  return t;
}

/** A stall storm in eu-west: a P1 incident that pages alice. */
async function storm(t: TestApp): Promise<number> {
  await send(t.url, viewers('eu-west', now, 0.3));
  await t.app.alerting.tick(now);
  await t.app.pager.tick();
  return (await incidents(t.url))[0].id as number;
}

async function signInPage(page: Page, t: TestApp, user: string, password = PASSWORD): Promise<void> {
  await page.goto(`${t.url}/console/`);
  await page.getByLabel('User or email').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Incidents' }).waitFor();
}

/** Serious and critical accessibility violations axe-core finds on the page as shown. */
async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol, which the page's Content-Security-Policy does not govern.
  await page.evaluate(`${AXE}\n;0`);
  const result = await page.evaluate(() => (globalThis as unknown as { axe: { run(): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe.run());
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}


describe.skipIf(!HAVE_CHROMIUM)('the responder console in a real browser (headless Chromium)', () => {
  const browser = browserPerTest();

  it('signs in, shows a new incident without a reload, acknowledges it, and the pages stop', async () => {
    const t = await service();
    const page = await browser().newPage();
    await page.setViewportSize(PHONE);
    await signInPage(page, t, 'alice');
    await page.getByText('No incidents match').waitFor();
    await page.getByText('live', { exact: true }).waitFor();
    expect(await axeViolations(page)).toEqual([]);

    const id = await storm(t);
    const card = page.locator(`[data-incident="${id}"]`);
    await card.waitFor();
    expect(await card.textContent()).toContain('P1');
    await expect.poll(() => page.getByRole('status').first().textContent()).toContain(`#${id} P1`);
    await shot(page, 'console-incidents-phone');

    // Unacknowledged, the page escalates: alice first, then bob 5 minutes later.
    await waitFor('alice`s page', () => receiver.to(OPS_HOOK).find((r) => json(r).kind === 'opened'));
    now = T0 + 6 * M;
    await t.app.pager.tick();
    await waitFor('the escalation to bob', () => receiver.to(OPS_HOOK).find((r) => json(r).kind === 'escalated'));
    const before = receiver.to(OPS_HOOK).length;

    await card.getByRole('link').click();
    await page.getByRole('heading', { level: 1, name: `Incident #${id}` }).waitFor();
    await page.getByText('stall_ratio = ').waitFor();
    expect(await axeViolations(page)).toEqual([]);
    await shot(page, 'console-incident-phone');
    await page.getByRole('button', { name: 'Acknowledge' }).click();
    await page.getByText('Acknowledged: paging stops.').waitFor();
    await page.locator('.timeline').getByText('acknowledged').first().waitFor();
    expect(await api(t.url, 'GET', `/v1/incidents/${id}`).then((r) => r.body)).toMatchObject({ state: 'acknowledged', acknowledged_by: 'alice' });
    expect(await page.getByRole('button', { name: 'Acknowledge' }).count()).toBe(0);

    // Past every ack timeout of the policy (two levels, once more): nobody else is paged.
    for (const minutes of [12, 18, 24, 40]) {
      now = T0 + minutes * M;
      await t.app.pager.tick();
    }
    await new Promise((r) => setTimeout(r, 300));
    const after = receiver.to(OPS_HOOK).slice(before).map((r) => json(r).kind as string);
    expect(after.filter((k) => k === 'opened' || k === 'escalated'), `pages after the ack: ${after.join(', ')}`).toEqual([]);

    await page.setViewportSize(DESKTOP);
    await shot(page, 'console-incident-desktop');
    await page.getByRole('link', { name: 'Incidents' }).click();
    await page.getByRole('heading', { level: 1, name: 'Incidents' }).waitFor();
    await card.waitFor();
    await shot(page, 'console-incidents-desktop');
  });

  it('hands an incident over to a person of the on-call file, who is paged at once', async () => {
    const t = await service();
    const id = await storm(t);
    const page = await browser().newPage();
    await page.setViewportSize(PHONE);
    await signInPage(page, t, 'alice');
    await page.locator(`[data-incident="${id}"] a`).click();
    await page.getByLabel('Hand over to').selectOption('bob');
    await page.getByRole('button', { name: 'Hand over' }).click();
    await page.getByText('Handed over: bob is being paged.').waitFor();
    await page.locator('.timeline').getByText('reassigned').waitFor();
    await t.app.pager.tick();
    const page2bob = await waitFor('bob`s page', () => receiver.to(OPS_HOOK).find((r) => json(r).mention === 'U-bob'));
    expect(json(page2bob).incident.text).toContain('Handed over to you by alice');
    expect(await axeViolations(page)).toEqual([]);
  });

  it('sets a weekly maintenance window and registers a planned event by form; both are audited as the person', async () => {
    const t = await service();
    const page = await browser().newPage();
    await page.setViewportSize(PHONE);
    await signInPage(page, t, 'alice');
    await page.getByRole('link', { name: 'Silences', exact: true }).click();
    await page.getByText('New silence').click();
    await page.getByLabel('Region').fill('eu-west');
    await page.getByLabel('Every week (maintenance window)').check();
    for (const day of ['sat', 'sun']) await page.getByLabel(day, { exact: true }).check();
    await page.getByLabel('Starts at').fill('03:30');
    await page.getByLabel('For (minutes)').fill('90');
    await page.getByLabel('Time zone').fill('Europe/Berlin');
    await page.getByLabel('Why').fill('CDN maintenance');
    await page.getByRole('button', { name: 'Silence' }).click();
    await page.getByText('Silence created.').waitFor();
    const [silence] = (await api(t.url, 'GET', '/v1/silences')).body;
    expect(silence).toMatchObject({ matchers: { region: 'eu-west' }, comment: 'CDN maintenance', created_by: 'alice', recurrence: { timezone: 'Europe/Berlin', days: ['sat', 'sun'], start: '03:30', duration_ms: 90 * 60_000 } });

    await page.getByRole('link', { name: 'Events', exact: true }).click();
    await page.getByText('Register an event').click();
    await page.getByLabel('Name').fill('Cup final');
    await page.getByLabel(/^Regions/).fill('eu-west, us-east');
    // The service's clock is T0 (2030): the event is the next evening's.
    await page.getByLabel('Starts').fill('2030-01-08T18:00');
    await page.getByLabel('Ends').fill('2030-01-08T21:00');
    await page.getByRole('button', { name: 'Register' }).click();
    await page.getByText('Cup final registered.').waitFor();
    await page.locator('.card').getByText('eu-west, us-east').waitFor();
    expect(await axeViolations(page)).toEqual([]);
    const audit = (await api(t.url, 'GET', '/v1/audit')).body.entries.map((e: { actor: string; action: string }) => `${e.actor} ${e.action}`);
    expect(audit.slice(0, 2)).toEqual(['alice event.create', 'alice silence.create']);
  });

  it('a viewer follows but cannot act; a forced request from its page is refused', async () => {
    const t = await service();
    const id = await storm(t);
    const page = await browser().newPage();
    await page.setViewportSize(PHONE);
    await signInPage(page, t, 'vic');
    await page.locator(`[data-incident="${id}"] a`).click();
    await page.getByText('Your role (viewer) can follow incidents, not act on them.').waitFor();
    expect(await page.getByRole('button', { name: 'Acknowledge' }).count()).toBe(0);
    expect(await page.getByLabel('Add to the timeline').count()).toBe(0);
    const me = await page.evaluate(() => fetch('/v1/me').then((r) => r.json() as Promise<{ csrf_token: string }>));
    const forced = await page.evaluate(
      ({ id, csrf }) => fetch(`/v1/incidents/${id}/ack`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: '{}' }).then((r) => r.status),
      { id, csrf: me.csrf_token },
    );
    expect(forced).toBe(403);
    expect((await api(t.url, 'GET', `/v1/incidents/${id}`)).body.state).toBe('open');
  });

  describe('forged requests from another origin', () => {
    let evil: Server;
    let evilPort = 0;
    let target = '';
    beforeAll(async () => {
      // Another origin on the same host (same site: SameSite cookies alone would let its requests carry the session).
      evil = createServer((_req, res) => {
        res.setHeader('content-type', 'text/html');
        res.end(`<!doctype html><title>win a prize</title>
          <form id="f" method="post" action="${target}"><input name="note" value="pwned"></form>
          <script>
            // The form post navigates away: only once the fetch is answered, or the navigation would cancel it.
            fetch(${JSON.stringify(target)}, { method: 'POST', credentials: 'include', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '{}' })
              .finally(() => document.getElementById('f').submit());
          </script>`);
      });
      await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
      evilPort = (evil.address() as { port: number }).port;
    });
    afterAll(async () => {
      await new Promise((r) => evil.close(r));
    });

    it('a signed-in responder visiting a hostile page of the same site: its form post and fetch are refused (CSRF), nothing changes', async () => {
      const t = await service();
      const id = await storm(t);
      target = `${t.url}/v1/incidents/${id}/resolve`;
      const page = await browser().newPage();
      await signInPage(page, t, 'alice');
      for (const [host, status, why] of [
        // Another port of the same host is the same site: the session cookie goes along; the CSRF check refuses.
        ['127.0.0.1', 403, 'csrf'],
        // Another site: SameSite=Strict keeps the cookie home; the request is anonymous.
        ['localhost', 401, 'unauthorized'],
      ] as const) {
        const answers: number[] = [];
        page.on('response', (r) => r.url() === target && answers.push(r.status()));
        await page.goto(`http://${host}:${evilPort}/`);
        await expect.poll(() => answers.length).toBe(2);
        expect(answers).toEqual([status, status]);
        // The form post navigated: the browser shows the refusal.
        await expect.poll(() => page.textContent('body')).toContain(`"error":"${why}"`);
        page.removeAllListeners('response');
      }
      expect((await api(t.url, 'GET', `/v1/incidents/${id}`)).body.state).toBe('open');
    });
  });

  it('a session id planted in the browser before sign-in is replaced at sign-in (session fixation)', async () => {
    const t = await service();
    const planted = 'planted-by-attacker-0123456789abcdef';
    const page = await browser().newPage();
    await page.goto(`${t.url}/console/`);
    // As a script of the same site could (another port of the host, an injected script): the cookie the attacker knows.
    await page.evaluate(`document.cookie = '__Host-qw_session=${planted}; Path=/; Secure; SameSite=Strict'`);
    expect((await browser().cookies(t.url)).find((c) => c.name === '__Host-qw_session')?.value).toBe(planted);
    await signInPage(page, t, 'alice');
    const cookie = (await browser().cookies(t.url)).find((c) => c.name === '__Host-qw_session');
    expect(cookie?.value).toBeDefined();
    expect(cookie?.value).not.toBe(planted);
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict' });
    expect((await fetch(`${t.url}/v1/me`, { headers: { cookie: `__Host-qw_session=${planted}` } })).status).toBe(401);
  });

  it('tickets show their SLA clocks counting; on call, silences, rules, audit and account pages pass axe-core', async () => {
    const t = await service();
    await storm(t);
    const page = await browser().newPage();
    await page.setViewportSize(PHONE);
    await signInPage(page, t, 'alice');
    for (const [link, heading] of [['Tickets', 'Tickets'], ['On call', 'On call'], ['Silences', 'Silences and maintenance'], ['Events', 'Planned events'], ['Rules', 'Rules'], ['Audit', 'Audit log'], ['Alice', 'Account']] as const) {
      await page.getByRole('link', { name: link, exact: true }).click();
      await page.getByRole('heading', { level: 1, name: heading }).waitFor();
      // Loaded: no "Loading…" left (a locator, not waitForFunction: the page's CSP forbids evaluating strings).
      await expect.poll(() => page.locator('main p.muted[role="status"]').count()).toBe(0);
      expect(await axeViolations(page), heading).toEqual([]);
      if (heading === 'Tickets') {
        const clock = page.locator('.clock').first();
        const first = await clock.textContent();
        await expect.poll(() => clock.textContent(), { timeout: 5000 }).not.toBe(first);
        await shot(page, 'console-tickets-phone');
      }
      if (heading === 'On call') await page.getByText('Alice is on call').first().waitFor();
    }
  });

  it('a customer follows its tenant on the status page, shares it by link, and the link opens without an account', async () => {
    const t = await service();
    await createUser(t.url, { id: 'cust', role: 'customer', tenant: 'default', password: PASSWORD });
    const id = await storm(t);
    const page = await browser().newPage();
    await page.setViewportSize(PHONE);
    await page.goto(`${t.url}/status/`);
    await page.getByLabel('User or email').fill('cust');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Service status' }).waitFor();
    await page.getByText('Playback interruptions (buffering) in eu-west').waitFor();
    const body = (await page.textContent('body'))!;
    for (const internal of ['stall-ratio', 'stall_ratio', '> 0.2', 'alice', `#${id}`]) expect(body, internal).not.toContain(internal);
    expect(await axeViolations(page)).toEqual([]);
    await shot(page, 'status-customer-phone');

    await page.getByLabel('Name').fill('our NOC');
    await page.getByRole('button', { name: 'Create link' }).click();
    const link = (await page.locator('.secret code').textContent())!;
    expect(link).toMatch(new RegExp(`^${t.url}/status/#s=qws_`));

    // The console is not for customers.
    await page.goto(`${t.url}/console/`);
    await page.getByText('This console is for the support team.').waitFor();

    const anonymous = await launchBrowser();
    try {
      const shared = await anonymous.newPage();
      await shared.goto(link);
      await shared.getByText('Playback interruptions (buffering) in eu-west').waitFor();
      // The paging rule makes 30 % stalling a P1: degraded, not an outage.
      await shared.getByText('Degraded', { exact: true }).waitFor();
      expect(await axeViolations(shared)).toEqual([]);
    } finally {
      await anonymous.close();
    }
  });
});

describe.skipIf(!HAVE_CHROMIUM)('alert sources in the console', () => {
  const browser = browserPerTest();

  it('an admin adds an Alertmanager source, its alert shows on the incident with its links, and a hostile link is not one', async () => {
    const t = await service();
    const page = await browser().newPage();
    await page.setViewportSize(PHONE);
    await signInPage(page, t, 'admin', ADMIN_PASSWORD);
    await page.goto(`${t.url}/console/#/sources`);
    await page.getByRole('heading', { level: 1, name: 'Alert sources' }).waitFor();
    await page.getByText('No alert sources.').waitFor();
    await page.getByText('Add a source').click();
    await page.getByLabel('Name (a-z, 0-9, _ . -)').fill('prometheus');
    await page.getByLabel('Kind').selectOption('alertmanager');
    await page.getByLabel('Region (default: the alert\'s label)').fill('eu-west');
    await page.getByRole('button', { name: 'Create' }).click();
    const secret = await page.getByRole('textbox', { name: 'Secret of prometheus' }).inputValue();
    const url = await page.getByRole('textbox', { name: 'URL of prometheus' }).inputValue();
    expect(secret).toMatch(/^[0-9a-f]{32}$/);
    expect(url).toMatch(new RegExp(`^${t.url}/v1/sources/[0-9a-f]+/alerts$`));
    await page.getByText('sends to /v1/sources/').waitFor();
    expect(await axeViolations(page)).toEqual([]);
    await shot(page, 'console-sources-phone');

    const alert = (summary: string, fingerprint: string, generatorURL: string) => ({ status: 'firing', labels: { alertname: 'OriginDown', severity: 'critical' }, annotations: { summary, runbook_url: 'https://runbooks.example.test/origin' }, generatorURL, fingerprint });
    const r = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }, body: JSON.stringify({ alerts: [alert('Origin origin-1 is down', 'a', 'https://prometheus.example.test/graph'), alert('<img src=x onerror=alert(1)>', 'b', 'javascript:alert(1)')] }) });
    expect(r.status).toBe(202);
    const id = (await incidents(t.url))[0].id as number;
    await page.goto(`${t.url}/console/#/incidents/${id}`);
    await page.getByText('Origin origin-1 is down').first().waitFor();
    const alerts = page.locator('ul.alerts');
    expect(await alerts.getByRole('link', { name: 'source' }).getAttribute('href')).toBe('https://prometheus.example.test/graph');
    expect(await alerts.getByRole('link', { name: 'runbook' }).first().getAttribute('href')).toBe('https://runbooks.example.test/origin');
    // The hostile summary is text, its javascript: URL no link.
    await alerts.getByText('<img src=x onerror=alert(1)>').waitFor();
    expect(await alerts.locator('a[href^="javascript"]').count()).toBe(0);
    expect(await alerts.locator('img').count()).toBe(0);
    expect(await axeViolations(page)).toEqual([]);
  });
});

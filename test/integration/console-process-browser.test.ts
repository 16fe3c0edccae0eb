import { type ChildProcess, spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { api, stallRule, writeRules } from '../helpers/alerting.js';
import { ADMIN_TOKEN, INGEST_KEY } from '../helpers/app.js';
import { HAVE_CHROMIUM, NO_CHROMIUM_MESSAGE, launchBrowser } from '../helpers/browser.js';
import { CLI, servicesKilledAfterEach } from '../helpers/service.js';

/**
 * What a new user does, as the README says it: start the service, sign in with the printed admin credentials, and
 * handle an incident of the simulator from first page to closed ticket in the console — the built service as its
 * own process, the simulator as another, the console in headless Chromium; no API call by hand.
 */

if (!HAVE_CHROMIUM) console.warn(NO_CHROMIUM_MESSAGE);

const startService = servicesKilledAfterEach();
let simulator: ChildProcess | undefined;
afterEach(() => {
  simulator?.kill('SIGKILL');
  simulator = undefined;
});

describe.skipIf(!HAVE_CHROMIUM)('a new user handles a simulated incident in the console', () => {
  it('signs in with the printed password, acknowledges, updates the customer, mitigates, resolves and closes', { timeout: 180_000 }, async () => {
    const svc = await startService({ QOSWATCH_RULES_DIR: writeRules([stallRule({ for: '0s', min_sessions: 0, clear_for: '1h' })]), QOSWATCH_LOG_LEVEL: 'warn' });
    const password = /console: +\S+ +user admin, password (\S+)/.exec(svc.output)?.[1];
    expect(password, `the start should print the console's admin password:\n${svc.output.slice(0, 2000)}`).toBeDefined();

    simulator = spawn(process.execPath, [CLI, 'simulate', '--url', svc.url, '--key', INGEST_KEY, '--sessions', '300', '--regions', 'eu-west', '--interval', '2s', '--fault', 'stall_storm:cdn=cdn-a,region=eu-west,ratio=0.5,at=0s,for=10m', '--duration', '10m'], { stdio: 'ignore' });

    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(`${svc.url}/`);
      await page.getByLabel('User or email').fill('admin');
      await page.getByLabel('Password').fill(password!);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { level: 1, name: 'Incidents' }).waitFor();

      // The simulator's stall storm arrives while the page is open.
      const card = page.locator('[data-incident]').first();
      await card.waitFor({ timeout: 60_000 });
      await card.getByRole('link').click();
      await page.getByRole('button', { name: 'Acknowledge' }).click();
      await page.getByText('Acknowledged: paging stops.').waitFor();
      await page.getByLabel('Add to the timeline').fill('CDN edge in eu-west saturated; shifting traffic');
      await page.getByRole('button', { name: 'Comment' }).click();
      await page.locator('.timeline').getByText('CDN edge in eu-west saturated').waitFor();
      await page.getByRole('button', { name: 'Mitigate' }).click();
      await page.getByText('Marked mitigated.').waitFor();

      // Its ticket: an update for the customer, then resolved with a root cause and closed.
      await page.getByRole('link', { name: 'Tickets', exact: true }).click();
      await page.getByRole('heading', { level: 1, name: 'Tickets' }).waitFor();
      await page.locator('.card a').first().click();
      await page.getByRole('heading', { level: 1, name: /^Ticket T-/ }).waitFor();
      await page.getByLabel('Comment').fill('Playback in eu-west is back to normal; we keep watching.');
      await page.getByLabel('Update to the customer').check();
      await page.getByRole('button', { name: 'Add' }).click();
      await page.getByText('Update sent to the customer.').waitFor();
      await page.getByLabel('Move to').selectOption('resolved');
      await page.getByLabel(/Root cause/).fill('A saturated CDN edge node; traffic moved to a healthy one.');
      await page.getByRole('button', { name: 'Move ticket' }).click();
      await page.getByText('Ticket moved to resolved.').waitFor();
      await page.getByLabel('Move to').selectOption('closed');
      await page.getByRole('button', { name: 'Move ticket' }).click();
      await page.getByText('Ticket moved to closed.').waitFor();

      await page.getByRole('link', { name: /^incident #/ }).click();
      await page.getByRole('button', { name: 'Resolve' }).click();
      await page.getByText('Resolved.').waitFor();
    } finally {
      await browser.close();
    }

    const incidents = (await api(svc.url, 'GET', '/v1/incidents?state=resolved', undefined, ADMIN_TOKEN)).body.incidents;
    expect(incidents[0]).toMatchObject({ state: 'resolved', acknowledged_by: 'admin', mitigated_by: 'admin', resolved_by: 'admin' });
    const tickets = (await api(svc.url, 'GET', '/v1/tickets?state=closed', undefined, ADMIN_TOKEN)).body.tickets;
    expect(tickets[0]).toMatchObject({ state: 'closed', root_cause: 'A saturated CDN edge node; traffic moved to a healthy one.' });
  });
});

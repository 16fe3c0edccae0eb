import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { api } from '../helpers/alerting.js';
import { appsClosedAfterEach } from '../helpers/app.js';
import { HAVE_CHROMIUM, NO_CHROMIUM_MESSAGE, browserPerTest } from '../helpers/browser.js';
import { tempDir } from '../helpers/tmp.js';

/** The console's On call page in headless Chromium: a responder makes a feed of their shifts, subscribes, revokes it. */

if (!HAVE_CHROMIUM) console.warn(NO_CHROMIUM_MESSAGE);

const PASSWORD = 'anna-password-0123456';
const startClosed = appsClosedAfterEach();

describe.skipIf(!HAVE_CHROMIUM)('calendar feeds in the console', () => {
  const browser = browserPerTest();

  it('"Feed of my shifts" shows a URL once that a calendar app can fetch; Revoke stops it', async () => {
    const file = join(tempDir('qoswatch-calendar'), 'oncall.yaml');
    writeFileSync(file, stringify({
      people: [{ id: 'anna', name: 'Anna Berg' }],
      schedules: [{ id: 'primary', layers: [{ id: 'all', timezone: 'UTC', rotation: 'weekly', handoff: '09:00', start: '2026-01-05', members: ['anna'] }] }],
    }));
    const t = await startClosed({ env: { QOSWATCH_ONCALL: file } });
    expect((await api(t.url, 'POST', '/v1/users/anna/password', { password: PASSWORD })).status).toBe(204);

    const page = await browser().newPage();
    await page.goto(`${t.url}/console/`);
    await page.getByLabel('User or email').fill('anna');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'On call', exact: true }).click();
    await page.getByRole('heading', { level: 2, name: 'Calendar feeds' }).waitFor();
    expect(await page.getByRole('button', { name: 'Feed of primary' }).count(), 'a schedule feed is for admins').toBe(0);

    await page.getByRole('button', { name: 'Feed of my shifts' }).click();
    const url = (await page.locator('p.secret code').textContent())!;
    expect(url).toMatch(/\/v1\/oncall\/calendar\.ics\?token=qwc_/);
    const feed = await fetch(`${t.url}${new URL(url).pathname}${new URL(url).search}`);
    expect(feed.headers.get('content-type')).toBe('text/calendar; charset=utf-8');
    expect(await feed.text()).toContain('SUMMARY:Anna Berg on call: primary');

    await page.getByRole('button', { name: /^Revoke calendar feed/ }).click();
    await expect.poll(() => page.getByRole('button', { name: /^Revoke calendar feed/ }).count()).toBe(0);
    expect((await fetch(`${t.url}${new URL(url).pathname}${new URL(url).search}`)).status).toBe(401);
  });
});

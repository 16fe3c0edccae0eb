import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD } from '../helpers/accounts.js';
import { HAVE_CHROMIUM, launchBrowser } from '../helpers/browser.js';
import { api, send, stallRule, viewers, writeRules } from '../helpers/alerting.js';
import { appsClosedAfterEach } from '../helpers/app.js';
import { HAVE_INFLUXD, NO_INFLUXD_MESSAGE } from '../helpers/influxd.js';
import { useInfluxServer } from '../helpers/influx-suite.js';

/**
 * The incident page's chart: the triggering metric's windows read back from a real InfluxDB 1.x, for the incident's
 * tenant and region only, late corrections left out; without InfluxDB a 503 that says what to set.
 */
if (!HAVE_INFLUXD) console.warn(NO_INFLUXD_MESSAGE);

const M = 60_000;
const T0 = Date.UTC(2030, 0, 7, 12, 0, 0);
const startClosed = appsClosedAfterEach();
const SHOTS = join(process.cwd(), 'test-results', 'screenshots');
const rules = () => writeRules([stallRule({ for: '0s', min_sessions: 0 })]);

describe.skipIf(!HAVE_INFLUXD)('an incident`s recent windows', () => {
  const influx = useInfluxServer();

  it('are the metric`s window values around the incident, of its region, without late corrections', async () => {
    await influx().createDb('series');
    const line = (tags: string, v: number, at: number) => `qos_region,tenant=default,${tags} stall_ratio=${v},samples=30i ${BigInt(at) * 1_000_000n}`;
    const before = Array.from({ length: 20 }, (_, i) => ({ t: T0 - (20 - i) * M, v: i / 100 }));
    const lines = [
      ...before.map((p) => line('region=eu-west', p.v, p.t)),
      line('region=eu-west,late=true', 0.9, T0 - 5 * M + 1),
      line('region=us-east', 0.5, T0 - 5 * M),
      line('region=eu-west', 0.7, T0 - 40 * M), // before the chart's span (30 min ahead of the opening)
    ];
    expect((await fetch(`${influx().url}/write?db=series&precision=ns`, { method: 'POST', body: lines.join('\n') })).status).toBe(204);

    const now = T0;
    const t = await startClosed({ clock: () => now, env: { QOSWATCH_ADMIN_PASSWORD: ADMIN_PASSWORD, QOSWATCH_RULES_DIR: rules(), INFLUX_API: 'v1', INFLUX_URL: influx().url, INFLUX_DB: 'series' } });
    await send(t.url, viewers('eu-west', now, 0.3));
    await t.app.alerting.tick(now);
    const id = (await api(t.url, 'GET', '/v1/incidents')).body.incidents[0].id;
    const r = await api(t.url, 'GET', `/v1/incidents/${id}/series`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ metric: 'stall_ratio', threshold: '> 0.2', region: 'eu-west', from: new Date(T0 - 30 * M).toISOString(), to: new Date(T0).toISOString() });
    expect(r.body.points).toEqual(before);

    // The console draws it, described in words.
    if (!HAVE_CHROMIUM) return;
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(`${t.url}/console/`);
      await page.getByLabel('User or email').fill('admin');
      await page.getByLabel('Password').fill(ADMIN_PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator(`[data-incident="${id}"] a`).click();
      const figure = page.getByRole('img', { name: /^stall_ratio from/ });
      await figure.waitFor();
      expect(await figure.getAttribute('aria-label')).toMatch(/first 0\.00 %, highest 19\.00 %, last 19\.00 %; threshold > 0\.2$/);
      expect(await page.locator('.chart polyline').getAttribute('points')).toMatch(/^(\S+,\S+ ){19}\S+,\S+$/);
      mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: join(SHOTS, 'console-incident-chart-phone.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });

  it('without InfluxDB: 503 saying what to set', async () => {
    const t = await startClosed({ clock: () => T0, env: { QOSWATCH_RULES_DIR: rules() } });
    await send(t.url, viewers('eu-west', T0, 0.3));
    await t.app.alerting.tick(T0);
    const id = (await api(t.url, 'GET', '/v1/incidents')).body.incidents[0].id;
    expect(await api(t.url, 'GET', `/v1/incidents/${id}/series`)).toEqual({ status: 503, body: { error: 'unavailable', message: 'the chart reads the windows stored in InfluxDB: set INFLUX_URL' } });
  });
});

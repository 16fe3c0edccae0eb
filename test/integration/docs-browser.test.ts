import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DOCS_CSP } from '../../src/api/docs.js';
import { JSON_SCHEMAS } from '../../src/api/json-schemas.js';
import { appsClosedAfterEach } from '../helpers/app.js';
import { HAVE_CHROMIUM, NO_CHROMIUM_MESSAGE, browserPerTest } from '../helpers/browser.js';

/**
 * The API's published documents, without credentials: the browsable reference at /docs (swagger-ui from the
 * package's own files, under a strict Content-Security-Policy: it must render offline), the OpenAPI document as JSON
 * and YAML, and the JSON Schemas of the rule and on-call files.
 */

if (!HAVE_CHROMIUM) console.warn(NO_CHROMIUM_MESSAGE);

const start = appsClosedAfterEach();

describe('published documents', () => {
  it('serves the OpenAPI document as JSON and YAML, and the file schemas, to anyone', async () => {
    const t = await start();
    const json = await fetch(`${t.url}/docs/openapi.json`);
    expect(json.status).toBe(200);
    const doc = (await json.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    const yaml = await fetch(`${t.url}/docs/openapi.yaml`);
    expect(yaml.headers.get('content-type')).toMatch(/^application\/yaml/);
    expect(parse(await yaml.text())).toEqual(doc);
    for (const [name, make] of Object.entries(JSON_SCHEMAS)) {
      const r = await fetch(`${t.url}/schemas/${name}.json`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^application\/schema\+json/);
      expect(await r.json()).toEqual(make());
    }
  });

  it('answers /docs with the reference page under its Content-Security-Policy', async () => {
    const t = await start();
    const r = await fetch(`${t.url}/docs`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    expect(r.headers.get('content-security-policy')).toBe(DOCS_CSP);
    // Its scripts and styles are this server's own.
    const html = await r.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(3);
    for (const a of assets) expect(a, a).toMatch(/^\/docs\/static\//);
  });
});

describe.skipIf(!HAVE_CHROMIUM)('/docs in a real browser (headless Chromium)', () => {
  const browser = browserPerTest();

  it('renders the reference offline: operations by tag, one opened with its responses, nothing refused by the CSP', async () => {
    const t = await start();
    const page = await browser().newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    const elsewhere: string[] = [];
    page.on('request', (req) => {
      if (!req.url().startsWith(t.url) && !req.url().startsWith('data:')) elsewhere.push(req.url());
    });

    await page.goto(`${t.url}/docs`);
    await page.getByRole('heading', { name: /qoswatch/ }).first().waitFor();
    const op = page.locator('#operations-incidents-acknowledgeIncident');
    await op.waitFor();
    expect(await op.textContent()).toContain('/v1/incidents/{id}/ack');
    await op.locator('.opblock-summary').first().click();
    // Opened: its described responses, the 409 of a wrong state among them.
    await op.getByText('The resource is not in a state that allows this').waitFor();
    // The security schemes the operations name are listed (Authorize).
    await page.getByRole('button', { name: /Authorize/ }).first().waitFor();

    mkdirSync(join(process.cwd(), 'test-results', 'screenshots'), { recursive: true });
    await page.screenshot({ path: join(process.cwd(), 'test-results', 'screenshots', 'docs-desktop.png') });
    expect(problems).toEqual([]);
    expect(elsewhere).toEqual([]);
  });
});

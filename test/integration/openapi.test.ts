import { execFile } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type TestApp, startApp } from '../helpers/app.js';
import { tempDir } from '../helpers/tmp.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

interface Operation {
  operationId?: string;
  tags?: string[];
  summary?: string;
  security?: Record<string, string[]>[];
  parameters?: unknown[];
  requestBody?: unknown;
  responses: Record<string, { description: string; headers?: Record<string, unknown>; content?: Record<string, unknown> }>;
}
interface Document {
  openapi: string;
  tags?: { name: string; description?: string }[];
  paths: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>>;
  components: { securitySchemes: Record<string, unknown> };
}

/** Every operation of the document as [METHOD path, operation]. */
const operations = (doc: Document) =>
  Object.entries(doc.paths).flatMap(([path, item]) => METHODS.flatMap((m) => (item[m] ? [[`${m.toUpperCase()} ${path}`, item[m]] as const] : [])));

/**
 * The API contract as served: every operation — those added later included — is named, has an audience chosen on
 * purpose, a summary and described failures; and redocly's recommended rules pass on it.
 */
describe('OpenAPI document', () => {
  let t: TestApp;
  let doc: Document;
  beforeAll(async () => {
    // Single sign-on on, so that its routes are in the document too (discovery happens only when someone signs in).
    t = await startApp({ env: { QOSWATCH_OIDC_ISSUER: 'https://id.example.test', QOSWATCH_OIDC_CLIENT_ID: 'qoswatch', QOSWATCH_PUBLIC_URL: 'https://qoswatch.example.test' } });
    const res = await fetch(`${t.url}/docs/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    doc = (await res.json()) as Document;
  });
  afterAll(async () => t?.close());

  it('documents every operation with a unique camelCase operationId and a summary', () => {
    const ops = operations(doc);
    expect(ops.length).toBeGreaterThan(70);
    const ids = ops.map(([, op]) => op.operationId);
    expect(ops.filter(([, op]) => !op.operationId || !/^[a-z][a-zA-Z0-9]+$/.test(op.operationId)).map(([name]) => name)).toEqual([]);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
    expect(ops.filter(([, op]) => !op.summary?.trim()).map(([name]) => name)).toEqual([]);
  });

  it('files every operation under one tag the document describes', () => {
    const tags = new Map((doc.tags ?? []).map((t) => [t.name, t.description]));
    expect([...tags.values()].every((d) => typeof d === 'string' && d.length > 0)).toBe(true);
    expect(operations(doc).filter(([, op]) => op.tags?.length !== 1 || !tags.has(op.tags[0]!)).map(([name]) => name)).toEqual([]);
  });

  it('states the audience of every operation on purpose: no document-wide default, only declared schemes', () => {
    expect(doc).not.toHaveProperty('security');
    const ops = operations(doc);
    expect(ops.filter(([, op]) => !Array.isArray(op.security)).map(([name]) => name)).toEqual([]);
    const schemes = new Set(ops.flatMap(([, op]) => op.security!.flatMap((r) => Object.keys(r))));
    for (const s of schemes) expect(doc.components.securitySchemes).toHaveProperty(s);
    // The open operations are these, and only these.
    const open = ops.filter(([, op]) => op.security!.length === 0).map(([name]) => name);
    expect(open.sort()).toEqual(
      [
        'GET /healthz', 'GET /readyz', 'GET /v1/auth/methods', 'POST /v1/auth/login', 'GET /v1/auth/oidc/login', 'GET /v1/auth/oidc/callback',
        'GET /v1/links/{token}', 'POST /v1/links/{token}',
        // PagerDuty Events v2: the credential is the event's routing_key, in the body (no scheme describes that).
        'POST /v2/enqueue',
      ].filter((name) => ops.some(([n]) => n === name)).sort(),
    );
  });

  it('describes every response, and a client error wherever a request can fail (credentials, parameters, a body)', () => {
    const ops = operations(doc);
    const undescribed = ops.flatMap(([name, op]) => Object.entries(op.responses).filter(([, r]) => !r.description || r.description === 'Default Response').map(([code]) => `${name} ${code}`));
    expect(undescribed).toEqual([]);
    const canFail = ops.filter(([, op]) => op.security!.length > 0 || (op.parameters?.length ?? 0) > 0 || op.requestBody !== undefined);
    expect(canFail.filter(([, op]) => !Object.keys(op.responses).some((c) => /^4\d\d$/.test(c))).map(([name]) => name)).toEqual([]);
    // An operation that takes credentials says what happens without them (a WebSocket refuses them with a close code).
    expect(ops.filter(([name, op]) => op.security!.length > 0 && !op.responses['401'] && name !== 'GET /v1/telemetry/ws').map(([name]) => name)).toEqual([]);
  });

  it('carries Retry-After on every 429 and 503 that tells the client to come back', () => {
    const missing = operations(doc).flatMap(([name, op]) =>
      (['429', '503'] as const).filter((c) => op.responses[c] && !op.responses[c].headers?.['Retry-After'] && name !== 'GET /readyz').map((c) => `${name} ${c}`),
    );
    expect(missing).toEqual([]);
  });

  it('gives bodies that are not JSON their real content types', () => {
    const op = (name: string) => operations(doc).find(([n]) => n === name)![1];
    expect(Object.keys(op('GET /metrics').responses['200']!.content!)).toEqual([expect.stringMatching(/^text\/plain; version=0\.0\.4/)]);
    expect(Object.keys(op('GET /v1/tickets/{id}/postmortem').responses['200']!.content!)).toEqual(['text/markdown']);
    expect(Object.keys(op('GET /v1/sla/report').responses['200']!.content!).sort()).toEqual(['application/json', 'text/csv']);
    expect(Object.keys(op('GET /v1/reports/qos').responses['200']!.content!).sort()).toEqual(['application/json', 'text/html']);
    expect(Object.keys(op('GET /v1/incidents/live').responses['200']!.content!)).toEqual(['text/event-stream']);
    expect(Object.keys(op('GET /v1/oncall/calendar.ics').responses['200']!.content!)).toEqual(['text/calendar']);
    expect(Object.keys(op('GET /v1/links/{token}').responses['200']!.content!)).toEqual(['text/html']);
    for (const name of ['POST /v1/telemetry', 'POST /v1/cmcd']) {
      const body = op(name).requestBody as { content: Record<string, unknown> };
      expect(Object.keys(body.content).sort(), name).toEqual(name === 'POST /v1/cmcd' ? ['application/cmcd'] : ['application/json', 'text/plain']);
      const encoding = (op(name).parameters as { in: string; name: string; schema: { enum?: string[] } }[]).find((p) => p.in === 'header' && p.name === 'content-encoding');
      expect(encoding?.schema.enum, name).toEqual(expect.arrayContaining(['gzip', 'deflate']));
    }
  });

  it('passes redocly lint with the recommended rules, offline, without errors or warnings', async () => {
    const dir = tempDir('qoswatch-openapi');
    writeFileSync(join(dir, 'openapi.json'), JSON.stringify(doc, null, 2));
    // The repository's configuration and its justified exceptions, beside the document they name.
    copyFileSync(join(ROOT, 'redocly.yaml'), join(dir, 'redocly.yaml'));
    copyFileSync(join(ROOT, '.redocly.lint-ignore.yaml'), join(dir, '.redocly.lint-ignore.yaml'));
    expect(parse(readFileSync(join(ROOT, 'redocly.yaml'), 'utf8'))).toMatchObject({ extends: ['recommended'] });
    const bin = join(ROOT, 'node_modules/.bin/redocly');
    const run = await promisify(execFile)(bin, ['lint', 'openapi.json', '--format=stylish', '--max-problems=1000'], {
      cwd: dir,
      // No telemetry and no update check: CI machines have no network.
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
      timeout: 120_000,
    }).catch((err: { code: number; stdout: string; stderr: string }) => err);
    const output = `${run.stdout}\n${run.stderr}`;
    expect(output, output).toMatch(/Woohoo! Your API description is valid/);
    expect(output).not.toMatch(/\b(error|warning)\b +[a-z0-9-]+ /);
    expect('code' in run ? run.code : 0, output).toBe(0);
  });
});


import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type ChatProvider, type PageMessage, statusVerdict } from '../../src/notify/channel.js';
import { deliver, redact } from '../../src/notify/deliver.js';
import { freePort } from '../helpers/ports.js';

const TOKEN = 'tok_0123456789abcdef';

/** A provider of the test's own: JSON {code} bodies like the chat robots, the token in the URL. */
const robot: ChatProvider<{ url: string }> = {
  id: 'robot',
  configSchema: z.object({ url: z.string() }),
  secrets: (c) => [c.url],
  request: (c, page) => ({ url: c.url, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title: page.title }) }),
  check: (status, body) => statusVerdict(status, body) ?? ((JSON.parse(body) as { code: number }).code === 0 ? { ok: true } : { ok: false, retryable: false, reason: `code ${body}` }),
};

const page = { kind: 'opened', incidentId: 1, priority: 'P1', tenant: 't', region: 'eu', state: 'open', title: 'P1 eu: stall', text: '', runbook: undefined, timeline: [], ackUrl: undefined, resolveUrl: undefined, incidentUrl: undefined, mention: undefined, key: 'k1' } satisfies PageMessage;

describe('deliver (a real HTTP receiver on loopback)', () => {
  let base = '';
  const received: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push(body);
      const path = req.url!.split('?')[0];
      if (path === '/hang') return; // never answers
      if (path === '/ok') return res.end('{"code":0}');
      if (path === '/refused-in-body') return res.end(`{"code":19021,"msg":"bad token ${TOKEN} for ${req.url}"}`);
      res.statusCode = path === '/busy' ? 503 : 400;
      res.end(`error for ${req.url}`);
    });
  });
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const send = (path: string, timeoutMs = 2000) => deliver(robot, { url: `${base}${path}?access_token=${TOKEN}` }, page, Date.now(), timeoutMs);

  it('posts the provider payload and accepts its success body', async () => {
    expect(await send('/ok')).toEqual({ ok: true });
    expect(JSON.parse(received.at(-1)!)).toEqual({ title: 'P1 eu: stall' });
  });

  it('treats a failure in the body of an HTTP 200 as a failure, with the token scrubbed from the reason', async () => {
    const v = await send('/refused-in-body');
    expect(v).toMatchObject({ ok: false, retryable: false });
    const reason = (v as { reason: string }).reason;
    expect(reason).toContain('19021');
    expect(reason).not.toContain(TOKEN);
    expect(reason).toContain('[redacted]');
  });

  it('retries 5xx, not 4xx, and never leaks the URL', async () => {
    const busy = await send('/busy');
    expect(busy).toMatchObject({ ok: false, retryable: true });
    const bad = await send('/bad');
    expect(bad).toMatchObject({ ok: false, retryable: false });
    for (const v of [busy, bad]) expect(JSON.stringify(v)).not.toContain(TOKEN);
  });

  it('a timeout and a refused connection are retryable failures naming the cause', async () => {
    expect(await send('/hang', 300)).toEqual({ ok: false, retryable: true, reason: 'request failed: no answer within 300 ms' });
    const port = await freePort();
    const v = await deliver(robot, { url: `http://127.0.0.1:${port}/x?access_token=${TOKEN}` }, page, Date.now(), 1000);
    expect(v).toEqual({ ok: false, retryable: true, reason: 'request failed: ECONNREFUSED' });
  });
});

describe('redact', () => {
  it('replaces every occurrence, longest secret first', () => {
    const url = `https://oapi.example.com/robot/send?access_token=${TOKEN}`;
    expect(redact(`POST ${url} failed; token ${TOKEN}`, [TOKEN, url])).toBe('POST [redacted] failed; token [redacted]');
    expect(redact('nothing to hide', ['abc'])).toBe('nothing to hide');
  });
});

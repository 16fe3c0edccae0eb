import { readFileSync } from 'node:fs';
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, INGEST_KEY, type TestApp, appsClosedAfterEach, sample } from '../helpers/app.js';
import { waitFor } from '../helpers/ports.js';
import { metricValue, metricsText } from '../helpers/metrics.js';
import { sha256 } from '../../src/tenants/keys.js';

/**
 * POST /v1/telemetry and the operational endpoints against the real app on a loopback port (PRODUCT.md §6):
 * real sockets, real bodies (gzip/deflate included), real journal. No `inject`, no mocks.
 */

const start = appsClosedAfterEach();

interface Res {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  body: any;
}

/** One HTTP/1.1 request over node:http; the body is sent as given (string or raw bytes). */
function send(baseUrl: string, method: string, path: string, opts: { headers?: Record<string, string | number>; body?: string | Buffer; agent?: Agent } = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const u = new URL(path, baseUrl);
    const body = opts.body === undefined ? undefined : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body);
    const headers: Record<string, string | number> = { ...(body ? { 'content-length': body.length } : {}), ...opts.headers };
    const req = httpRequest({ method, hostname: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, headers, agent: opts.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const json = (v: unknown) => JSON.stringify(v);
const batch = (n = 1, over: Record<string, unknown> = {}) => ({ samples: Array.from({ length: n }, (_, i) => sample({ session: `s-${i}`, ...over })) });

function post(t: TestApp, body: string | Buffer, headers: Record<string, string | number> = {}, query = '', agent?: Agent): Promise<Res> {
  return send(t.url, 'POST', `/v1/telemetry${query}`, { headers: { 'content-type': 'application/json', authorization: `Bearer ${INGEST_KEY}`, ...headers }, body, agent });
}

/** Makes the pipeline hold the next ingest (after its body arrived) until released. */
function holdIngest(t: TestApp): { entered: Promise<void>; release: () => void } {
  const pipeline = t.app.pipeline;
  const ingest = pipeline.ingest.bind(pipeline);
  let entered!: () => void;
  let release!: () => void;
  const enteredP = new Promise<void>((r) => (entered = r));
  const released = new Promise<void>((r) => (release = r));
  pipeline.ingest = async (...args) => {
    pipeline.ingest = ingest;
    entered();
    await released;
    return ingest(...args);
  };
  return { entered: enteredP, release };
}

/**
 * A raw client that sends the request line and headers (all of them, or only the first when `headersOnly`) and
 * then whatever the test writes; `answer` settles when the server closes the connection.
 */
function slowClient(t: TestApp, o: { body?: string; headersOnly?: boolean }) {
  const u = new URL(t.url);
  const body = Buffer.from(o.body ?? '');
  const socket = connect(Number(u.port), u.hostname);
  const head = `POST /v1/telemetry HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer ${INGEST_KEY}\r\n`;
  socket.write(o.headersOnly ? head : `${head}Content-Length: ${body.length}\r\n\r\n`);
  const t0 = performance.now();
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (c: string) => (text += c));
  socket.on('error', () => undefined);
  const answer = new Promise<{ text: string; closed: boolean; afterMs: number }>((resolve) =>
    socket.on('close', () => resolve({ text, closed: true, afterMs: performance.now() - t0 })),
  );
  return { socket, rest: body, answer, write: (b: Buffer) => socket.write(b) };
}

/** POST without an Authorization header. */
function postNoAuth(t: TestApp, body: string | Buffer, headers: Record<string, string | number> = {}, query = ''): Promise<Res> {
  return send(t.url, 'POST', `/v1/telemetry${query}`, { headers: { 'content-type': 'application/json', ...headers }, body });
}

function expectErrorBody(r: Res, error?: string): void {
  expect(r.headers['content-type']).toMatch(/^application\/json/);
  expect(r.body).toEqual({ error: expect.any(String), message: expect.any(String) });
  if (error) expect(r.body.error).toBe(error);
}



async function createKey(t: TestApp, body: Record<string, unknown> = { name: 'integration' }): Promise<{ id: string; key: string }> {
  const r = await send(t.url, 'POST', '/v1/admin/tenants/default/keys', {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: json(body),
  });
  expect(r.status, r.text).toBe(201);
  expect(r.body).toMatchObject({ id: expect.any(String), tenant: 'default', source: 'api', key: expect.any(String) });
  return { id: r.body.id as string, key: r.body.key as string };
}

describe('POST /v1/telemetry: authentication', () => {
  it('accepts a bearer key and a ?key= key', async () => {
    const t = await start();
    const bearer = await post(t, json(batch(2)));
    expect(bearer.status, bearer.text).toBe(202);
    expect(bearer.body).toEqual({ accepted: 2, rejected: [] });

    const query = await postNoAuth(t, json(batch(1)), {}, `?key=${encodeURIComponent(INGEST_KEY)}`);
    expect(query.status, query.text).toBe(202);
    expect(query.body).toEqual({ accepted: 1, rejected: [] });

    // The bearer scheme is case-insensitive.
    const lower = await post(t, json(batch(1)), { authorization: `bearer ${INGEST_KEY}` });
    expect(lower.status).toBe(202);
  });

  it('answers 401 with a JSON error for a missing, an unknown or a malformed key', async () => {
    const t = await start();
    const missing = await postNoAuth(t, json(batch()));
    expect(missing.status).toBe(401);
    expectErrorBody(missing, 'unauthorized');
    expect(missing.body.message).toMatch(/missing ingest key/);
    expect(missing.headers['www-authenticate']).toBe('Bearer');

    const unknown = await post(t, json(batch()), { authorization: 'Bearer not-a-real-key-xxxxxxxxxxxx' });
    expect(unknown.status).toBe(401);
    expectErrorBody(unknown, 'unauthorized');
    expect(unknown.body.message).toMatch(/unknown or revoked/);

    const unknownQuery = await postNoAuth(t, json(batch()), {}, '?key=not-a-real-key-yyyyyyyyyyyy');
    expect(unknownQuery.status).toBe(401);
    expectErrorBody(unknownQuery, 'unauthorized');

    const basic = await post(t, json(batch()), { authorization: `Basic ${Buffer.from(`u:${INGEST_KEY}`).toString('base64')}` });
    expect(basic.status).toBe(401);
    expectErrorBody(basic, 'unauthorized');

    const emptyQuery = await postNoAuth(t, json(batch()), {}, '?key=');
    expect(emptyQuery.status).toBe(401);
    expectErrorBody(emptyQuery, 'unauthorized');

    // Nothing of these reached the pipeline.
    expect(metricValue(await metricsText(t.url), 'qoswatch_samples_accepted_total{transport="http"}')).toBe(0);
    expect(metricValue(await metricsText(t.url), 'qoswatch_requests_refused_total{transport="http",reason="unauthorized"}')).toBe(5);
  });

  it('accepts a key created through the admin API until it is revoked', async () => {
    const t = await start();
    const { id, key } = await createKey(t);
    expect(key).not.toBe(INGEST_KEY);

    const ok = await post(t, json(batch(1)), { authorization: `Bearer ${key}` });
    expect(ok.status, ok.text).toBe(202);
    const okQuery = await postNoAuth(t, json(batch(1)), {}, `?key=${encodeURIComponent(key)}`);
    expect(okQuery.status, okQuery.text).toBe(202);

    const del = await send(t.url, 'DELETE', `/v1/admin/tenants/default/keys/${id}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(del.status, del.text).toBe(204);

    const revoked = await post(t, json(batch(1)), { authorization: `Bearer ${key}` });
    expect(revoked.status).toBe(401);
    expectErrorBody(revoked, 'unauthorized');
    const revokedQuery = await postNoAuth(t, json(batch(1)), {}, `?key=${encodeURIComponent(key)}`);
    expect(revokedQuery.status).toBe(401);

    // The env-defined key still works.
    expect((await post(t, json(batch(1)))).status).toBe(202);
  });

  it('refuses the admin key API without the admin token', async () => {
    const t = await start();
    const noToken = await send(t.url, 'POST', '/v1/admin/tenants/default/keys', { headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(noToken.status).toBe(401);
    expectErrorBody(noToken, 'unauthorized');
    const ingestKeyAsAdmin = await send(t.url, 'POST', '/v1/admin/tenants/default/keys', {
      headers: { 'content-type': 'application/json', authorization: `Bearer ${INGEST_KEY}` },
      body: '{}',
    });
    expect(ingestKeyAsAdmin.status).toBe(401);
  });
});

describe('POST /v1/telemetry: CORS and sendBeacon', () => {
  it('answers a CORS preflight allowing authorization and content-encoding', async () => {
    const t = await start();
    const r = await send(t.url, 'OPTIONS', '/v1/telemetry', {
      headers: {
        origin: 'https://player.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, content-encoding',
      },
    });
    expect(r.status).toBeGreaterThanOrEqual(200);
    expect(r.status).toBeLessThan(300);
    const allowOrigin = r.headers['access-control-allow-origin'];
    expect(['*', 'https://player.example.com']).toContain(allowOrigin);
    const allowHeaders = String(r.headers['access-control-allow-headers']).toLowerCase().split(',').map((s) => s.trim());
    expect(allowHeaders).toEqual(expect.arrayContaining(['authorization', 'content-type', 'content-encoding']));
    expect(String(r.headers['access-control-allow-methods'])).toMatch(/POST/);
    // A preflight carries no credentials and must not be refused for that, nor counted as a rate-limited request.
    expect(metricValue(await metricsText(t.url), 'qoswatch_requests_refused_total{transport="http",reason="unauthorized"}')).toBe(0);
  });

  it('sets CORS headers on the POST itself and exposes Retry-After', async () => {
    const t = await start();
    const r = await post(t, json(batch()), { origin: 'https://player.example.com' });
    expect(r.status).toBe(202);
    expect(['*', 'https://player.example.com']).toContain(r.headers['access-control-allow-origin']);
    expect(String(r.headers['access-control-expose-headers']).toLowerCase()).toContain('retry-after');

    // Error answers carry them too, so that a browser can read the status and message.
    const denied = await postNoAuth(t, json(batch()), { origin: 'https://player.example.com' });
    expect(denied.status).toBe(401);
    expect(['*', 'https://player.example.com']).toContain(denied.headers['access-control-allow-origin']);
  });

  it('allows only the configured origins when QOSWATCH_CORS_ORIGINS is a list', async () => {
    const t = await start({ env: { QOSWATCH_CORS_ORIGINS: 'https://a.example, https://b.example' } });
    const preflight = (origin: string) =>
      send(t.url, 'OPTIONS', '/v1/telemetry', { headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } });
    expect((await preflight('https://b.example')).headers['access-control-allow-origin']).toBe('https://b.example');
    expect((await preflight('https://evil.example')).headers['access-control-allow-origin']).toBeUndefined();
  });

  it('accepts a sendBeacon-style text/plain body authenticated by ?key=', async () => {
    const t = await start();
    const r = await postNoAuth(t, json(batch(3)), { 'content-type': 'text/plain;charset=UTF-8', origin: 'https://player.example.com' }, `?key=${encodeURIComponent(INGEST_KEY)}`);
    expect(r.status, r.text).toBe(202);
    expect(r.body).toEqual({ accepted: 3, rejected: [] });
    expect(metricValue(await metricsText(t.url), 'qoswatch_samples_accepted_total{transport="http"}')).toBe(3);
  });

  it('takes a large batch (parsed in pieces) exactly as a small one, and journals its bytes as received', async () => {
    const t = await start();
    const samples = batch(2500, { region: 'eu-west — 東京' }).samples as Record<string, unknown>[];
    samples[1234] = { ...samples[1234], latency_ms: -5 };
    const body = Buffer.from(JSON.stringify({ sdk: 'web/1.0', samples }, null, 1));
    expect(body.length).toBeGreaterThan(256 * 1024);
    const r = await post(t, body);
    expect(r.status, r.text).toBe(202);
    expect(r.body.accepted).toBe(2499);
    expect(r.body.rejected).toEqual([expect.objectContaining({ index: 1234 })]);
    expect([...t.app.ingestLog.read(0)].map((rec) => rec.body)).toEqual([body]);
  });
});

describe('POST /v1/telemetry: compressed bodies', () => {
  it('accepts gzip and deflate bodies', async () => {
    const t = await start();
    const gz = await post(t, gzipSync(json(batch(4))), { 'content-encoding': 'gzip' });
    expect(gz.status, gz.text).toBe(202);
    expect(gz.body).toEqual({ accepted: 4, rejected: [] });

    const df = await post(t, deflateSync(json(batch(2))), { 'content-encoding': 'deflate' });
    expect(df.status, df.text).toBe(202);
    expect(df.body).toEqual({ accepted: 2, rejected: [] });

    // sendBeacon cannot compress, but a text/plain gzip body with ?key= works the same.
    const beacon = await postNoAuth(t, gzipSync(json(batch(1))), { 'content-type': 'text/plain;charset=UTF-8', 'content-encoding': 'gzip' }, `?key=${INGEST_KEY}`);
    expect(beacon.status, beacon.text).toBe(202);

    expect(metricValue(await metricsText(t.url), 'qoswatch_samples_accepted_total{transport="http"}')).toBe(7);
  });

  it('answers 415 for an unsupported Content-Encoding', async () => {
    const t = await start();
    const r = await post(t, json(batch()), { 'content-encoding': 'br' });
    expect(r.status).toBe(415);
    expectErrorBody(r, 'unsupported_media_type');
    expect(r.body.message).toMatch(/br/);
  });

  it('answers 400 with JSON, not 500, for a corrupt gzip or deflate body', async () => {
    const t = await start();
    const notGzip = await post(t, json(batch()), { 'content-encoding': 'gzip' });
    expect(notGzip.status, notGzip.text).toBe(400);
    expectErrorBody(notGzip, 'bad_request');

    const good = gzipSync(json(batch(5)));
    const truncated = await post(t, good.subarray(0, Math.floor(good.length / 2)), { 'content-encoding': 'gzip' });
    expect(truncated.status, truncated.text).toBeGreaterThanOrEqual(400);
    expect(truncated.status).toBeLessThan(500);
    expectErrorBody(truncated);

    const flipped = Buffer.from(good);
    for (let i = 10; i < flipped.length - 8; i++) flipped[i] = flipped[i]! ^ 0xff;
    const corrupt = await post(t, flipped, { 'content-encoding': 'gzip' });
    expect(corrupt.status, corrupt.text).toBe(400);
    expectErrorBody(corrupt, 'bad_request');

    const badDeflate = await post(t, Buffer.from('this is not deflate data'), { 'content-encoding': 'deflate' });
    expect(badDeflate.status, badDeflate.text).toBe(400);
    expectErrorBody(badDeflate, 'bad_request');

    expect(t.logs.some((l) => /"level":50/.test(l) && /request failed/.test(l))).toBe(false);
    // The server is still fine.
    expect((await post(t, gzipSync(json(batch(1)))  , { 'content-encoding': 'gzip' })).status).toBe(202);
  });
});

describe('POST /v1/telemetry: validation', () => {
  it('keeps the valid samples of a batch and reports the invalid ones by index, path and message', async () => {
    const t = await start();
    const samples = [
      sample({ session: 'a' }),
      sample({ session: 'b', latency_ms: -5 }),
      sample({ session: 'c', ts: new Date().toISOString() }),
      { region: 'eu-west', latency_ms: 10 },
      sample({ session: 'd', bogus: 1 }),
      sample({ session: 'e' }),
    ];
    const r = await post(t, json({ sdk: 'qoswatch-js/1.0', samples }));
    expect(r.status, r.text).toBe(202);
    expect(r.body.accepted).toBe(3);
    expect(r.body.rejected.map((x: { index: number }) => x.index)).toEqual([1, 3, 4]);
    for (const rej of r.body.rejected as { errors: unknown[] }[]) {
      expect(rej.errors.length).toBeGreaterThan(0);
      for (const e of rej.errors) expect(e).toEqual({ path: expect.any(String), message: expect.any(String) });
    }
    const paths = (i: number) => (r.body.rejected as { index: number; errors: { path: string }[] }[]).find((x) => x.index === i)!.errors.map((e) => e.path);
    expect(paths(1)).toContain('latency_ms');
    expect(paths(3)).toContain('ts');
    expect(paths(4)).toContain('bogus');

    // A batch with nothing valid is still a 202 with accepted 0.
    const none = await post(t, json({ samples: [{ region: 'x' }] }));
    expect(none.status).toBe(202);
    expect(none.body.accepted).toBe(0);
    expect(none.body.rejected).toHaveLength(1);

    const text = await metricsText(t.url);
    expect(metricValue(text, 'qoswatch_samples_accepted_total{transport="http"}')).toBe(3);
    expect(metricValue(text, 'qoswatch_batches_total{transport="http",outcome="partial"}')).toBe(1);
    expect(metricValue(text, 'qoswatch_batches_total{transport="http",outcome="rejected"}')).toBe(1);
  });

  it('counts a batch resent with the same Idempotency-Key once, answering the resend as the first; another key is another batch; a bad key is a 400 naming the header', async () => {
    const t = await start();
    const body = json(batch(3));
    const first = await post(t, body, { 'idempotency-key': 'batch-0001' });
    const resent = await post(t, body, { 'idempotency-key': 'batch-0001' });
    expect([first.status, resent.status]).toEqual([202, 202]);
    expect(resent.body).toEqual(first.body);
    let text = await metricsText(t.url);
    expect(metricValue(text, 'qoswatch_samples_accepted_total{transport="http"}'), 'the resend stored nothing').toBe(3);
    expect((await post(t, body, { 'idempotency-key': 'batch-0002' })).status).toBe(202);
    expect((await post(t, body)).status).toBe(202);
    text = await metricsText(t.url);
    expect(metricValue(text, 'qoswatch_samples_accepted_total{transport="http"}'), 'other keys, and none, are batches of their own').toBe(9);
    for (const bad of ['has space', 'x'.repeat(201), 'tab\there']) {
      const r = await post(t, body, { 'idempotency-key': bad });
      expect(r.status, bad).toBe(400);
      expect(r.body).toMatchObject({ error: 'bad_request', message: expect.stringContaining('Idempotency-Key') });
    }
  });

  it('answers 400 naming `samples` for a bad envelope', async () => {
    const t = await start();
    const cases: [string, unknown][] = [
      ['no samples', { sdk: 'x' }],
      ['samples not an array', { samples: { ts: 1 } }],
      ['empty samples', { samples: [] }],
      ['too many samples', { samples: Array.from({ length: 5001 }, () => ({ ts: 1, region: 'r', rtt_ms: 1 })) }],
    ];
    for (const [what, body] of cases) {
      const r = await post(t, json(body));
      expect(r.status, `${what}: ${r.text}`).toBe(400);
      expectErrorBody(r, 'bad_request');
      expect(r.body.message, what).toMatch(/samples/);
    }
    for (const body of ['[]', 'null', '42', '"samples"']) {
      const r = await post(t, body);
      expect(r.status, `${body}: ${r.text}`).toBe(400);
      expectErrorBody(r, 'bad_request');
    }
    const unknownField = await post(t, json({ ...batch(), extra: true }));
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.message).toMatch(/extra/);
    expect(metricValue(await metricsText(t.url), 'qoswatch_samples_accepted_total{transport="http"}')).toBe(0);
  });

  it('answers 400 for invalid JSON and an empty body', async () => {
    const t = await start();
    const r = await post(t, '{"samples": [');
    expect(r.status).toBe(400);
    expectErrorBody(r, 'bad_request');
    expect(r.body.message).toMatch(/JSON/);
    const beacon = await postNoAuth(t, 'not json at all', { 'content-type': 'text/plain;charset=UTF-8' }, `?key=${INGEST_KEY}`);
    expect(beacon.status).toBe(400);
    expectErrorBody(beacon, 'bad_request');
    const empty = await post(t, '');
    expect(empty.status).toBe(400);
    expectErrorBody(empty, 'bad_request');
  });

  it('answers 400 for a body that is not valid UTF-8, even when the bad bytes sit inside a string, and stores nothing of it', async () => {
    const t = await start();
    const [a, b] = json({ samples: [sample({ region: 'eu@@west' })] }).split('@@') as [string, string];
    for (const bad of [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xc0, 0x80]]) {
      const body = Buffer.concat([Buffer.from(a), Buffer.from(bad), Buffer.from(b)]);
      const r = await post(t, body);
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expectErrorBody(r, 'bad_request');
      expect(r.body.message).toBe('body is not valid UTF-8');
      const gz = await post(t, gzipSync(body), { 'content-encoding': 'gzip' });
      expect(gz.status).toBe(400);
    }
    expect(metricValue(await metricsText(t.url), 'qoswatch_samples_accepted_total{transport="http"}') ?? 0).toBe(0);
    // Multi-byte characters that are valid pass.
    expect((await post(t, json({ samples: [sample({ region: 'ap-東京' })] }))).status).toBe(202);
  });

  it('answers 415 for a content type other than JSON or text/plain', async () => {
    const t = await start();
    for (const ct of ['application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const r = await post(t, json(batch()), { 'content-type': ct });
      expect(r.status, ct).toBe(415);
      expectErrorBody(r, 'unsupported_media_type');
    }
  });
});

describe('POST /v1/telemetry: limits', () => {
  it('answers 413 for a body over QOSWATCH_MAX_BODY, plain or as a gzip bomb', async () => {
    const t = await start({ env: { QOSWATCH_MAX_BODY: '2KiB' } });
    // Under the limit is fine.
    expect((await post(t, json(batch(1)))).status).toBe(202);

    const big = json({ samples: Array.from({ length: 40 }, (_, i) => sample({ session: `session-${i}` })) });
    expect(big.length).toBeGreaterThan(2048);
    const plain = await post(t, big);
    expect(plain.status, plain.text).toBe(413);
    expectErrorBody(plain, 'payload_too_large');

    // Small on the wire, over the limit once decompressed: the limit applies to the decompressed bytes.
    const bomb = gzipSync(`{"samples":[${' '.repeat(1024 * 1024)}]}`);
    expect(bomb.length).toBeLessThan(2048);
    const gz = await post(t, bomb, { 'content-encoding': 'gzip' });
    expect(gz.status, gz.text).toBe(413);
    expectErrorBody(gz, 'payload_too_large');

    // A compressed body within the limit once decompressed still works.
    const okGz = await post(t, gzipSync(json(batch(1))), { 'content-encoding': 'gzip' });
    expect(okGz.status, okGz.text).toBe(202);

    const unsupported = await post(t, json(batch(1)), { 'content-encoding': 'br' });
    expect(unsupported.status).toBe(415);
    const text = await metricsText(t.url);
    expect(metricValue(text, 'qoswatch_requests_refused_total{transport="http",reason="too_large"}')).toBe(2);
    expect(metricValue(text, 'qoswatch_requests_refused_total{transport="http",reason="unsupported_media_type"}')).toBe(1);
  });

  it('answers 429 with Retry-After once a key is over QOSWATCH_RATE_LIMIT; other keys are not affected', async () => {
    const t = await start({ env: { QOSWATCH_RATE_LIMIT: '3/10s' } });
    const other = await createKey(t);
    for (let i = 0; i < 3; i++) {
      const r = await post(t, json(batch()));
      expect(r.status, `request ${i + 1}: ${r.text}`).toBe(202);
    }
    const limited = await post(t, json(batch()));
    expect(limited.status).toBe(429);
    expectErrorBody(limited, 'too_many_requests');
    const retryAfter = Number(limited.headers['retry-after']);
    expect(Number.isFinite(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(10);

    // The same key through ?key= shares the budget.
    const viaQuery = await postNoAuth(t, json(batch()), {}, `?key=${INGEST_KEY}`);
    expect(viaQuery.status).toBe(429);

    // Another key has its own budget.
    for (let i = 0; i < 3; i++) {
      const r = await post(t, json(batch()), { authorization: `Bearer ${other.key}` });
      expect(r.status, `other key, request ${i + 1}: ${r.text}`).toBe(202);
    }
    expect((await post(t, json(batch()), { authorization: `Bearer ${other.key}` })).status).toBe(429);

    // Unauthenticated requests are refused as 401, not counted against anyone's budget.
    expect((await postNoAuth(t, json(batch()))).status).toBe(401);
    expect(metricValue(await metricsText(t.url), 'qoswatch_requests_refused_total{transport="http",reason="rate_limited"}')).toBe(3);
  });

  it('answers 429 over_budget with Retry-After once a tenant has written its budget of points for the window; other tenants are not affected', async () => {
    const now = Date.now();
    const globexKey = 'globex-ingest-key-0123456789';
    const t = await start({ clock: () => now, config: { tenants: [{ id: 'default', budgets: { points: 3 } }, { id: 'globex', ingest_keys: [{ id: 'sdk', sha256: sha256(globexKey) }] }] } });
    // two regions: two points of the budget's three
    expect((await post(t, json({ samples: [sample({ region: 'a' }), sample({ region: 'b' })] }))).status).toBe(202);
    expect((await post(t, json({ samples: [sample({ region: 'c' }), sample({ region: 'd' })] }))).status).toBe(202);
    const refused = await post(t, json(batch(7)));
    expect(refused.status).toBe(429);
    expectErrorBody(refused, 'over_budget');
    expect(refused.body.message).toMatch(/tenant default has written its budget of 3 points for this 10 s window/);
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(10);
    expect((await post(t, json(batch()), { authorization: `Bearer ${globexKey}` })).status).toBe(202);
    const text = await metricsText(t.url);
    expect(metricValue(text, 'qoswatch_requests_refused_total{transport="http",reason="over_budget"}')).toBe(1);
    expect(metricValue(text, 'qoswatch_tenant_budget_exceeded_total{tenant="default",budget="points",action="refused"}')).toBe(7);
  });

  it('honours a per-key rate limit set through the admin API', async () => {
    const t = await start();
    const limitedKey = await createKey(t, { name: 'slow', rate_limit: '1/10s' });
    expect((await post(t, json(batch()), { authorization: `Bearer ${limitedKey.key}` })).status).toBe(202);
    const r = await post(t, json(batch()), { authorization: `Bearer ${limitedKey.key}` });
    expect(r.status).toBe(429);
    expect(r.headers['retry-after']).toBeDefined();
    // The default key keeps the default (large) budget.
    expect((await post(t, json(batch()))).status).toBe(202);
  });

  it('a request whose body has arrived holds an in-flight slot: over QOSWATCH_MAX_INFLIGHT the next is answered 429 with Retry-After', async () => {
    const t = await start({ env: { QOSWATCH_MAX_INFLIGHT: '1' } });
    const gate = holdIngest(t);
    const held = post(t, json(batch(2)));
    await gate.entered;
    const refused = await post(t, json(batch()));
    expect(refused.status).toBe(429);
    expectErrorBody(refused, 'too_many_requests');
    expect(refused.body.message).toContain('too many requests in process');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(metricValue(await metricsText(t.url), 'qoswatch_requests_refused_total{transport="http",reason="overloaded"}')).toBe(1);
    // Operational endpoints are not behind the cap.
    expect((await send(t.url, 'GET', '/healthz')).status).toBe(200);
    gate.release();
    expect((await held).status).toBe(202);
    // The slot is released once the held request is answered.
    expect((await post(t, json(batch()))).body).toEqual({ accepted: 1, rejected: [] });
  });

  it('releases the in-flight slot when the client of a held request disconnects', async () => {
    const t = await start({ env: { QOSWATCH_MAX_INFLIGHT: '1' } });
    const gate = holdIngest(t);
    const client = slowClient(t, { body: json(batch(2)) });
    client.write(client.rest);
    await gate.entered;
    expect((await post(t, json(batch()))).status).toBe(429);
    client.socket.destroy();
    const r = await waitFor('the slot to be released', async () => {
      const x = await post(t, json(batch()));
      return x.status === 202 ? x : undefined;
    });
    gate.release();
    expect(r.body.accepted).toBe(1);
  });

  it('a client dribbling its body holds no slot and is answered 408 and closed after QOSWATCH_REQUEST_TIMEOUT', async () => {
    const t = await start({ env: { QOSWATCH_MAX_INFLIGHT: '1', QOSWATCH_REQUEST_TIMEOUT: '1s' } });
    const slowBody = slowClient(t, { body: json(batch(2)) });
    slowBody.write(slowBody.rest.subarray(0, 5));
    const slowHeaders = slowClient(t, { headersOnly: true });
    // While both dribble, telemetry is accepted: neither holds the only slot.
    for (let i = 0; i < 3; i++) expect((await post(t, json(batch()))).status).toBe(202);
    for (const c of [slowBody, slowHeaders]) {
      const answer = await c.answer;
      expect(answer.closed).toBe(true);
      expect(answer.text).toMatch(/^HTTP\/1\.1 408 /);
      const body = JSON.parse(answer.text.slice(answer.text.indexOf('\r\n\r\n') + 4)) as { error: string; message: string };
      expect(body).toEqual({ error: 'request_timeout', message: 'the request was not received in full within 1 s' });
      // Node checks once a second: answered within the timeout plus that interval (and some slack for a busy box).
      expect(answer.afterMs).toBeGreaterThanOrEqual(900);
      expect(answer.afterMs).toBeLessThan(6000);
    }
    expect(metricValue(await metricsText(t.url), 'qoswatch_requests_refused_total{transport="http",reason="request_timeout"}')).toBe(2);
  });

  it('sheds telemetry with 429 before reading the body once a loop turn has spent QOSWATCH_MAX_EVENT_LOOP_DELAY on work, and recovers', async () => {
    const t = await start({ env: { QOSWATCH_MAX_EVENT_LOOP_DELAY: '1ms' } });
    // A burst: the bodies arrive together, so one turn of the loop takes them all; once it has lasted over 1 ms
    // and spent two budgets (2 ms) on the CPU, the rest of that turn is refused. (A turn that lasted because the
    // process was stopped sheds nothing: test/integration/shedding-process.test.ts, test/unit/loop-lag.test.ts.)
    const big = json(batch(2000));
    const answers = await Promise.all(Array.from({ length: 20 }, () => post(t, big)));
    const refused = answers.filter((r) => r.status === 429);
    expect(refused.length, answers.map((r) => r.status).join(' ')).toBeGreaterThan(0);
    expect(answers.filter((r) => r.status === 202).length).toBeGreaterThan(0);
    expect(answers.every((r) => r.status === 202 || r.status === 429)).toBe(true);
    expectErrorBody(refused[0]!, 'too_many_requests');
    expect(refused[0]!.body.message).toMatch(/\(event-loop turn over 1 ms: \d+ ms, \d+ ms of it on the CPU\)/);
    expect(refused[0]!.headers['retry-after']).toBe('1');
    const text = await metricsText(t.url);
    expect(metricValue(text, 'qoswatch_requests_refused_total{transport="http",reason="overloaded"}')).toBe(refused.length);
    expect(metricValue(text, 'qoswatch_requests_shed_total{cause="event_loop"}')).toBe(refused.length);
    // Every sample of every accepted request counted, none of the refused ones.
    const accepted = answers.filter((r) => r.status === 202).reduce((n, r) => n + (r.body as { accepted: number }).accepted, 0);
    expect(metricValue(text, 'qoswatch_samples_accepted_total{transport="http"}')).toBe(accepted);
    // A lone request in a quiet loop is taken.
    expect((await post(t, json(batch()))).body).toEqual({ accepted: 1, rejected: [] });
  });
});

describe('secrets', () => {
  it('never writes ingest keys or the admin token to the log', async () => {
    const t = await start();
    const wrongKey = 'wrong-key-that-must-not-be-logged-123';
    const created = await createKey(t);
    expect((await post(t, json(batch()))).status).toBe(202);
    expect((await postNoAuth(t, json(batch()), {}, `?key=${INGEST_KEY}`)).status).toBe(202);
    expect((await postNoAuth(t, json(batch()), { 'content-type': 'text/plain' }, `?key=${INGEST_KEY}&x=1`)).status).toBe(202);
    expect((await post(t, json(batch()), { authorization: `Bearer ${wrongKey}` })).status).toBe(401);
    expect((await postNoAuth(t, json(batch()), {}, `?key=${wrongKey}`)).status).toBe(401);
    expect((await post(t, '{bad json', {}, `?key=${wrongKey}`)).status).toBe(400);
    expect((await post(t, json(batch()), { authorization: `Bearer ${created.key}` })).status).toBe(202);
    expect((await post(t, gzipSync('garbage'), { 'content-encoding': 'gzip' }, `?key=${INGEST_KEY}`)).status).toBe(400);
    expect((await send(t.url, 'GET', '/v1/admin/tenants', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(200);
    expect((await send(t.url, 'GET', '/v1/admin/tenants', { headers: { authorization: `Bearer ${wrongKey}` } })).status).toBe(401);
    await send(t.url, 'GET', `/nope?key=${INGEST_KEY}`);

    // The request log is there (debug level) and names the route, with the key masked.
    expect(t.logs.length).toBeGreaterThan(0);
    expect(t.logs.some((l) => l.includes('/v1/telemetry?key=[redacted]'))).toBe(true);
    const secrets = [INGEST_KEY, ADMIN_TOKEN, wrongKey, created.key];
    for (const line of t.logs) {
      for (const s of secrets) expect(line.includes(s), `log line leaks a secret: ${line}`).toBe(false);
    }
  });
});

describe('operational endpoints', () => {
  it('GET /healthz and GET /readyz (storage disabled without INFLUX_URL)', async () => {
    const t = await start();
    const health = await send(t.url, 'GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok' });
    const ready = await send(t.url, 'GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ ready: true, storage: 'disabled', spool: { points: expect.any(Number), bytes: expect.any(Number) } });
    // The embedded mode's one process is every role.
    expect(ready.body.node).toEqual({ mode: 'embedded', roles: ['collector', 'worker', 'leader'], leader: true });
    for (const role of ['leader', 'api', 'telemetry']) expect((await send(t.url, 'GET', `/readyz?role=${role}`)).status, role).toBe(200);
    expect((await send(t.url, 'GET', '/readyz?role=nope')).status).toBe(400);
    // Neither needs a key.
    expect(health.headers['www-authenticate']).toBeUndefined();
  });

  it('GET /docs/openapi.json returns an OpenAPI document with /v1/telemetry and the Sample schema', async () => {
    const t = await start();
    const r = await send(t.url, 'GET', '/docs/openapi.json');
    expect(r.status).toBe(200);
    const doc = r.body as { openapi: string; paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, any> } };
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.paths['/v1/telemetry']).toBeDefined();
    expect(doc.paths['/v1/telemetry']!.post).toBeDefined();
    const sampleSchema = doc.components.schemas.Sample;
    expect(sampleSchema).toBeDefined();
    expect(Object.keys(sampleSchema.properties)).toEqual(expect.arrayContaining(['ts', 'region', 'latency_ms', 'dims']));
    expect(sampleSchema.required).toEqual(expect.arrayContaining(['ts', 'region']));
    // The batch refers to the Sample schema rather than inlining it.
    expect(JSON.stringify(doc.paths['/v1/telemetry'])).toContain('TelemetryBatch');
    expect(JSON.stringify(doc.components.schemas.TelemetryBatch)).toContain('#/components/schemas/Sample');
  });

  it('GET /metrics serves Prometheus text with every qoswatch_* family', async () => {
    const t = await start();
    expect((await post(t, json(batch(2)))).status).toBe(202);
    const r = await send(t.url, 'GET', '/metrics', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
    // Every family declared in src/metrics.ts, read from the source so that a new one is checked too.
    const source = readFileSync(fileURLToPath(new URL('../../src/metrics.ts', import.meta.url)), 'utf8');
    const declared = [...new Set([...source.matchAll(/'(qoswatch_[a-z_]+)'/g)].map((m) => m[1]!))].sort();
    expect(declared.length).toBeGreaterThanOrEqual(20);
    for (const name of declared) {
      expect(r.text, name).toContain(`# HELP ${name} `);
      expect(r.text, name).toMatch(new RegExp(`^# TYPE ${name} (counter|gauge|histogram|summary)$`, 'm'));
    }
    const types = Object.fromEntries([...r.text.matchAll(/^# TYPE (qoswatch_\w+) (\w+)$/gm)].map((m) => [m[1]!, m[2]!]));
    expect(Object.keys(types).sort()).toEqual(declared);
    expect(types).toMatchObject({
      qoswatch_samples_accepted_total: 'counter',
      qoswatch_requests_refused_total: 'counter',
      qoswatch_ws_connections: 'gauge',
      qoswatch_journal_pending_bytes: 'gauge',
      qoswatch_window_tick_duration_seconds: 'histogram',
      qoswatch_influx_write_duration_seconds: 'histogram',
    });
    expect(metricValue(r.text, 'qoswatch_samples_accepted_total{transport="http"}')).toBe(2);
    // Default process metrics are there too.
    expect(r.text).toContain('process_cpu_seconds_total');
  });

  it('answers unknown routes with a JSON 404', async () => {
    const t = await start();
    const r = await send(t.url, 'GET', '/v1/nothing-here');
    expect(r.status).toBe(404);
    expectErrorBody(r, 'not_found');
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ADMIN_TOKEN, INGEST_KEY, type StartOptions, type TestApp, sample, startApp } from '../helpers/app.js';
import { waitFor } from '../helpers/ports.js';
import { metricValue, metricsText } from '../helpers/metrics.js';

/**
 * GET /v1/telemetry/ws against the real app on a loopback port with the `ws` client (PRODUCT.md §6): acks per
 * frame, auth, close codes 1000/1001/1008/1009/1013, keep-alive, rate limits and the connection gauge.
 */

let apps: TestApp[] = [];
let clients: Client[] = [];

async function start(o: StartOptions = {}): Promise<TestApp> {
  const t = await startApp(o);
  apps.push(t);
  return t;
}

afterEach(async () => {
  for (const c of clients) c.ws.terminate();
  clients = [];
  const open = apps;
  apps = [];
  await Promise.allSettled(open.map((t) => t.close()));
});

interface Closed {
  code: number;
  reason: string;
}

/** A `ws` client that queues the server's messages and records pings and the close. */
class Client {
  readonly messages: any[] = [];
  private waiters: (() => void)[] = [];
  pings = 0;
  closedWith: Closed | undefined;
  readonly closed: Promise<Closed>;
  readonly opened: Promise<void>;

  constructor(readonly ws: WebSocket) {
    this.ws.on('message', (data) => {
      const text = String(data);
      let msg: unknown = text;
      try {
        msg = JSON.parse(text);
      } catch {
        /* keep text */
      }
      this.messages.push(msg);
      this.wake();
    });
    this.ws.on('ping', () => {
      this.pings++;
      this.wake();
    });
    this.ws.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      this.ws.on('close', (code, reason) => {
        this.closedWith = { code, reason: reason.toString('utf8') };
        this.wake();
        resolve(this.closedWith);
      }),
    );
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
      this.ws.once('close', () => reject(new Error('closed before open')));
    });
    this.opened.catch(() => undefined);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves once `cond` holds, re-checked on every message, ping and close. */
  until<T>(what: string, cond: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; messages: ${JSON.stringify(this.messages)}; closed: ${JSON.stringify(this.closedWith)}`)), timeoutMs);
      const check = () => {
        const v = cond();
        if (v !== undefined && v !== false) {
          clearTimeout(timer);
          resolve(v);
        } else {
          this.waiters.push(check);
        }
      };
      check();
    });
  }

  /** Waits for `n` messages in total and returns them. */
  async received(n: number): Promise<any[]> {
    await this.until(`${n} messages`, () => this.messages.length >= n);
    return this.messages.slice(0, n);
  }

  sendJson(v: unknown): void {
    this.ws.send(JSON.stringify(v));
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }
}

function connect(t: TestApp, opts: { key?: string | null; query?: string; headers?: Record<string, string>; autoPong?: boolean } = {}): Client {
  const key = opts.key === undefined ? INGEST_KEY : opts.key;
  const query = opts.query ?? (key === null || opts.headers?.authorization ? '' : `?key=${encodeURIComponent(key)}`);
  const ws = new WebSocket(`${t.wsUrl}${query}`, { headers: opts.headers, autoPong: opts.autoPong ?? true });
  const c = new Client(ws);
  clients.push(c);
  return c;
}

const samples = (n: number, over: Record<string, unknown> = {}) => Array.from({ length: n }, (_, i) => sample({ session: `ws-${i}`, ...over }));



async function wsConnectionsGauge(t: TestApp): Promise<number | undefined> {
  return metricValue(await metricsText(t.url), 'qoswatch_ws_connections');
}

describe('WebSocket frames and acks', () => {
  it('answers every frame with an ack carrying its seq, in order', async () => {
    const t = await start();
    const c = connect(t);
    await c.opened;
    const seqs = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 42, 1000];
    seqs.forEach((seq, i) => c.sendJson({ seq, sdk: 'qoswatch-js/1.0', samples: samples((i % 3) + 1) }));
    const acks = await c.received(seqs.length);
    expect(acks.map((a) => a.seq)).toEqual(seqs);
    acks.forEach((a, i) => expect(a).toEqual({ seq: seqs[i], accepted: (i % 3) + 1, rejected: [] }));
    const total = seqs.reduce((n, _, i) => n + (i % 3) + 1, 0);
    expect(metricValue(await metricsText(t.url), 'qoswatch_samples_accepted_total{transport="ws"}')).toBe(total);
    expect(c.isOpen).toBe(true);
  });

  it('keeps the valid samples of a frame and reports the invalid ones', async () => {
    const t = await start();
    const c = connect(t);
    await c.opened;
    c.sendJson({ seq: 7, samples: [sample({ session: 'a' }), sample({ latency_ms: 'slow' }), { region: 'eu' }, sample({ session: 'b' })] });
    const [ack] = await c.received(1);
    expect(ack.seq).toBe(7);
    expect(ack.accepted).toBe(2);
    expect(ack.rejected.map((r: { index: number }) => r.index)).toEqual([1, 2]);
    for (const r of ack.rejected as { errors: unknown[] }[]) {
      expect(r.errors.length).toBeGreaterThan(0);
      for (const e of r.errors) expect(e).toEqual({ path: expect.any(String), message: expect.any(String) });
    }
    expect(ack.rejected[0].errors.map((e: { path: string }) => e.path)).toContain('latency_ms');

    // Nothing valid: still an ack, with accepted 0.
    c.sendJson({ seq: 8, samples: [{ nope: true }] });
    const [, none] = await c.received(2);
    expect(none).toMatchObject({ seq: 8, accepted: 0 });
    expect(none.rejected).toHaveLength(1);
    expect(metricValue(await metricsText(t.url), 'qoswatch_samples_accepted_total{transport="ws"}')).toBe(2);
  });

  it('answers an invalid JSON frame with {seq: null, error: "bad_request"} and stays open', async () => {
    const t = await start();
    const c = connect(t);
    await c.opened;
    c.ws.send('{"seq": 1, "samples": [');
    const [err] = await c.received(1);
    expect(err).toMatchObject({ seq: null, error: 'bad_request', message: expect.stringMatching(/JSON/) });
    expect(c.isOpen).toBe(true);

    c.sendJson({ seq: 2, samples: samples(1) });
    const [, ack] = await c.received(2);
    expect(ack).toEqual({ seq: 2, accepted: 1, rejected: [] });

    // A binary frame holding UTF-8 JSON is read the same way.
    c.ws.send(Buffer.from(JSON.stringify({ seq: 3, samples: samples(2) })), { binary: true });
    const [, , binAck] = await c.received(3);
    expect(binAck).toEqual({ seq: 3, accepted: 2, rejected: [] });
    c.ws.send(Buffer.from([0xff, 0x00, 0x01]), { binary: true });
    const [, , , binErr] = await c.received(4);
    expect(binErr).toMatchObject({ seq: null, error: 'bad_request' });
    // Valid JSON with a bad byte inside a string is refused, not stored as U+FFFD.
    const [x, y] = JSON.stringify({ seq: 4, samples: samples(1).map((s) => ({ ...s, region: 'eu@@west' })) }).split('@@') as [string, string];
    c.ws.send(Buffer.concat([Buffer.from(x), Buffer.from([0xc3]), Buffer.from(y)]), { binary: true });
    const [, , , , utf8Err] = await c.received(5);
    expect(utf8Err).toEqual({ seq: null, error: 'bad_request', message: 'binary frame is not valid UTF-8 (binary frames must hold UTF-8 JSON)' });
    expect(c.isOpen).toBe(true);
  });

  it('answers a frame without seq, or with a bad envelope, with an error naming the field', async () => {
    const t = await start();
    const c = connect(t);
    await c.opened;
    c.sendJson({ samples: samples(1) });
    c.sendJson({ seq: 5, samples: [] });
    c.sendJson({ seq: 6 });
    c.sendJson({ seq: 7, samples: samples(1), extra: 1 });
    c.sendJson({ seq: -1, samples: samples(1) });
    c.sendJson({ seq: 'x', samples: samples(1) });
    c.sendJson(null);
    c.sendJson([1, 2]);
    const msgs = await c.received(8);
    expect(msgs[0]).toMatchObject({ seq: null, error: 'bad_request', message: expect.stringMatching(/seq/) });
    expect(msgs[1]).toMatchObject({ seq: 5, error: 'bad_request', message: expect.stringMatching(/samples/) });
    expect(msgs[2]).toMatchObject({ seq: 6, error: 'bad_request', message: expect.stringMatching(/samples/) });
    expect(msgs[3]).toMatchObject({ seq: 7, error: 'bad_request', message: expect.stringMatching(/extra/) });
    expect(msgs[4]).toMatchObject({ error: 'bad_request', message: expect.stringMatching(/seq/) });
    expect(msgs[5]).toMatchObject({ seq: null, error: 'bad_request', message: expect.stringMatching(/seq/) });
    expect(msgs[6]).toMatchObject({ seq: null, error: 'bad_request' });
    expect(msgs[7]).toMatchObject({ seq: null, error: 'bad_request' });
    for (const m of msgs) expect(m.accepted).toBeUndefined();
    expect(c.isOpen).toBe(true);
    c.sendJson({ seq: 9, samples: samples(1) });
    const all = await c.received(9);
    expect(all[8]).toEqual({ seq: 9, accepted: 1, rejected: [] });
  });
});

describe('WebSocket endpoint', () => {
  it('is listed in the OpenAPI document, and a plain GET is told to upgrade (426)', async () => {
    const t = await start();
    const doc = (await (await fetch(`${t.url}/docs/openapi.json`)).json()) as { paths: Record<string, { get: { summary: string } }> };
    expect(doc.paths['/v1/telemetry/ws']!.get.summary).toMatch(/WebSocket/);
    const res = await fetch(`${t.wsUrl.replace('ws:', 'http:')}?key=${INGEST_KEY}`);
    expect(res.status).toBe(426);
    expect(res.headers.get('upgrade')).toBe('websocket');
    expect(await res.json()).toMatchObject({ error: 'upgrade_required' });
  });
});

describe('WebSocket authentication', () => {
  it('accepts ?key= and an Authorization header', async () => {
    const t = await start();
    const byQuery = connect(t);
    await byQuery.opened;
    byQuery.sendJson({ seq: 1, samples: samples(1) });
    expect((await byQuery.received(1))[0]).toEqual({ seq: 1, accepted: 1, rejected: [] });

    const byHeader = connect(t, { headers: { authorization: `Bearer ${INGEST_KEY}` } });
    await byHeader.opened;
    byHeader.sendJson({ seq: 1, samples: samples(2) });
    expect((await byHeader.received(1))[0]).toEqual({ seq: 1, accepted: 2, rejected: [] });
  });

  it('closes with 1008 for an unknown, a missing or a revoked key', async () => {
    const t = await start();
    const unknown = connect(t, { key: 'not-a-real-key-zzzzzzzzzzzz' });
    expect(await unknown.closed).toEqual({ code: 1008, reason: expect.stringMatching(/unknown or revoked/) });

    const unknownHeader = connect(t, { headers: { authorization: 'Bearer not-a-real-key-zzzzzzzzzzzz' } });
    expect((await unknownHeader.closed).code).toBe(1008);

    const missing = connect(t, { key: null });
    expect(await missing.closed).toEqual({ code: 1008, reason: expect.stringMatching(/missing ingest key/) });

    // A key created through the admin API works until it is revoked.
    const res = await fetch(`${t.url}/v1/admin/tenants/default/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'ws' }),
    });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { id: string; key: string };
    const ok = connect(t, { key: created.key });
    await ok.opened;
    ok.sendJson({ seq: 1, samples: samples(1) });
    expect((await ok.received(1))[0]).toMatchObject({ seq: 1, accepted: 1 });
    const del = await fetch(`${t.url}/v1/admin/tenants/default/keys/${created.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(del.status).toBe(204);
    const revoked = connect(t, { key: created.key });
    expect((await revoked.closed).code).toBe(1008);

    const text = await metricsText(t.url);
    // Four refused, and the open one closed at the revocation.
    expect(metricValue(text, 'qoswatch_ws_closes_total{code="1008"}')).toBe(5);
    expect(metricValue(text, 'qoswatch_requests_refused_total{transport="ws",reason="unauthorized"}')).toBe(4);
  });

  it('closes the open WebSockets of a key with 1008 as soon as it is revoked; other keys\' stay open', async () => {
    const t = await start();
    const res = await fetch(`${t.url}/v1/admin/tenants/default/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'leaked' }),
    });
    const created = (await res.json()) as { id: string; key: string };
    const [a, b, other] = [connect(t, { key: created.key }), connect(t, { headers: { authorization: `Bearer ${created.key}` } }), connect(t)];
    await Promise.all([a.opened, b.opened, other.opened]);
    for (const c of [a, b, other]) c.sendJson({ seq: 1, samples: samples(1) });
    await Promise.all([a.received(1), b.received(1), other.received(1)]);

    const del = await fetch(`${t.url}/v1/admin/tenants/default/keys/${created.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(del.status).toBe(204);
    // A frame sent after the revocation is not taken: the socket closes instead of acking it.
    for (const c of [a, b]) if (c.isOpen) c.sendJson({ seq: 2, samples: samples(1) });
    for (const c of [a, b]) {
      await c.until('an answer or the close', () => c.messages.length > 1 || c.closedWith);
      expect(c.messages).toHaveLength(1);
      expect(await c.closed).toEqual({ code: 1008, reason: expect.stringMatching(/revoked/) });
    }
    other.sendJson({ seq: 2, samples: samples(1) });
    expect((await other.received(2))[1]).toEqual({ seq: 2, accepted: 1, rejected: [] });
    expect(metricValue(await metricsText(t.url), 'qoswatch_samples_accepted_total{transport="ws"}')).toBe(4);
  });

  it('caps the open WebSockets of one key at QOSWATCH_WS_MAX_PER_KEY: the next one is closed 1008 saying so', async () => {
    const t = await start({ env: { QOSWATCH_WS_MAX_PER_KEY: '2' } });
    const [a, b] = [connect(t), connect(t)];
    await Promise.all([a.opened, b.opened]);
    // Once both sessions are running (an ack proves it), a third is refused.
    for (const c of [a, b]) c.sendJson({ seq: 1, samples: samples(1) });
    await Promise.all([a.received(1), b.received(1)]);
    const third = connect(t);
    expect(await third.closed).toEqual({ code: 1008, reason: expect.stringMatching(/at most 2 open WebSockets/) });
    expect(a.isOpen && b.isOpen).toBe(true);

    // Another key has its own allowance; a closed socket frees a place.
    const res = await fetch(`${t.url}/v1/admin/tenants/default/keys`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: '{}' });
    const other = connect(t, { key: ((await res.json()) as { key: string }).key });
    await other.opened;
    other.sendJson({ seq: 1, samples: samples(1) });
    expect((await other.received(1))[0]).toMatchObject({ seq: 1, accepted: 1 });
    a.ws.close(1000, 'bye');
    await a.closed;
    await waitFor('a place to free up', async () => {
      const again = connect(t);
      const opened = await Promise.race([again.opened.then(() => true), again.closed.then(() => false)]);
      if (!opened) return undefined;
      again.sendJson({ seq: 1, samples: samples(1) });
      const [first] = await Promise.race([again.received(1), again.closed.then(() => [undefined])]);
      return first?.accepted === 1 || undefined;
    });
    expect(metricValue(await metricsText(t.url), 'qoswatch_requests_refused_total{transport="ws",reason="too_many_connections"}')).toBeGreaterThanOrEqual(1);
  });

  it('never writes the key of a WebSocket URL to the log', async () => {
    const t = await start();
    const wrong = 'wrong-ws-key-that-must-not-be-logged';
    const c = connect(t);
    await c.opened;
    c.sendJson({ seq: 1, samples: samples(1) });
    await c.received(1);
    const bad = connect(t, { key: wrong });
    await bad.closed;
    const hdr = connect(t, { headers: { authorization: `Bearer ${INGEST_KEY}` } });
    await hdr.opened;
    expect(t.logs.some((l) => l.includes('/v1/telemetry/ws?key=[redacted]'))).toBe(true);
    for (const line of t.logs) {
      for (const s of [INGEST_KEY, wrong, ADMIN_TOKEN]) expect(line.includes(s), `log line leaks a secret: ${line}`).toBe(false);
    }
  });
});

describe('WebSocket limits and close codes', () => {
  it('closes with 1009 on a frame larger than QOSWATCH_WS_MAX_FRAME', async () => {
    const t = await start({ env: { QOSWATCH_WS_MAX_FRAME: '2KiB' } });
    const c = connect(t);
    await c.opened;
    // A frame under the limit is fine.
    c.sendJson({ seq: 1, samples: samples(1) });
    expect((await c.received(1))[0]).toMatchObject({ seq: 1, accepted: 1 });

    const big = JSON.stringify({ seq: 2, samples: samples(40) });
    expect(big.length).toBeGreaterThan(2048);
    c.ws.send(big);
    const closed = await c.closed;
    expect(closed.code).toBe(1009);
    expect(c.messages).toHaveLength(1);
    await waitFor('the 1009 close to be counted', async () => metricValue(await metricsText(t.url), 'qoswatch_ws_closes_total{code="1009"}') === 1);
    await waitFor('the connection gauge to drop', async () => (await wsConnectionsGauge(t)) === 0);
  });

  it('closes with 1013 when the server stays overloaded', async () => {
    const t = await start({ env: { QOSWATCH_WS_OVERLOAD_CLOSE: '200ms' } });
    const c = connect(t);
    await c.opened;
    c.sendJson({ seq: 1, samples: samples(1) });
    expect((await c.received(1))[0]).toMatchObject({ seq: 1, accepted: 1 });

    // The journal commits every event-loop turn, so make the pipeline look overloaded deterministically.
    Object.defineProperty(t.app.pipeline, 'pendingBytes', { configurable: true, get: () => Number.MAX_SAFE_INTEGER });
    c.sendJson({ seq: 2, samples: samples(1) });
    // The client's 'close' event needs the whole closing handshake: the server, which had paused reading, must
    // still read the client's close frame and end the TCP connection. (Before the fix it only did when ws's 30 s
    // close timer destroyed the socket; this limit is far above the few ms the handshake takes.)
    const closed = await c.until('the closing handshake to complete', () => c.closedWith, 15_000);
    expect(closed.code).toBe(1013);
    expect(closed.reason).toMatch(/overloaded/);
    await waitFor('the server to drop the connection', async () => (await wsConnectionsGauge(t)) === 0);
    const text = await metricsText(t.url);
    expect(metricValue(text, 'qoswatch_ws_closes_total{code="1013"}')).toBe(1);
    expect(metricValue(text, 'qoswatch_requests_refused_total{transport="ws",reason="overloaded"}')).toBe(1);
  });

  it('closes an idle connection with 1000 after QOSWATCH_WS_IDLE_TIMEOUT', async () => {
    const t = await start({ env: { QOSWATCH_WS_IDLE_TIMEOUT: '1s', QOSWATCH_WS_PING_INTERVAL: '1s' } });
    const c = connect(t);
    await c.opened;
    const closed = await c.closed;
    expect(closed.code).toBe(1000);
    expect(closed.reason).toMatch(/idle/);
    expect(metricValue(await metricsText(t.url), 'qoswatch_ws_closes_total{code="1000"}')).toBe(1);
  });

  it('pings; a client that answers pongs and sends frames stays open', async () => {
    const t = await start({ env: { QOSWATCH_WS_IDLE_TIMEOUT: '2s', QOSWATCH_WS_PING_INTERVAL: '1s' } });
    const c = connect(t);
    await c.opened;
    let seq = 0;
    const sender = setInterval(() => {
      if (c.isOpen) c.sendJson({ seq: seq++, samples: samples(1) });
    }, 250);
    try {
      // Three pings take three ping intervals: longer than the idle timeout.
      await c.until('3 pings', () => c.pings >= 3 || c.closedWith !== undefined);
      expect(c.closedWith).toBeUndefined();
      expect(c.isOpen).toBe(true);
      expect(c.pings).toBeGreaterThanOrEqual(3);
    } finally {
      clearInterval(sender);
    }
    const sent = seq;
    const acks = await c.received(sent);
    expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: sent }, (_, i) => i));
  });

  it('terminates a client that does not answer pings', async () => {
    const t = await start({ env: { QOSWATCH_WS_IDLE_TIMEOUT: '1h', QOSWATCH_WS_PING_INTERVAL: '1s' } });
    const c = connect(t, { autoPong: false });
    await c.opened;
    const closed = await c.closed;
    // terminate(): no close frame, the TCP connection is dropped.
    expect(closed.code).toBe(1006);
    expect(c.pings).toBeGreaterThanOrEqual(1);
    await waitFor('the connection gauge to drop', async () => (await wsConnectionsGauge(t)) === 0);
  });

  it('answers frames over the per-key rate limit with too_many_requests and retry_after_ms', async () => {
    const t = await start({ env: { QOSWATCH_RATE_LIMIT: '2/10s' } });
    const c = connect(t);
    await c.opened;
    c.sendJson({ seq: 1, samples: samples(1) });
    c.sendJson({ seq: 2, samples: samples(1) });
    c.sendJson({ seq: 3, samples: samples(1) });
    const msgs = await c.received(3);
    const bySeq = new Map(msgs.map((m) => [m.seq, m]));
    expect(bySeq.get(1)).toEqual({ seq: 1, accepted: 1, rejected: [] });
    expect(bySeq.get(2)).toEqual({ seq: 2, accepted: 1, rejected: [] });
    const limited = bySeq.get(3);
    expect(limited).toMatchObject({ seq: 3, error: 'too_many_requests', message: expect.any(String) });
    expect(limited.retry_after_ms).toBeGreaterThan(0);
    expect(limited.retry_after_ms).toBeLessThanOrEqual(10_000);
    expect(limited.accepted).toBeUndefined();
    expect(c.isOpen).toBe(true);

    const text = await metricsText(t.url);
    expect(metricValue(text, 'qoswatch_samples_accepted_total{transport="ws"}')).toBe(2);
    expect(metricValue(text, 'qoswatch_requests_refused_total{transport="ws",reason="rate_limited"}')).toBe(1);
  });

  it('answers frames of a tenant over its points budget with over_budget and retry_after_ms', async () => {
    const now = Date.now();
    const t = await start({ clock: () => now, config: { tenants: [{ id: 'default', budgets: { points: 1 } }] } });
    const c = connect(t);
    await c.opened;
    c.sendJson({ seq: 1, samples: samples(2) });
    expect(await c.received(1)).toEqual([{ seq: 1, accepted: 2, rejected: [] }]);
    c.sendJson({ seq: 2, samples: samples(3) });
    const [, refused] = await c.received(2);
    expect(refused).toMatchObject({ seq: 2, error: 'over_budget', message: expect.stringMatching(/budget of 1 points/) });
    expect(refused.retry_after_ms).toBeGreaterThan(0);
    expect(refused.retry_after_ms).toBeLessThanOrEqual(10_000);
    expect(c.isOpen).toBe(true);
    expect(metricValue(await metricsText(t.url), 'qoswatch_requests_refused_total{transport="ws",reason="over_budget"}')).toBe(1);
  });

  it('counts every frame against the rate limit, invalid ones too', async () => {
    const t = await start({ env: { QOSWATCH_RATE_LIMIT: '3/1m' } });
    const c = connect(t);
    await c.opened;
    // Not JSON, a bad envelope, bad UTF-8: each costs the key a frame like a valid one.
    c.ws.send('not json');
    c.sendJson({ seq: 1 });
    c.ws.send(Buffer.from([0xff, 0x00]), { binary: true });
    c.ws.send('not json either');
    c.sendJson({ seq: 2, samples: samples(1) });
    const msgs = await c.received(5);
    expect(msgs.slice(0, 3).map((m) => m.error)).toEqual(['bad_request', 'bad_request', 'bad_request']);
    expect(msgs[3]).toMatchObject({ seq: null, error: 'too_many_requests', retry_after_ms: expect.any(Number) });
    expect(msgs[4]).toMatchObject({ seq: 2, error: 'too_many_requests' });
    expect(metricValue(await metricsText(t.url), 'qoswatch_requests_refused_total{transport="ws",reason="rate_limited"}')).toBe(2);
    expect(metricValue(await metricsText(t.url), 'qoswatch_samples_accepted_total{transport="ws"}')).toBe(0);
  });

  it('does not limit upgrades per client IP: many viewers share one NAT', async () => {
    const t = await start({ env: { QOSWATCH_RATE_LIMIT: '2/10s' } });
    const cs = [connect(t), connect(t), connect(t), connect(t)];
    await Promise.all(cs.map((c) => c.opened));
    expect(cs.every((c) => c.isOpen)).toBe(true);
  });

  it('keeps a connection paused by backpressure although its pongs go unread', async () => {
    const t = await start({ env: { QOSWATCH_WS_PING_INTERVAL: '1s', QOSWATCH_WS_IDLE_TIMEOUT: '1h' } });
    Object.defineProperty(t.app.pipeline, 'pendingBytes', { get: () => Number.MAX_SAFE_INTEGER, configurable: true });
    const c = connect(t);
    await c.opened;
    c.sendJson({ seq: 1, samples: samples(1) }); // overloaded: the server stops reading this socket
    await c.until('three pings while paused', () => c.pings >= 3);
    expect(c.isOpen).toBe(true);
  });

  it('closes open sockets with 1001 on app.close()', async () => {
    const t = await start();
    const a = connect(t);
    const b = connect(t, { headers: { authorization: `Bearer ${INGEST_KEY}` } });
    await Promise.all([a.opened, b.opened]);
    a.sendJson({ seq: 1, samples: samples(1) });
    await a.received(1);
    await t.close();
    const [ca, cb] = await Promise.all([a.closed, b.closed]);
    expect(ca.code).toBe(1001);
    expect(cb.code).toBe(1001);
  });

  it('closes a connection paused by backpressure with 1001 on app.close(), completing the handshake', async () => {
    const t = await start({ env: { QOSWATCH_WS_OVERLOAD_CLOSE: '10m' } });
    const c = connect(t);
    await c.opened;
    c.sendJson({ seq: 1, samples: samples(1) });
    await c.received(1);
    // Overloaded but not for long enough to close: the session stops reading the socket.
    Object.defineProperty(t.app.pipeline, 'pendingBytes', { configurable: true, get: () => Number.MAX_SAFE_INTEGER });
    c.sendJson({ seq: 2, samples: samples(1) });
    await c.received(2);
    let closedApp = false;
    const closing = t.close().then(() => (closedApp = true));
    expect((await c.until('the closing handshake to complete', () => c.closedWith, 15_000)).code).toBe(1001);
    // app.close() waits for the WebSocket server, which waits for its clients: it must not hang on the paused one.
    await waitFor('app.close() to finish', () => closedApp, 15_000);
    await closing;
  });

  it('tracks open connections in the qoswatch_ws_connections gauge', async () => {
    const t = await start();
    expect(await wsConnectionsGauge(t)).toBe(0);
    const a = connect(t);
    const b = connect(t);
    await Promise.all([a.opened, b.opened]);
    // The gauge is raised once the session starts; an ack proves it has.
    a.sendJson({ seq: 1, samples: samples(1) });
    b.sendJson({ seq: 1, samples: samples(1) });
    await Promise.all([a.received(1), b.received(1)]);
    expect(await wsConnectionsGauge(t)).toBe(2);

    a.ws.close(1000, 'bye');
    await a.closed;
    await waitFor('the gauge to go down to 1', async () => (await wsConnectionsGauge(t)) === 1);
    b.ws.terminate();
    await b.closed;
    await waitFor('the gauge to go down to 0', async () => (await wsConnectionsGauge(t)) === 0);

    // Refused connections never count.
    const refused = connect(t, { key: 'not-a-real-key-zzzzzzzzzzzz' });
    await refused.closed;
    expect(await wsConnectionsGauge(t)).toBe(0);
  });
});

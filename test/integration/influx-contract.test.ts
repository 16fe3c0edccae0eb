import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { SinkError } from '../../src/storage/influx/sink.js';
import { createV1Sink } from '../../src/storage/influx/v1.js';
import { createV2Sink } from '../../src/storage/influx/v2.js';
import { postTelemetry, startApp } from '../helpers/app.js';
import { waitFor } from '../helpers/ports.js';
import { metricsText } from '../helpers/metrics.js';

interface Received {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
  lines: string[];
}

/** A loopback stand-in for an InfluxDB write endpoint that records each request and answers as told. */
async function writeEndpoint(answer: (r: Received) => { status: number; body?: string } = () => ({ status: 204 })) {
  const received: Received[] = [];
  const srv = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
      const r = { method: req.method!, url: new URL(req.url!, 'http://x'), headers: req.headers, lines: text.split('\n').filter(Boolean) };
      received.push(r);
      const a = answer(r);
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(a.body ?? '');
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
  closers.push(() => new Promise<void>((r) => srv.close(() => r())));
  return { url, received };
}

let closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers) await c();
  closers = [];
});

const TOKEN = 'v2-secret-token-abcdef123456';

describe('InfluxDB v2 write contract (through @influxdata/influxdb-client)', () => {
  it('POSTs gzip line protocol to /api/v2/write with org, bucket, ns precision and the token', async () => {
    const ep = await writeEndpoint();
    const sink = createV2Sink({ url: ep.url, org: 'my-org', bucket: 'qos', token: TOKEN, timeoutMs: 2000, maxLines: 5000 });
    await sink.write(['qos_region,region=eu,tenant=t samples=1i 1000000000', 'qos_region,region=us,tenant=t samples=2i 1000000000']);
    expect(ep.received).toHaveLength(1);
    const r = ep.received[0]!;
    expect(r.method).toBe('POST');
    expect(r.url.pathname).toBe('/api/v2/write');
    expect(Object.fromEntries(r.url.searchParams)).toEqual({ org: 'my-org', bucket: 'qos', precision: 'ns' });
    expect(r.headers.authorization).toBe(`Token ${TOKEN}`);
    expect(r.headers['content-encoding']).toBe('gzip');
    expect(r.lines).toEqual(['qos_region,region=eu,tenant=t samples=1i 1000000000', 'qos_region,region=us,tenant=t samples=2i 1000000000']);
  });

  it.each([
    [503, 'retry'],
    [401, 'retry'],
    [400, 'reject'],
    [413, 'too_large'],
  ] as const)('classifies HTTP %i as %s, without the token in the message', async (status, failure) => {
    const ep = await writeEndpoint(() => ({ status, body: JSON.stringify({ code: 'x', message: `failure ${status}` }) }));
    const sink = createV2Sink({ url: ep.url, org: 'o', bucket: 'b', token: TOKEN, timeoutMs: 2000, maxLines: 10 });
    const err = await sink.write(['m f=1 1']).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(SinkError);
    expect((err as SinkError).failure).toBe(failure);
    expect((err as SinkError).message).toContain(`failure ${status}`);
    expect((err as SinkError).message).not.toContain(TOKEN);
  });

  it('an unreachable server is a retryable failure', async () => {
    const sink = createV2Sink({ url: 'http://127.0.0.1:1', org: 'o', bucket: 'b', token: TOKEN, timeoutMs: 1000, maxLines: 10 });
    const err = (await sink.write(['m f=1 1']).catch((e: unknown) => e)) as SinkError;
    expect(err.failure).toBe('retry');
    expect(err.message).not.toContain(TOKEN);
  });

  it('the app writes its rollups through the v2 API end to end', async () => {
    const ep = await writeEndpoint();
    const t = await startApp({
      env: { INFLUX_URL: ep.url, INFLUX_API: 'v2', INFLUX_ORG: 'acme', INFLUX_BUCKET: 'qos', INFLUX_TOKEN: TOKEN, QOSWATCH_WINDOW: '1s', QOSWATCH_WINDOW_GRACE: '100ms', QOSWATCH_FLUSH_INTERVAL: '100ms' },
    });
    try {
      const r = await postTelemetry(t.url, { samples: [{ ts: Date.now(), region: 'eu', session: 'a', latency_ms: 42 }] });
      expect(r.status).toBe(202);
      const req = await waitFor('a write', () => ep.received.find((x) => x.lines.some((l) => l.startsWith('qos_region'))));
      expect(req.url.pathname).toBe('/api/v2/write');
      expect(req.url.searchParams.get('org')).toBe('acme');
      expect(req.headers.authorization).toBe(`Token ${TOKEN}`);
      expect(req.lines.find((l) => l.startsWith('qos_region'))).toMatch(/^qos_region,region=eu,tenant=default .*latency_p50=42.* \d{19}$/);
    } finally {
      await t.close();
    }
    expect(t.logs.join('\n')).not.toContain(TOKEN);
  });
});

describe('InfluxDB v1 /write contract', () => {
  it('uses db, rp, ns precision and basic auth, keeping the password out of the URL', async () => {
    const ep = await writeEndpoint();
    const sink = createV1Sink({ url: ep.url, db: 'qos', rp: 'autogen', user: 'writer', password: 'p@ss-word-123', timeoutMs: 2000 });
    await sink.write(['m f=1 1']);
    const r = ep.received[0]!;
    expect(r.url.pathname).toBe('/write');
    expect(Object.fromEntries(r.url.searchParams)).toEqual({ db: 'qos', rp: 'autogen', precision: 'ns' });
    expect(r.headers.authorization).toBe(`Basic ${Buffer.from('writer:p@ss-word-123').toString('base64')}`);
    expect(r.headers['content-encoding']).toBe('gzip');
    expect(r.lines).toEqual(['m f=1 1']);
    expect(sink.target).not.toContain('p@ss');
  });

  it('a point InfluxDB refuses is dropped and counted; the rest of the spool still flows', async () => {
    let calls = 0;
    const ep = await writeEndpoint((r) => {
      calls++;
      return r.lines.some((l) => l.includes('region=bad')) ? { status: 400, body: '{"error":"partial write: field type conflict"}' } : { status: 204 };
    });
    const t = await startApp({ env: { INFLUX_URL: ep.url, INFLUX_API: 'v1', INFLUX_DB: 'qos', QOSWATCH_WINDOW: '1s', QOSWATCH_WINDOW_GRACE: '100ms', QOSWATCH_FLUSH_INTERVAL: '100ms', INFLUX_BATCH_LINES: '1' } });
    try {
      await postTelemetry(t.url, { samples: [{ ts: Date.now(), region: 'bad', latency_ms: 1 }, { ts: Date.now(), region: 'good', latency_ms: 1 }] });
      await waitFor('the good point', () => ep.received.find((r) => r.lines.some((l) => l.includes('region=good'))));
      const text = await metricsText(t.url);
      expect(text).toMatch(/qoswatch_influx_points_rejected_total 1\b/);
      expect(text).toMatch(/qoswatch_influx_write_errors_total\{failure="reject"\} 1\b/);
      expect(calls).toBeGreaterThanOrEqual(2);
    } finally {
      await t.close();
    }
    expect(t.logs.some((l) => l.includes('InfluxDB refused points'))).toBe(true);
  });
});

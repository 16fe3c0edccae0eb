import { gzipSync } from 'node:zlib';
import { encodeCmcd } from '@svta/cml-cmcd';
import { describe, expect, it } from 'vitest';
import { INGEST_KEY, type TestApp, appsClosedAfterEach } from '../helpers/app.js';
import { metricValue, metricsText } from '../helpers/metrics.js';
import { sha256 } from '../../src/tenants/keys.js';
import type { Sample } from '../../src/telemetry/sample-schema.js';

/**
 * POST /v1/cmcd against the real app on a loopback port: CMCD v2 event reports encoded by @svta/cml-cmcd (the
 * library the players embed), one line as hls.js 1.7 sends it, the real journal. No `inject`, no mocks.
 */

const start = appsClosedAfterEach();
const SID = '6e2fb550-c457-4bd7-a5b2-6a2b4d0e5a61';

/** One event report line, encoded as a player's CmcdReporter encodes it. */
function line(data: Record<string, unknown>): string {
  return encodeCmcd({ v: 2, sid: SID, ...data } as never, { version: 2, reportingMode: 'event' });
}

/** A body as hls.js sends it: report lines joined by \n, with a trailing \n. */
const body = (lines: string[]) => `${lines.join('\n')}\n`;

async function post(t: TestApp, text: string | Buffer, o: { query?: string; headers?: Record<string, string> } = {}) {
  const res = await fetch(`${t.url}/v1/cmcd${o.query ?? `?key=${INGEST_KEY}&region=eu-west`}`, {
    method: 'POST',
    headers: { 'content-type': 'application/cmcd', ...o.headers },
    body: text,
  });
  const textBody = await res.text();
  return { status: res.status, headers: res.headers, body: textBody ? JSON.parse(textBody) : undefined };
}

/** The samples journaled so far (what a replay after a crash would rebuild the windows from). */
function journaled(t: TestApp): { sdk?: string; samples: Sample[] }[] {
  return [...t.app.ingestLog.read(0)].map((r) => JSON.parse(r.body.toString()));
}

function totals(samples: Sample[]) {
  const sum = (f: (s: Sample) => number | undefined) => samples.reduce((n, s) => n + (f(s) ?? 0), 0);
  return { play: sum((s) => s.play_ms), stall: sum((s) => s.stall_ms), count: sum((s) => s.stall_count) };
}

describe('POST /v1/cmcd: reports to samples', () => {
  it('turns a session of hls.js-style reports into journaled play/stall/startup samples with region, protocol and sdk', async () => {
    const t = await start();
    const t0 = Date.now() - 60_000;
    const common = { cid: 'live-1', sf: 'h', st: 'l', br: [1200], mtp: [5000] };
    // each report in its own POST, as hls.js sends with batchSize 1
    const reports = [
      { e: 't', ts: t0, sta: 'd', sn: 0 },
      { e: 'ps', ts: t0 + 100, sta: 's', sn: 1 },
      { e: 'ps', ts: t0 + 1600, sta: 'p', sn: 2 },
      { e: 'ps', ts: t0 + 20_000, sta: 'r', bl: [0], sn: 3 },
      { e: 'ps', ts: t0 + 23_000, sta: 'p', sn: 4 },
      { e: 't', ts: t0 + 30_000, sta: 'p', sn: 5 },
    ];
    for (const r of reports) {
      const res = await post(t, body([line({ ...common, ...r })]));
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ accepted: 1, rejected: [] });
      expect(res.body.samples).toBeGreaterThan(0);
    }
    const rows = journaled(t);
    expect(rows.every((r) => r.sdk === 'cmcd')).toBe(true);
    const samples = rows.flatMap((r) => r.samples);
    expect(totals(samples)).toEqual({ play: 18_400 + 7000, stall: 3000, count: 1 });
    expect(samples.filter((s) => s.startup_ms !== undefined).map((s) => s.startup_ms)).toEqual([1500]);
    for (const s of samples) expect(s).toMatchObject({ region: 'eu-west', session: SID, dims: { sdk: 'cmcd' } });
    expect(samples.at(-1)!.dims).toEqual({ sdk: 'cmcd', protocol: 'hls' });
    const m = await metricsText(t.url);
    expect(metricValue(m, 'qoswatch_cmcd_reports_total{outcome="accepted"}')).toBe(reports.length);
    expect(metricValue(m, 'qoswatch_samples_accepted_total{transport="cmcd"}')).toBe(samples.length);
    expect(metricValue(m, 'qoswatch_cmcd_sessions')).toBe(1);
  });

  it('takes a line exactly as hls.js 1.7 writes it (keys sorted, tokens bare, trailing line feed), gzip too', async () => {
    const t = await start();
    const ts = Date.now() - 5000;
    // Hand-checked against hls.js 1.7.4's CmcdReporter.sendEventReport: `body: lines.join("\n") + "\n"`,
    // keys sorted by prepareCmcdData, sf/st/sta/e as tokens, sid/cid as strings, inner lists for br/bl/mtp.
    const hls =
      `bl=(4000),br=(1200),cid="live-1",e=ps,mtp=(5000),pr=2,sf=h,sid="${SID}",sn=2,st=ll,sta=p,ts=${ts},v=2\n` +
      `bl=(3900),br=(1200),cid="live-1",e=t,mtp=(5000),pr=2,sf=h,sid="${SID}",sn=3,st=ll,sta=p,ts=${ts + 4000},v=2\n`;
    const res = await post(t, gzipSync(hls), { headers: { 'content-encoding': 'gzip' } });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ accepted: 2, rejected: [], samples: expect.any(Number) });
    const samples = journaled(t).flatMap((r) => r.samples);
    expect(totals(samples).play).toBe(4000);
    expect(samples.every((s) => s.dims?.protocol === 'll-hls')).toBe(true);
  });

  it('reports dash.js-style ltc as latency_ms and a fatal error before the first frame as startup_failed', async () => {
    const t = await start();
    const ts = Date.now() - 5000;
    const res = await post(t, body([line({ e: 't', ts, sta: 'p', sf: 'd', st: 'l', ltc: 4200, sid: 'dash-1' }), line({ e: 'ps', ts, sta: 'f', sid: 'dash-2' }), line({ e: 'e', ts, sta: 'f', ec: ['MEDIA_ERR_DECODE'], sid: 'dash-2' })]));
    expect(res.status).toBe(202);
    const samples = journaled(t).flatMap((r) => r.samples);
    expect(samples.find((s) => s.session === 'dash-1')).toMatchObject({ latency_ms: 4200, dims: { protocol: 'dash' } });
    expect(samples.filter((s) => s.session === 'dash-2').map((s) => s.error)).toEqual(['startup_failed']);
  });

  it("takes the region from the ingest key's config when the URL has none, and the URL's over it", async () => {
    const playerKey = 'player-key-0123456789abcdef';
    const t = await start({ config: { tenants: [{ id: 'default', ingest_keys: [{ id: 'player', sha256: sha256(playerKey), region: 'ap-south' }] }] } });
    const ts = Date.now() - 5000;
    expect((await post(t, body([line({ e: 't', ts, sta: 'p', sid: 'a' })]), { query: `?key=${playerKey}` })).status).toBe(202);
    expect((await post(t, body([line({ e: 't', ts, sta: 'p', sid: 'b' })]), { query: `?key=${playerKey}&region=us-east` })).status).toBe(202);
    const samples = journaled(t).flatMap((r) => r.samples);
    expect(samples.map((s) => [s.session, s.region])).toEqual([['a', 'ap-south'], ['b', 'us-east']]);
    // the default key has no region: the URL must name one
    const none = await post(t, body([line({ e: 't', ts, sta: 'p' })]), { query: `?key=${INGEST_KEY}` });
    expect(none.status).toBe(400);
    expect(none.body.message).toMatch(/^region: is required/);
  });
});

describe('POST /v1/cmcd: refusals', () => {
  it('keeps the good reports of a body and names the key of each bad one; refuses with 400 naming the key when none is good', async () => {
    const t = await start();
    const ts = Date.now() - 5000;
    const res = await post(t, body([line({ e: 't', ts, sta: 'p' }), line({ e: 't', ts: ts + 3_600_000, sta: 'p' }), line({ e: 'ps', ts, sta: 'z' }), 'sta="p', `e=t,sid="x",ts=${ts},v=1`]));
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(1);
    expect(res.body.rejected.map((r: { index: number; errors: { path: string }[] }) => [r.index, r.errors[0]!.path])).toEqual([[1, 'ts'], [2, 'sta'], [3, ''], [4, 'v']]);
    const bad = await post(t, body([line({ e: 'ps', ts, sta: 'z' })]));
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('bad_request');
    expect(bad.body.message).toMatch(/^report 0: sta: /);
    const noSid = await post(t, `e=t,sta=p,ts=${ts},v=2`);
    expect(noSid.body.message).toMatch(/^report 0: sid: is required/);
    const many = await post(t, Array.from({ length: 70 }, (_, i) => `k${i}=1`).join(','));
    expect(many.body.message).toMatch(/^report 0: report has 70 keys; at most 64/);
    const m = await metricsText(t.url);
    expect(metricValue(m, 'qoswatch_cmcd_reports_total{outcome="rejected"}')).toBe(4 + 3);
    expect(metricValue(m, 'qoswatch_requests_refused_total{transport="cmcd",reason="bad_request"}')).toBe(3);
  });

  it('bounds a body: at most 1000 reports, 4096 characters a report', async () => {
    const t = await start();
    const ts = Date.now();
    const full = await post(t, body(Array.from({ length: 1000 }, (_, i) => `e=t,sid="s${i}",ts=${ts},v=2`)));
    expect(full.body).toMatchObject({ accepted: 1000, rejected: [] });
    const tooMany = await post(t, body(Array.from({ length: 1001 }, (_, i) => `e=t,sid="s${i}",ts=${ts},v=2`)));
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.message).toBe('body holds 1001 reports; at most 1000');
    const long = await post(t, body([line({ e: 't', ts, sta: 'p' }), line({ e: 't', ts, sta: 'p', cid: 'x'.repeat(4100) })]));
    expect(long.status).toBe(202);
    expect(long.body.rejected).toEqual([{ index: 1, errors: [{ path: '', message: 'report is longer than 4096 characters' }] }]);
  });

  it('forgets a session QOSWATCH_MAX_LIVE after its last report (qoswatch_cmcd_sessions, read on scrape)', async () => {
    let now = Date.now();
    const t = await start({ clock: () => now, env: { QOSWATCH_MAX_LIVE: '5s' } });
    expect((await post(t, body([line({ e: 't', ts: now, sta: 'p' }), line({ e: 't', ts: now, sta: 'p', sid: 'other' })]))).status).toBe(202);
    expect(metricValue(await metricsText(t.url), 'qoswatch_cmcd_sessions')).toBe(2);
    now += 5000;
    expect(metricValue(await metricsText(t.url), 'qoswatch_cmcd_sessions')).toBe(0);
  });

  it('answers 401 without a valid ingest key (header or ?key=), 415 for another content type, 413 over QOSWATCH_MAX_BODY', async () => {
    const t = await start({ env: { QOSWATCH_MAX_BODY: '2KiB' } });
    const ok = body([line({ e: 't', ts: Date.now(), sta: 'p' })]);
    expect((await post(t, ok, { query: '?region=eu' })).status).toBe(401);
    expect((await post(t, ok, { query: '?key=nope&region=eu' })).status).toBe(401);
    expect((await post(t, ok, { query: '?region=eu', headers: { authorization: `Bearer ${INGEST_KEY}` } })).status).toBe(202);
    const json = await post(t, ok, { headers: { 'content-type': 'application/json' } });
    expect(json.status).toBe(415);
    const big = await post(t, body(Array.from({ length: 40 }, () => line({ e: 't', ts: Date.now(), sta: 'p' }))));
    expect(big.status).toBe(413);
    expect(big.body.error).toBe('payload_too_large');
    const m = await metricsText(t.url);
    expect(metricValue(m, 'qoswatch_requests_refused_total{transport="cmcd",reason="unauthorized"}')).toBe(2);
    expect(metricValue(m, 'qoswatch_requests_refused_total{transport="cmcd",reason="too_large"}')).toBe(1);
  });

  it('answers 429 with Retry-After once the key is over its rate limit, counted as cmcd', async () => {
    const t = await start({ env: { QOSWATCH_RATE_LIMIT: '2/10s' } });
    const ok = body([line({ e: 't', ts: Date.now(), sta: 'p' })]);
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await post(t, ok)).status);
    expect(codes).toEqual([202, 202, 429]);
    const last = await post(t, ok);
    expect(last.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(metricValue(await metricsText(t.url), 'qoswatch_requests_refused_total{transport="cmcd",reason="rate_limited"}')).toBe(2);
  });
});

describe('POST /v1/cmcd: logging', () => {
  it('logs its requests at debug only, as telemetry: a report per request from every viewer', async () => {
    const t = await start({ env: { QOSWATCH_LOG_LEVEL: 'info' } });
    expect((await post(t, body([line({ e: 't', ts: Date.now(), sta: 'p' })]))).status).toBe(202);
    expect((await post(t, body([line({ e: 't', ts: Date.now(), sta: 'z' })]))).status).toBe(400);
    const lines = t.logs.map((l) => JSON.parse(l) as { msg: string; req?: { url?: string } });
    expect(lines.filter((l) => l.req?.url?.startsWith('/v1/cmcd'))).toEqual([]);
  });
});

describe('POST /v1/cmcd: OpenAPI', () => {
  it('is documented with its application/cmcd body, its key (header or query), region, encoding and its answer', async () => {
    const t = await start();
    const doc = (await (await fetch(`${t.url}/docs/openapi.json`)).json()) as { paths: Record<string, any> };
    const op = doc.paths['/v1/cmcd']?.post;
    expect(Object.keys(op.requestBody.content)).toEqual(['application/cmcd']);
    // The key is a security scheme (Authorization or ?key=), not a plain parameter.
    expect(op.security).toEqual([{ ingestKey: [] }, { ingestKeyQuery: [] }]);
    expect(op.parameters.map((p: { name: string }) => p.name).sort()).toEqual(['content-encoding', 'region']);
    expect(Object.keys(op.responses)).toContain('202');
  });
});

describe('POST /v1/cmcd: CORS', () => {
  it('answers the preflight a browser sends for an application/cmcd POST from another origin, and the POST carries the CORS header', async () => {
    const t = await start({ env: { QOSWATCH_CORS_ORIGINS: 'https://player.example' } });
    const pre = await fetch(`${t.url}/v1/cmcd?key=${INGEST_KEY}&region=eu`, {
      method: 'OPTIONS',
      headers: { origin: 'https://player.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://player.example');
    expect(pre.headers.get('access-control-allow-methods')).toMatch(/POST/);
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/content-type/);
    const res = await post(t, body([line({ e: 't', ts: Date.now(), sta: 'p' })]), { headers: { origin: 'https://player.example' } });
    expect(res.status).toBe(202);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://player.example');
  });
});

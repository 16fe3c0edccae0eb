import { join } from 'node:path';
import { encodeCmcd } from '@svta/cml-cmcd';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { InfluxSink } from '../../src/storage/influx/sink.js';
import { INGEST_KEY, type StartOptions, type TestApp, appsClosedAfterEach, postTelemetry, sample } from '../helpers/app.js';
import { NET, asnEntries, countryEntries, writeDb } from '../helpers/geoip.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * ISP/country enrichment through the real app on a loopback port: the HTTP collector and the WebSocket collector
 * with MMDB files the test builds, X-Forwarded-For trusted or not, and a missing database.
 */

const start = appsClosedAfterEach();

/** A sink that keeps every line the app writes (the app's close stores every open window). */
function memorySink(): InfluxSink & { lines: string[] } {
  const lines: string[] = [];
  return { target: 'memory', lines, write: async (l) => void lines.push(...l) };
}

/** "dim=value" → samples of the stored dimension points (tag values unescaped). */
function dimCounts(lines: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  const unescape = (s: string) => s.replace(/\\(.)/g, '$1');
  for (const l of lines) {
    if (!l.startsWith('qos_dim,')) continue;
    const dim = /,dim=((?:\\.|[^,\s\\])+)/.exec(l)![1]!;
    const value = /,value=((?:\\.|[^,\s\\])+)/.exec(l)![1]!;
    const key = `${unescape(dim)}=${unescape(value)}`;
    out[key] = (out[key] ?? 0) + Number(/[ ,]samples=(\d+)i/.exec(l)![1]);
  }
  return out;
}

function databases(): Record<string, string> {
  return {
    QOSWATCH_GEOIP_ASN_DB: writeDb({ entries: asnEntries(), databaseType: 'GeoLite2-ASN' }),
    QOSWATCH_GEOIP_COUNTRY_DB: writeDb({ entries: countryEntries('geolite2'), databaseType: 'GeoLite2-Country' }),
  };
}

async function enriched(o: StartOptions, send: (t: TestApp) => Promise<void>): Promise<{ counts: Record<string, number>; t: TestApp }> {
  const sink = memorySink();
  const t = await start({ ...o, sink });
  await send(t);
  await t.close();
  return { counts: dimCounts(sink.lines), t };
}

const viewer = (session: string, over: Record<string, unknown> = {}) => sample({ session, stall_ms: undefined, stall_count: undefined, play_ms: undefined, latency_ms: 40, ...over });

/** Sends one WebSocket frame with these headers on the upgrade and waits for its ack. */
async function sendFrame(t: TestApp, samples: unknown[], headers: Record<string, string>): Promise<unknown> {
  const ws = new WebSocket(`${t.wsUrl}?key=${encodeURIComponent(INGEST_KEY)}`, { headers });
  try {
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const ack = new Promise((resolve) => ws.once('message', (d) => resolve(JSON.parse(String(d)))));
    ws.send(JSON.stringify({ seq: 1, samples }));
    return await ack;
  } finally {
    ws.close();
  }
}

describe('ISP and country enrichment at ingest', () => {
  it('HTTP: X-Forwarded-For from a trusted proxy names the client; the sample\'s own country wins', async () => {
    const { counts } = await enriched({ env: { ...databases(), QOSWATCH_TRUSTED_PROXIES: '127.0.0.1/32' } }, async (t) => {
      // the client forged the first hop; the proxy (us, on loopback) appended the real one
      expect((await postTelemetry(t.url, { samples: [viewer('a'), viewer('b')] }, { 'x-forwarded-for': `${NET.b.ip4}, ${NET.a.ip4}` })).status).toBe(202);
      expect((await postTelemetry(t.url, { samples: [viewer('c', { dims: { country: 'FR' } })] }, { 'x-forwarded-for': NET.b.ip6 })).status).toBe(202);
    });
    expect(counts).toEqual({ [`isp=${NET.a.isp}`]: 2, 'country=DE': 2, [`isp=${NET.b.isp}`]: 1, 'country=FR': 1 });
  });

  it('HTTP: X-Forwarded-For from a peer that is not a trusted proxy is ignored (the socket address is the client)', async () => {
    for (const proxies of ['', '10.0.0.0/8']) {
      const { counts } = await enriched({ env: { ...databases(), QOSWATCH_TRUSTED_PROXIES: proxies } }, async (t) => {
        expect((await postTelemetry(t.url, { samples: [viewer('a')] }, { 'x-forwarded-for': NET.a.ip4 })).status).toBe(202);
      });
      expect(counts, proxies).toEqual({});
    }
  });

  it('WebSocket: the upgrade request\'s client address enriches every frame', async () => {
    const { counts } = await enriched({ env: { ...databases(), QOSWATCH_TRUSTED_PROXIES: '127.0.0.1, ::1' } }, async (t) => {
      expect(await sendFrame(t, [viewer('w1'), viewer('w2')], { 'x-forwarded-for': NET.b.ip4 })).toMatchObject({ seq: 1, accepted: 2 });
      expect(await sendFrame(t, [viewer('w3')], { 'x-forwarded-for': NET.b.ip4 })).toMatchObject({ accepted: 1 });
    });
    expect(counts).toEqual({ [`isp=${NET.b.isp}`]: 3, 'country=JP': 3 });
  });

  it('CMCD: the samples derived from a player\'s reports carry the reporting client\'s ISP and country', async () => {
    const { counts } = await enriched({ env: { ...databases(), QOSWATCH_TRUSTED_PROXIES: '127.0.0.1' } }, async (t) => {
      const t0 = Date.now() - 30_000;
      const report = (ts: number, sta: string) => encodeCmcd({ v: 2, sid: 'cmcd-enrich-1', e: 'ps', ts, sta, sf: 'h', st: 'l' } as never, { version: 2, reportingMode: 'event' });
      const res = await fetch(`${t.url}/v1/cmcd?key=${INGEST_KEY}&region=eu-west`, {
        method: 'POST',
        headers: { 'content-type': 'application/cmcd', 'x-forwarded-for': NET.a.ip4 },
        body: `${report(t0, 's')}\n${report(t0 + 500, 'p')}\n${report(t0 + 20_000, 'p')}\n`,
      });
      expect(res.status).toBe(202);
      expect(((await res.json()) as { samples: number }).samples).toBeGreaterThan(0);
    });
    expect(counts[`isp=${NET.a.isp}`]).toBeGreaterThan(0);
    expect(counts['country=DE']).toBe(counts[`isp=${NET.a.isp}`]);
  });

  it('a missing database: the service starts and serves, warns once, and enriches from the other one', async () => {
    const missing = join(tempDir('qoswatch-nogeo'), 'GeoLite2-ASN.mmdb');
    let logs: string[] = [];
    const { counts } = await enriched({ env: { ...databases(), QOSWATCH_GEOIP_ASN_DB: missing, QOSWATCH_TRUSTED_PROXIES: '127.0.0.1' } }, async (t) => {
      for (let i = 0; i < 3; i++) expect((await postTelemetry(t.url, { samples: [viewer(`m${i}`)] }, { 'x-forwarded-for': NET.a.ip4 })).status).toBe(202);
      logs = t.logs;
    });
    expect(counts).toEqual({ 'country=DE': 3 });
    const warnings = logs.map((l) => JSON.parse(l) as { level: number; msg: string; path?: string }).filter((l) => l.level === 40 && l.msg.includes('GeoIP'));
    expect(warnings.map((w) => w.path)).toEqual([missing]);
    // no client address in any line at info or above
    expect(logs.filter((l) => (JSON.parse(l) as { level: number }).level >= 30 && l.includes(NET.a.ip4))).toEqual([]);
  });
});

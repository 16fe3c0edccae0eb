import { connect } from 'node:net';
import fc from 'fast-check';
import WebSocket from 'ws';
import { procStats } from '../bench/machine.js';
import { HAVE_INFLUXD, InfluxServer } from '../test/helpers/influxd.js';
import { metricValue, metricsText } from '../test/helpers/metrics.js';
import {
  Counter, DRILL_WINDOW_MS, type DrillResult, type Log, type PostOutcome, Report, SERVICE_ENV, TENANT, fmt, influxEnv, influxQuery, keepAlive, ms, post, runDrill, sleep,
 
} from './common.js';
import { type HttpCase, type WsCase, type WsOutcome, httpCase, hugeFrame, largeCases, wsCase } from './fuzz-cases.js';
import { Fleet, INGEST_KEY } from './services.js';

export interface FuzzOptions {
  /** HTTP bodies + WebSocket frames. */
  cases: number;
  /** Share of the cases sent as WebSocket frames. */
  wsShare: number;
  /** HTTP requests in flight. */
  concurrency: number;
  /** WebSocket connections, each sending its frames one at a time. */
  wsConnections: number;
  /** Slow-loris connections (half dribbling headers, half a body) and how long they dribble, ms. */
  lorisConnections: number;
  lorisMs: number;
  /**
   * Then hold QOSWATCH_MAX_INFLIGHT + 8 slow-body connections (valid key, 1 byte/s) for a few seconds while probing:
   * can a handful of slow clients lock telemetry out?
   */
  saturate: boolean;
  /** Count accepted samples in InfluxDB (needs influxd). */
  influx: boolean;
  seed: number;
  log?: Log;
}

export const FUZZ_DEFAULTS: FuzzOptions = { cases: 100_000, wsShare: 0.1, concurrency: 32, wsConnections: 8, lorisConnections: 50, lorisMs: 70_000, saturate: true, influx: true, seed: 20 };

/** The service's default in-flight cap (README, Configuration). */
const MAX_INFLIGHT = 512;

const MAX_BODY = 5 * 1024 ** 2;
const MAX_FRAME = 1024 ** 2;
const CHUNK = 500;

/** Problems found, grouped by what went wrong, with the first example of each. */
class Problems {
  readonly byKey = new Map<string, { count: number; example: string }>();
  add(key: string, example: string): void {
    const p = this.byKey.get(key);
    if (p) p.count++;
    else this.byKey.set(key, { count: 1, example: example.slice(0, 600) });
  }
  get total(): number {
    let t = 0;
    for (const p of this.byKey.values()) t += p.count;
    return t;
  }
}

const preview = (b: Buffer | string) => {
  const t = (Buffer.isBuffer(b) ? b.subarray(0, 160).toString('latin1') : b.slice(0, 160)).replace(/[^\x20-\x7e]/g, '·');
  return `${t}${(Buffer.isBuffer(b) ? b.length : b.length) > 160 ? '…' : ''}`;
};

function parseJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Judges one HTTP answer against the contract; returns [problem key, detail] or undefined. */
function judge(c: HttpCase, out: PostOutcome): [string, string] | undefined {
  if (out.kind === 'error') {
    if (c.mayClose) return undefined;
    return [`${c.kind}: connection error ${out.code}`, preview(c.body)];
  }
  const detail = `${out.status} ${out.body.slice(0, 300)} ← ${preview(c.body)} headers ${JSON.stringify(c.headers).slice(0, 200)}${c.query ? ` ?${c.query}` : ''}`;
  if (out.status >= 500) return [`${c.kind}: ${out.status} (5xx)`, detail];
  const body = parseJson(out.body);
  if (out.status === 202) {
    if (typeof body?.accepted !== 'number' || !Array.isArray(body.rejected)) return [`${c.kind}: 202 without a verdict`, detail];
    for (const r of body.rejected) {
      if (!Number.isInteger(r?.index) || !Array.isArray(r.errors) || r.errors.length === 0) return [`${c.kind}: a rejection without errors`, detail];
      for (const e of r.errors) if (typeof e?.path !== 'string' || typeof e.message !== 'string' || e.message.length === 0) return [`${c.kind}: a rejection error without path/message`, detail];
    }
    if (c.samples !== undefined && body.accepted + body.rejected.length !== c.samples) return [`${c.kind}: accepted + rejected ≠ samples sent`, detail];
  } else if (out.status >= 400) {
    if (typeof body?.error !== 'string' || typeof body.message !== 'string' || body.message.trim().length === 0) return [`${c.kind}: ${out.status} without a JSON {error, message}`, detail];
    if (out.status === 429 && out.headers['retry-after'] === undefined) return [`${c.kind}: 429 without Retry-After`, detail];
  }
  if (!c.expect.includes(out.status)) return [`${c.kind}: ${out.status}, expected ${c.expect.join('/')}`, detail];
  return undefined;
}

/**
 * Accepted samples of a verdict whose ts is before `cutoff` (the ones counted against InfluxDB), and the others.
 * Undefined when the case's own description of its batch does not match the verdict (a bookkeeping error of the
 * drill, reported as a problem rather than miscounted).
 */
function acceptedSplit(c: { ts?: (number | undefined)[]; samples?: number }, accepted: number, rejected: { index: number }[], cutoff: number): [number, number] | undefined {
  if (accepted === 0) return [0, 0];
  if (!c.ts || c.ts.length !== c.samples) return undefined;
  const bad = new Set(rejected.map((r) => r.index));
  let before = 0;
  let other = 0;
  c.ts.forEach((t, i) => {
    if (bad.has(i)) return;
    if (t !== undefined && t < cutoff) before++;
    else other++;
  });
  return before + other === accepted ? [before, other] : undefined;
}

/**
 * Malformed input: fast-check bodies over HTTP and frames over a WebSocket, then slow-loris connections. No
 * answer may be a 5xx or a connection drop, every 4xx is a JSON `{error, message}`, every 202 a well-formed verdict
 * whose rejections name a field; WebSockets close only with 1007 (bad UTF-8) or 1009 (too big); the service must
 * stay up and answer others while being fuzzed, and every sample it accepted must reach InfluxDB.
 */
export async function drillFuzz(opts: Partial<FuzzOptions> = {}): Promise<DrillResult> {
  const o = { ...FUZZ_DEFAULTS, ...opts };
  const log = o.log ?? (() => {});
  const wsCount = Math.round(o.cases * o.wsShare);
  const httpCount = o.cases - wsCount;
  const report = new Report('fuzz', `${fmt(httpCount)} fuzzed HTTP bodies + ${fmt(wsCount)} WebSocket frames (fast-check, seed ${o.seed}), then ${o.lorisConnections} slow-loris connections for ${ms(o.lorisMs)}`);
  let influx: InfluxServer | undefined;
  let fleet: Fleet | undefined;

  return runDrill(
    report,
    async () => {
      const db = 'drill_fuzz';
      if (o.influx && HAVE_INFLUXD) {
        influx = await InfluxServer.launch();
        await influx.createDb(db);
      }
      // The rate limit is lifted so that the cases reach validation rather than the rate limiter.
      fleet = new Fleet({ ...SERVICE_ENV, ...(influx ? influxEnv(influx, db) : {}), QOSWATCH_RATE_LIMIT: '1000000/1s', QOSWATCH_LOG_LEVEL: 'warn' }, log);
      const svc = await fleet.start();
      const url = svc.url;
      // samples with ts before the cutoff (a window boundary) are counted against InfluxDB
      const cutoff = Math.floor(Date.now() / DRILL_WINDOW_MS) * DRILL_WINDOW_MS;
      let countedAccepted = 0;
      let otherAccepted = 0;
      /** Accepted samples whose ts the drill cannot tell (bookkeeping problems, reported): InfluxDB is then not compared. */
      let uncountable = 0;
      const problems = new Problems();
      const statuses = new Counter();
      const byKind = new Map<string, Counter>();

      // ---- HTTP
      const agent = keepAlive(o.concurrency);
      const t0 = Date.now();
      let shed = 0;
      let shedWithoutRetryAfter = 0;
      const run = async (c: HttpCase) => {
        const send = () => post(`${url}/v1/telemetry${c.query ? `?${c.query}` : ''}`, c.body, c.headers, agent, 30_000);
        let out = await send();
        // Shed under load (a busy event-loop turn: 429 before the body is read, whatever it holds): the case is
        // sent again after Retry-After, as a client would, so that its own answer is still judged.
        for (let tries = 0; out.kind === 'response' && out.status === 429 && /overloaded/.test(out.body) && tries < 20; tries++) {
          shed++;
          const ra = Number(out.headers['retry-after']);
          if (!(ra > 0)) shedWithoutRetryAfter++;
          await sleep((ra > 0 ? ra : 1) * 1000);
          out = await send();
        }
        const label = out.kind === 'error' ? `error ${out.code}` : String(out.status);
        statuses.add(label);
        const kind = c.kind.split(' ')[0]!;
        if (!byKind.has(kind)) byKind.set(kind, new Counter());
        byKind.get(kind)!.add(label);
        const p = judge(c, out);
        if (p) problems.add(p[0], p[1]);
        if (out.kind === 'response' && out.status === 202) {
          const b = parseJson(out.body);
          if (b && typeof b.accepted === 'number') {
            const split = acceptedSplit(c, b.accepted, b.rejected ?? [], cutoff);
            if (!split) {
              problems.add(`drill bookkeeping: ${c.kind}: cannot tell the ts of the accepted samples`, `${out.body.slice(0, 200)} ← ${preview(c.body)}`);
              uncountable += b.accepted;
              return;
            }
            const [before, other] = split;
            countedAccepted += before;
            otherAccepted += other;
          }
        }
      };
      const pool = async (cases: HttpCase[]) => {
        let next = 0;
        await Promise.all(Array.from({ length: o.concurrency }, async () => {
          while (next < cases.length) await run(cases[next++]!);
        }));
      };
      for (let done = 0, chunk = 0; done < httpCount; chunk++) {
        const n = Math.min(CHUNK, httpCount - done);
        await pool(fc.sample(httpCase(Date.now()), { numRuns: n, seed: o.seed * 1_000_003 + chunk }));
        done += n;
        if (chunk % 40 === 39) log(`fuzz: ${fmt(done)} HTTP cases, ${fmt((done / (Date.now() - t0)) * 1000)}/s, problems ${problems.total}`);
      }
      // oversize bodies and bombs: a fixed handful (each is megabytes)
      const large = largeCases(Date.now(), MAX_BODY);
      await pool(large);
      const httpSeconds = (Date.now() - t0) / 1000;
      agent.destroy();
      log(`fuzz: HTTP done (${fmt(httpCount + large.length)} cases in ${fmt(httpSeconds, 1)} s)`);

      // ---- WebSocket
      const ws = await wsFuzz(url, wsCount, o, cutoff);
      countedAccepted += ws.counted;
      otherAccepted += ws.other;
      uncountable += ws.uncountable;
      for (const [k, v] of ws.problems.byKey) for (let i = 0; i < v.count; i++) problems.add(k, v.example);
      log(`fuzz: WebSocket done (${fmt(wsCount)} frames)`);

      // ---- slow loris, with probes
      const loris = await slowLoris(url, o.lorisConnections, o.lorisMs, log, 'mixed');
      const saturated = o.saturate ? await slowLoris(url, MAX_INFLIGHT + 8, 6000, log, 'body') : undefined;

      // ---- the service after it all
      const alive = fleet.alive();
      const healthz = alive ? (await fetch(`${url}/healthz`).catch(() => undefined))?.status : undefined;
      const still = alive ? await post(`${url}/v1/telemetry`, JSON.stringify({ samples: [{ ts: Date.now() - 2000, region: 'eu-west', session: 'after', latency_ms: 100 }] }), { 'content-type': 'application/json', authorization: `Bearer ${INGEST_KEY}` }, undefined) : undefined;
      if (still?.kind === 'response' && still.status === 202) otherAccepted += 1;
      const rss = alive ? procStats(fleet.current!.proc!.pid!) : undefined;
      const text = alive ? await metricsText(url) : '';

      report.figure('HTTP cases (drawn + oversize/bombs)', `${fmt(httpCount)} + ${large.length} in ${fmt(httpSeconds, 1)} s (${fmt((httpCount + large.length) / httpSeconds)}/s, ${o.concurrency} in flight)`);
      report.figure('HTTP statuses', statuses.text());
      report.figure('cases shed with 429 (overloaded) and sent again after Retry-After', shed);
      report.check(shedWithoutRetryAfter === 0, `${shedWithoutRetryAfter} overload 429s without a valid Retry-After`);
      for (const [kind, c] of [...byKind.entries()].sort(([a], [b]) => a.localeCompare(b))) report.figure(`… ${kind}`, c.text());
      report.figure('WebSocket frames', `${fmt(wsCount)} + 1 oversize over ${o.wsConnections} connections in ${fmt(ws.seconds, 1)} s; reconnects ${ws.reconnects}`);
      report.figure('WebSocket outcomes', ws.outcomes.text());
      report.figure('slow-loris connections: closed by the service / still open at the end', `${loris.closed} / ${loris.open} (of ${o.lorisConnections}, ${ms(o.lorisMs)})`);
      report.figure('slow-loris: what the service answered before closing', loris.answers.text());
      report.figure('slow-loris: lifetime of the connections it closed, min / max', loris.lifetimes.length ? `${ms(Math.min(...loris.lifetimes))} / ${ms(Math.max(...loris.lifetimes))}` : '—');
      report.figure('probes during slow-loris (GET /healthz + POST a sample every 500 ms): ok / failed, p99', `${loris.probeOk} / ${loris.probeFailed}, ${ms(loris.probeP99)}`);
      report.figure('service after the fuzz: alive, /healthz, a valid POST, RSS', `${alive ? 'yes' : '**no**'}, ${healthz ?? 'no answer'}, ${still?.kind === 'response' ? still.status : 'no answer'}, ${rss ? `${fmt(rss.rssMiB)} MiB (peak ${fmt(rss.peakRssMiB)})` : '—'}`);
      report.figure('rejected samples by reason (/metrics)', ['invalid_field', 'unknown_field', 'missing_metric', 'future_ts', 'too_old'].map((r) => `${r}: ${fmt(metricValue(text, `qoswatch_samples_rejected_total{reason="${r}"}`) ?? 0)}`).join(' · '));
      report.figure('problems', problems.total);
      for (const [key, p] of [...problems.byKey.entries()].sort((a, b) => b[1].count - a[1].count).slice(0, 15)) {
        report.fail(`${key} × ${p.count}, e.g. ${p.example}`);
      }
      if (problems.byKey.size > 15) report.fail(`… and ${problems.byKey.size - 15} more kinds of problem`);
      report.check(alive && healthz === 200, `the service did not survive the fuzz (alive ${alive}, /healthz ${healthz}): ${fleet.tail()}`);
      report.check(still?.kind === 'response' && still.status === 202, `a valid POST after the fuzz was not accepted: ${JSON.stringify(still).slice(0, 300)}`);
      report.check(loris.probeFailed === 0, `${loris.probeFailed} probes failed while slow-loris connections were open: ${loris.firstProbeFailure}`);
      if (loris.open > 0 && o.lorisMs > 60_000) {
        report.note(`${loris.open} of ${o.lorisConnections} slow-loris connections were still open after ${ms(o.lorisMs)}: the service sets no request or header timeout (fastify requestTimeout/connectionTimeout default to 0), so dribbling clients keep their sockets for as long as they dribble`);
      }
      if (saturated) {
        report.figure(`slow bodies holding the in-flight cap (${MAX_INFLIGHT + 8} connections, valid key, 1 byte/s): probes ok / failed`, `${saturated.probeOk} / ${saturated.probeFailed}${saturated.firstProbeFailure ? ` (${saturated.firstProbeFailure})` : ''}`);
        report.check(
          saturated.probeFailed === 0,
          `LOCKOUT: ${MAX_INFLIGHT + 8} connections sending a telemetry body at 1 byte/s with a valid ingest key made the service refuse every other telemetry request (${saturated.firstProbeFailure}) for as long as they dribbled: each holds an in-flight slot from onRequest (before the body is read) and nothing times them out`,
        );
      }
      const errors = fleet.errorLines();
      report.figure('error-level log lines', errors.length);
      report.check(errors.length === 0, `the service logged ${errors.length} errors, e.g. ${errors[0]?.slice(0, 400)}`);

      // ---- every accepted sample in InfluxDB
      if (influx && uncountable > 0) {
        report.fail(`${fmt(uncountable)} accepted samples could not be attributed to a window by the drill: InfluxDB not compared`);
      } else if (influx) {
        await sleep(4000); // windows close 3 s after their end
        const { metrics: after } = await fleet.stopAndDrain(report, 'fuzz');
        const refused = (metricValue(text, 'qoswatch_influx_points_rejected_total') ?? 0) + (metricValue(after, 'qoswatch_influx_points_rejected_total') ?? 0);
        const series = await influxQuery(influx, db, `SELECT sum("samples") FROM "qos_region" WHERE "tenant" = '${TENANT}' AND time < ${cutoff}ms`);
        const stored = Number(series[0]?.values[0]?.[1] ?? 0);
        report.figure('accepted samples with ts before the drill started (counted) / others', `${fmt(countedAccepted)} / ${fmt(otherAccepted)}`);
        report.figure('stored in InfluxDB for those windows', fmt(stored));
        report.figure('**lost** (accepted, not stored)', fmt(Math.max(0, countedAccepted - stored)));
        report.figure('points InfluxDB refused (line protocol)', refused);
        report.check(stored >= countedAccepted, `LOST DATA: ${fmt(countedAccepted - stored)} accepted samples are not in InfluxDB (accepted ${countedAccepted}, stored ${stored})`);
        report.check(stored <= countedAccepted, `COUNTED TWICE: InfluxDB holds ${fmt(stored - countedAccepted)} samples more than were accepted`);
        report.check(refused === 0, `InfluxDB refused ${refused} points written from fuzzed (accepted) samples`);
      } else {
        report.note('influxd not used: accepted samples were not counted in InfluxDB');
      }
    },
    async () => {
      await fleet?.destroy();
      await influx?.destroy();
    },
  );
}

// ---------------------------------------------------------------------------------------------------------------
// WebSocket frames

async function wsFuzz(url: string, count: number, o: FuzzOptions, cutoff: number) {
  const problems = new Problems();
  const outcomes = new Counter();
  let counted = 0;
  let other = 0;
  let uncountable = 0;
  let reconnects = 0;
  const wsUrl = `${url.replace(/^http/, 'ws')}/v1/telemetry/ws`;
  const t0 = Date.now();
  let next = 0;
  let seqs = 0;
  const queue: WsCase[] = [];
  let drawn = 0;
  const refill = () => {
    if (queue.length > 0 || drawn >= count) return;
    const n = Math.min(CHUNK, count - drawn);
    // frames go one at a time per connection, so a seq per chunk is enough to check that acks echo it
    queue.push(...fc.sample(wsCase(Date.now(), ++seqs), { numRuns: n, seed: o.seed * 7919 + drawn }));
    drawn += n;
  };

  const open = () =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${INGEST_KEY}` }, perMessageDeflate: false, maxPayload: 64 * 1024 ** 2 });
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    });

  /** Sends one frame; resolves with what happened: a message, a close, or nothing within 10 s. */
  const exchange = (ws: WebSocket, c: WsCase) =>
    new Promise<{ msg?: any; close?: number; timeout?: true }>((resolve) => {
      const done = (r: { msg?: any; close?: number; timeout?: true }) => {
        clearTimeout(timer);
        ws.off('message', onMessage);
        ws.off('close', onClose);
        resolve(r);
      };
      const onMessage = (data: WebSocket.RawData) => done({ msg: parseJson(String(data)) ?? { unparsable: String(data).slice(0, 200) } });
      const onClose = (code: number) => done({ close: code });
      const timer = setTimeout(() => done({ timeout: true }), 10_000);
      ws.on('message', onMessage);
      ws.on('close', onClose);
      ws.send(c.data, { binary: c.binary });
    });

  const judgeWs = (c: WsCase, r: { msg?: any; close?: number; timeout?: true }): WsOutcome | string => {
    if (r.timeout) return 'no answer within 10 s';
    if (r.close !== undefined) {
      if (r.close === 1007) return 'close1007';
      if (r.close === 1009) return 'close1009';
      return `close ${r.close}`;
    }
    const m = r.msg;
    if (m?.error !== undefined) {
      if (typeof m.message !== 'string' || m.message.length === 0) return `error ${m.error} without a message`;
      if (m.error === 'bad_request') return 'bad_request';
      return `error ${m.error}`;
    }
    if (typeof m?.accepted !== 'number' || !Array.isArray(m.rejected)) return `unexpected message ${JSON.stringify(m).slice(0, 100)}`;
    if (c.seq !== undefined && m.seq !== c.seq) return `ack for seq ${m.seq}, sent ${c.seq}`;
    if (c.samples !== undefined && c.expect.includes('ack') && m.accepted + m.rejected.length !== c.samples) return 'ack: accepted + rejected ≠ samples sent';
    for (const rj of m.rejected) if (!Array.isArray(rj?.errors) || rj.errors.length === 0 || rj.errors.some((e: any) => typeof e?.message !== 'string' || !e.message)) return 'ack: a rejection without a message';
    return 'ack';
  };

  const worker = async (extra: WsCase[]) => {
    let ws: WebSocket | undefined;
    const cases = [...extra];
    for (;;) {
      let c = cases.shift();
      if (!c) {
        refill();
        if (next >= count && queue.length === 0) break;
        c = queue.shift();
        if (!c) continue;
        next++;
      }
      if (!ws || ws.readyState !== WebSocket.OPEN) {
        if (ws) reconnects++;
        try {
          ws = await open();
        } catch (err) {
          problems.add('websocket: cannot connect', String(err));
          await sleep(200);
          cases.unshift(c);
          continue;
        }
      }
      const r = await exchange(ws, c);
      const outcome = judgeWs(c, r);
      outcomes.add(outcome);
      if (!(c.expect as readonly string[]).includes(outcome)) problems.add(`websocket ${c.kind}: ${outcome}, expected ${c.expect.join('/')}`, `${JSON.stringify(r).slice(0, 300)} ← ${preview(c.data)}`);
      if (outcome === 'ack' && r.msg) {
        const split = acceptedSplit(c, r.msg.accepted, r.msg.rejected, cutoff);
        if (split) {
          counted += split[0];
          other += split[1];
        } else {
          problems.add(`drill bookkeeping: websocket ${c.kind}: cannot tell the ts of the accepted samples`, `${JSON.stringify(r.msg).slice(0, 200)} ← ${preview(c.data)}`);
          uncountable += r.msg.accepted;
        }
      }
    }
    ws?.close();
  };
  await Promise.all(Array.from({ length: o.wsConnections }, (_, i) => worker(i === 0 ? [hugeFrame(Date.now(), MAX_FRAME)] : [])));
  return { problems, outcomes, counted, other, uncountable, reconnects, seconds: (Date.now() - t0) / 1000 };
}

// ---------------------------------------------------------------------------------------------------------------
// Slow loris

async function slowLoris(url: string, n: number, durationMs: number, log: Log, mode: 'mixed' | 'body') {
  const { hostname, port } = new URL(url);
  const answers = new Counter();
  const lifetimes: number[] = [];
  let closed = 0;
  const sockets = Array.from({ length: n }, (_, i) => {
    const sock = connect(Number(port), hostname);
    const born = Date.now();
    let got = '';
    let ended = false;
    sock.on('data', (d: Buffer) => {
      if (!got) answers.add(d.toString('latin1').split('\r\n')[0]!.slice(0, 40));
      got += d.toString('latin1');
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      if (ended) return;
      ended = true;
      closed++;
      if (!got) answers.add('(closed without an answer)');
      lifetimes.push(Date.now() - born);
    });
    const bodyMode = mode === 'body' || i % 2 === 1;
    sock.write(
      bodyMode
        ? `POST /v1/telemetry HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${INGEST_KEY}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{`
        : `POST /v1/telemetry HTTP/1.1\r\nHost: ${hostname}\r\n`,
    );
    let k = 0;
    const timer = setInterval(() => {
      if (ended) return clearInterval(timer);
      sock.write(bodyMode ? ' ' : `X-Slow-${k++}: a\r\n`);
    }, 1000);
    return { sock, timer, isEnded: () => ended, stop: () => ((ended = true), clearInterval(timer), sock.destroy()) };
  });
  log(`fuzz: ${n} slow-loris connections open (${mode === 'body' ? 'all dribbling a body' : 'half dribbling headers, half a body'}) for ${ms(durationMs)}`);
  await sleep(500);

  // probes: the service must keep answering others
  let probeOk = 0;
  let probeFailed = 0;
  let firstProbeFailure: string | undefined;
  const latencies: number[] = [];
  const end = Date.now() + durationMs;
  while (Date.now() < end) {
    const t = performance.now();
    try {
      const h = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) });
      const p = await fetch(`${url}/v1/telemetry`, {
        method: 'POST', signal: AbortSignal.timeout(5000),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${INGEST_KEY}` },
        body: JSON.stringify({ samples: [{ ts: Date.now() - 2000, region: 'probe', session: 'p', latency_ms: 10 }] }),
      });
      const ptext = await p.text();
      if (h.status === 200 && p.status === 202) probeOk++;
      else {
        probeFailed++;
        firstProbeFailure ??= `healthz ${h.status}, telemetry ${p.status} ${ptext.slice(0, 120)}`;
      }
    } catch (err) {
      probeFailed++;
      firstProbeFailure ??= String(err);
    }
    latencies.push(performance.now() - t);
    await sleep(500);
  }
  const open = sockets.filter((s) => !s.isEnded()).length;
  for (const s of sockets) s.stop();
  latencies.sort((a, b) => a - b);
  return { closed, open, answers, lifetimes, probeOk, probeFailed, firstProbeFailure, probeP99: latencies[Math.floor(latencies.length * 0.99)] ?? NaN };
}

import { readdirSync, statSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import { INGEST_KEY } from '../test/helpers/app.js';
import { metricsText } from '../test/helpers/metrics.js';
import type { ServiceProcess } from '../test/helpers/service.js';
import { percentile, procStats } from './machine.js';
import type { StampedPool } from './pools.js';

/** What the InfluxDB writer, the spool and the journal did during one measure: the proof that steady state ran. */
export interface WriterFigures {
  /** InfluxDB write requests. */
  influxWrites: number;
  pointsWritten: number;
  writeErrors: number;
  spoolPointsAtEnd: number;
  /** The state held at the end: series of the window store and live sessions. */
  seriesAtEnd: number;
  liveSessionsAtEnd: number;
  /** Journal rows (one per accepted batch) committed and deleted during the measure, and held at its end; absent without a SQLite journal. */
  journal?: { appended: number; pruned: number; heldAtEnd: number };
  /** Journal segment files and their bytes at the end of the measure (a build whose journal is segment files). */
  segments?: { files: number; mib: number };
  dataDirMiB: number;
}

export interface IngestResult {
  samplesPerSec: number;
  requestsPerSec: number;
  p50ms: number;
  p99ms: number;
  cpuMsPer100k: number;
  /** Samples per second of the server's CPU time (user + system, all its threads). */
  samplesPerCpuSec: number;
  serverCpuPercent: number;
  peakRssMiB: number;
  /** Requests or frames answered 429 (the service shedding load), per second. */
  refusedPerSec: number;
  writer?: WriterFigures;
}

/** An HTTP endpoint under load: where to post, the process whose CPU is measured, how an answer counts. */
export interface Target {
  url: URL;
  pid: number;
  contentType: string;
  headers?: Record<string, string>;
  /** Samples accepted by an answer, or 'refused' (429: shed, counted, and the loop goes on as a client would). */
  accepted(status: number, text: string, batch: number): number | 'refused';
}

/** qoswatch's `POST /v1/telemetry`, or the bare fastify route of the ceiling: 202 {accepted: n}. */
export function telemetryTarget(baseUrl: string, pid: number): Target {
  return {
    url: new URL('/v1/telemetry', baseUrl),
    pid,
    contentType: 'application/json',
    headers: { authorization: `Bearer ${INGEST_KEY}` },
    accepted(status, text) {
      if (status === 429) return 'refused';
      if (status !== 202) throw new Error(`HTTP ${status}: ${text.slice(0, 200)}`);
      return (JSON.parse(text) as { accepted: number }).accepted;
    },
  };
}

/** A peer's line-protocol `/write`: 204, every point stored. */
export function lineTarget(url: URL, pid: number): Target {
  return {
    url,
    pid,
    contentType: 'text/plain',
    accepted(status, text, batch) {
      if (status !== 204) throw new Error(`${url.pathname} answered ${status}: ${text.slice(0, 200)}`);
      return batch;
    },
  };
}

export interface LoadOptions {
  /** Requests in flight (closed loop), or the socket limit (open loop). */
  concurrency: number;
  /** Open loop: requests per second on a fixed schedule. */
  targetRps?: number;
  warmupMs?: number;
  /** Writer figures read at the start and the end of the measure (qoswatch). */
  probe?: WriterProbe;
}

/**
 * HTTP load from a pool of restamped bodies. Closed loop: `concurrency` requests in flight, each sent when the
 * previous one is answered. Open loop: requests start on a fixed schedule whatever the answers do, and latency is
 * counted from each request's scheduled send time (no coordinated omission: a stall delays the requests behind it).
 */
export async function httpLoad(target: Target, pool: StampedPool, seconds: number, opts: LoadOptions): Promise<IngestResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const post = (from: number) =>
    new Promise<{ accepted: number | 'refused'; ms: number }>((resolve, reject) => {
      const body = pool.takeBytes();
      const headers = { ...target.headers, 'content-type': target.contentType, 'content-length': body.length };
      const req = request(target.url, { method: 'POST', agent, headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          try {
            resolve({ accepted: target.accepted(res.statusCode!, text, pool.batch), ms: performance.now() - from });
          } catch (err) {
            reject(err);
          }
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  const result = await measure(target.pid, seconds, opts, async (stopAt, record) => {
    if (opts.targetRps) {
      const gap = 1000 / opts.targetRps;
      let next = performance.now();
      let inflight = 0;
      let failure: unknown;
      let drained: () => void = () => {};
      while (performance.now() < stopAt && failure === undefined) {
        next += gap;
        const wait = next - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        inflight++;
        post(next).then(
          (r) => record(r.accepted, r.ms),
          (err: unknown) => (failure = err),
        ).finally(() => --inflight === 0 && drained());
      }
      if (inflight) await new Promise<void>((r) => (drained = r));
      if (failure !== undefined) throw failure;
    } else {
      const worker = async () => {
        while (performance.now() < stopAt) {
          const r = await post(performance.now());
          record(r.accepted, r.ms);
        }
      };
      await Promise.all(Array.from({ length: opts.concurrency }, worker));
    }
  });
  agent.destroy();
  return result;
}

/** WebSocket load: `connections` sockets, each keeping up to `window` frames in flight. */
export async function wsLoad(svc: ServiceProcess, pool: StampedPool, seconds: number, opts: { connections: number; window: number; warmupMs?: number; probe?: WriterProbe }): Promise<IngestResult> {
  const sockets = await Promise.all(
    Array.from({ length: opts.connections }, () => new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`${svc.url.replace('http', 'ws')}/v1/telemetry/ws?key=${INGEST_KEY}`);
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    })),
  );
  const result = await measure(svc.proc!.pid!, seconds, opts, (stopAt, record) =>
    Promise.all(
      sockets.map((ws) => new Promise<void>((resolve, reject) => {
        const sent = new Map<number, number>();
        let seq = 0;
        const send = () => {
          const s = seq++;
          sent.set(s, performance.now());
          // A pooled body is {"samples":[…]}: the frame is the same with its sequence number first.
          ws.send(`{"seq":${s},${pool.take().slice(1)}`);
        };
        ws.on('message', (data) => {
          const ack = JSON.parse(String(data)) as { seq: number; accepted?: number; error?: string };
          const ms = performance.now() - sent.get(ack.seq)!;
          sent.delete(ack.seq);
          // Refusals (rate limit, budgets) count as 429s; any other error fails the run.
          if (ack.error && !/^(too_many_requests|over_budget)$/.test(ack.error)) return reject(new Error(`frame ${ack.seq}: ${ack.error}`));
          record(ack.error ? 'refused' : ack.accepted!, ms);
          if (performance.now() < stopAt) send();
          else if (sent.size === 0) resolve();
        });
        ws.on('close', (code) => reject(new Error(`closed ${code}`)));
        for (let k = 0; k < opts.window; k++) send();
      })),
    ).then(() => undefined),
  );
  for (const ws of sockets) {
    ws.removeAllListeners('close');
    ws.close();
  }
  return result;
}

/** JSON.parse alone on the same bodies, in this process: the samples one core parses per second. */
export function parseRate(pool: StampedPool, seconds: number): IngestResult {
  const texts = Array.from({ length: 64 }, () => pool.take());
  let samples = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; performance.now() - t0 < seconds * 1000; i++) samples += (JSON.parse(texts[i % texts.length]!) as { samples: unknown[] }).samples.length;
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return {
    samplesPerSec: samples / elapsed, requestsPerSec: NaN, p50ms: NaN, p99ms: NaN, cpuMsPer100k: (cpuSeconds * 1000 * 100_000) / samples,
    samplesPerCpuSec: samples / cpuSeconds, serverCpuPercent: (cpuSeconds / elapsed) * 100, peakRssMiB: NaN, refusedPerSec: 0,
  };
}

interface WriterSnapshot {
  metrics: string;
  journal?: { rows: number; lastSeq: number };
}
export interface WriterProbe {
  dataDir: string;
  read(): Promise<WriterSnapshot>;
}

const family = (text: string, name: string) => {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.split(' ').at(-1));
  return sum;
};

/** Reads qoswatch's /metrics and, when the build has one (before issue 16), its SQLite journal (read-only, beside the service's own connection). */
export function writerProbe(svc: ServiceProcess): WriterProbe {
  return { dataDir: svc.dataDir, read: () => readWriter(svc) };
}

async function readWriter(svc: ServiceProcess): Promise<WriterSnapshot> {
  const metrics = await metricsText(svc.url);
  // Since issue 16 the journal is segment files (its figures are in /metrics); ingest.db keeps an empty table.
  if (metrics.includes('qoswatch_journal_segments ')) return { metrics };
  try {
    const db = new Database(join(svc.dataDir, 'ingest.db'), { readonly: true, fileMustExist: true });
    try {
      const rows = (db.prepare('SELECT count(*) AS n FROM journal').get() as { n: number }).n;
      const lastSeq = (db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'journal'").get() as { seq: number } | undefined)?.seq ?? 0;
      return { metrics, journal: { rows, lastSeq } };
    } finally {
      db.close();
    }
  } catch {
    // A build whose journal is not a SQLite table: the data dir's size still shows whether it is bounded.
    return { metrics };
  }
}

function dirBytes(dir: string): number {
  let sum = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) sum += e.isDirectory() ? dirBytes(join(dir, e.name)) : statSync(join(dir, e.name)).size;
  return sum;
}

export function writerFigures(a: WriterSnapshot, b: WriterSnapshot, dataDir: string): WriterFigures {
  const delta = (name: string) => family(b.metrics, name) - family(a.metrics, name);
  const f: WriterFigures = {
    influxWrites: delta('qoswatch_influx_write_duration_seconds_count'),
    pointsWritten: delta('qoswatch_influx_points_written_total'),
    writeErrors: delta('qoswatch_influx_write_errors_total'),
    spoolPointsAtEnd: family(b.metrics, 'qoswatch_spool_depth_points'),
    seriesAtEnd: family(b.metrics, 'qoswatch_window_series'),
    liveSessionsAtEnd: family(b.metrics, 'qoswatch_live_sessions'),
    dataDirMiB: dirBytes(dataDir) / 1024 ** 2,
  };
  if (b.metrics.includes('qoswatch_journal_segments ')) {
    f.segments = { files: family(b.metrics, 'qoswatch_journal_segments'), mib: family(b.metrics, 'qoswatch_journal_bytes') / 1024 ** 2 };
  }
  if (a.journal && b.journal) {
    const appended = b.journal.lastSeq - a.journal.lastSeq;
    f.journal = { appended, pruned: appended - (b.journal.rows - a.journal.rows), heldAtEnd: b.journal.rows };
  }
  return f;
}

const WARMUP_MS = 2000;

/** Drives load for `seconds` after a warm-up; CPU and RSS are read from process `pid` (the server under test). */
async function measure(
  pid: number,
  seconds: number,
  opts: { warmupMs?: number; probe?: WriterProbe },
  drive: (stopAt: number, record: (accepted: number | 'refused', ms: number) => void) => Promise<void>,
): Promise<IngestResult> {
  const warmupMs = opts.warmupMs ?? WARMUP_MS;
  let counting = false;
  let samples = 0;
  let requests = 0;
  let refused = 0;
  const latencies: number[] = [];
  const measureFrom = performance.now() + warmupMs;
  let cpu0 = 0;
  let t0 = measureFrom;
  let first: Promise<WriterSnapshot | undefined> = Promise.resolve(undefined);
  const warm = setTimeout(() => {
    counting = true;
    cpu0 = procStats(pid).cpuSeconds;
    t0 = performance.now();
    first = opts.probe?.read() ?? first;
  }, warmupMs);
  await drive(measureFrom + seconds * 1000, (accepted, ms) => {
    if (!counting) return;
    if (accepted === 'refused') {
      refused++;
      return;
    }
    samples += accepted;
    requests++;
    latencies.push(ms);
  });
  clearTimeout(warm);
  const elapsed = (performance.now() - t0) / 1000;
  const stats = procStats(pid);
  const before = await first;
  const after = await opts.probe?.read();
  latencies.sort((a, b) => a - b);
  const cpuSeconds = stats.cpuSeconds - cpu0;
  const r: IngestResult = {
    samplesPerSec: samples / elapsed,
    requestsPerSec: requests / elapsed,
    p50ms: percentile(latencies, 0.5),
    p99ms: percentile(latencies, 0.99),
    cpuMsPer100k: (cpuSeconds * 1000 * 100_000) / Math.max(1, samples),
    samplesPerCpuSec: samples / cpuSeconds,
    serverCpuPercent: (cpuSeconds / elapsed) * 100,
    peakRssMiB: stats.peakRssMiB,
    refusedPerSec: refused / elapsed,
  };
  if (before && after) r.writer = writerFigures(before, after, opts.probe!.dataDir);
  return r;
}

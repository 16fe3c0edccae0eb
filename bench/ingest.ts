import { Agent, request } from 'node:http';
import WebSocket from 'ws';
import { INGEST_KEY } from '../test/helpers/app.js';
import type { ServiceProcess } from '../test/helpers/service.js';
import { fmt, percentile, procStats } from './machine.js';
import { bodies } from './samples.js';

export interface IngestResult {
  label: string;
  samplesPerSec: number;
  requestsPerSec: number;
  p50ms: number;
  p99ms: number;
  cpuMsPer100k: number;
  serverCpuPercent: number;
  peakRssMiB: number;
  /** Requests or frames answered 429 (the service shedding load), per second. */
  refusedPerSec: number;
}

const WARMUP_MS = 2000;

/** Closed-loop HTTP load (or open-loop at `targetRps`): posts pre-built batches, measures the server process. */
export async function httpLoad(svc: ServiceProcess, batch: number, seconds: number, opts: { concurrency?: number; targetRps?: number } = {}): Promise<IngestResult> {
  const url = new URL('/v1/telemetry', svc.url);
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency ?? 16 });
  const pool = bodies(32, batch, Date.now());
  let i = 0;
  const post = () =>
    new Promise<{ accepted: number; ms: number; refused?: boolean }>((resolve, reject) => {
      const body = pool[i++ % pool.length]!;
      const t0 = performance.now();
      const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: `Bearer ${INGEST_KEY}`, 'content-length': Buffer.byteLength(body) } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          // Shed at saturation (event-loop turn budget): counted, and the loop goes on as a client would.
          if (res.statusCode === 429) return resolve({ accepted: 0, ms: performance.now() - t0, refused: true });
          if (res.statusCode !== 202) return reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
          resolve({ accepted: (JSON.parse(text) as { accepted: number }).accepted, ms: performance.now() - t0 });
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  const result = await measure(svc.proc!.pid!, `HTTP, batches of ${batch}`, seconds, async (stopAt, record) => {
    if (opts.targetRps) {
      // Open loop: requests start on a fixed schedule whatever the answers do, so latency includes queueing.
      const gap = 1000 / opts.targetRps;
      let next = performance.now();
      const inflight: Promise<void>[] = [];
      while (performance.now() < stopAt) {
        next += gap;
        const wait = next - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        inflight.push(post().then((r) => record(r.accepted, r.ms, r.refused)));
        if (inflight.length > 10_000) await Promise.all(inflight.splice(0));
      }
      await Promise.all(inflight);
    } else {
      const worker = async () => {
        while (performance.now() < stopAt) {
          const r = await post();
          record(r.accepted, r.ms, r.refused);
        }
      };
      await Promise.all(Array.from({ length: opts.concurrency ?? 16 }, worker));
    }
  });
  agent.destroy();
  return result;
}

/** WebSocket load: `connections` sockets, each keeping up to `window` frames in flight. */
export async function wsLoad(svc: ServiceProcess, batch: number, seconds: number, connections = 4, window = 16): Promise<IngestResult> {
  const pool = bodies(32, batch, Date.now()).map((b) => JSON.parse(b) as { samples: unknown[] });
  const sockets = await Promise.all(
    Array.from({ length: connections }, () => new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`${svc.url.replace('http', 'ws')}/v1/telemetry/ws?key=${INGEST_KEY}`);
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    })),
  );
  let i = 0;
  const result = await measure(svc.proc!.pid!, `WebSocket, frames of ${batch}`, seconds, (stopAt, record) =>
    Promise.all(
      sockets.map((ws) => new Promise<void>((resolve, reject) => {
        const sent = new Map<number, number>();
        let seq = 0;
        const frames = pool.map((p) => p.samples);
        const send = () => {
          const s = seq++;
          sent.set(s, performance.now());
          ws.send(`{"seq":${s},"samples":${JSON.stringify(frames[i++ % frames.length])}}`);
        };
        ws.on('message', (data) => {
          const ack = JSON.parse(String(data)) as { seq: number; accepted?: number; error?: string };
          if (ack.error) return reject(new Error(`frame ${ack.seq}: ${ack.error}`));
          record(ack.accepted!, performance.now() - sent.get(ack.seq)!);
          sent.delete(ack.seq);
          if (performance.now() < stopAt) send();
          else if (sent.size === 0) resolve();
        });
        ws.on('close', (code) => reject(new Error(`closed ${code}`)));
        for (let k = 0; k < window; k++) send();
      })),
    ).then(() => undefined),
  );
  for (const ws of sockets) {
    ws.removeAllListeners('close');
    ws.close();
  }
  return result;
}

/** Drives load for `seconds` after a warm-up; CPU and RSS are read from process `pid` (the server under test). */
export async function measure(
  pid: number,
  label: string,
  seconds: number,
  drive: (stopAt: number, record: (accepted: number, ms: number, refused?: boolean) => void) => Promise<void>,
): Promise<IngestResult> {
  let counting = false;
  let samples = 0;
  let requests = 0;
  const latencies: number[] = [];
  const start = performance.now();
  const measureFrom = start + WARMUP_MS;
  let cpu0 = procStats(pid).cpuSeconds;
  let t0 = measureFrom;
  const warm = setTimeout(() => {
    counting = true;
    cpu0 = procStats(pid).cpuSeconds;
    t0 = performance.now();
  }, WARMUP_MS);
  let refused = 0;
  await drive(measureFrom + seconds * 1000, (accepted, ms, wasRefused) => {
    if (!counting) return;
    if (wasRefused) {
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
  latencies.sort((a, b) => a - b);
  return {
    label,
    samplesPerSec: samples / elapsed,
    requestsPerSec: requests / elapsed,
    p50ms: percentile(latencies, 0.5),
    p99ms: percentile(latencies, 0.99),
    cpuMsPer100k: ((stats.cpuSeconds - cpu0) * 1000 * 100_000) / Math.max(1, samples),
    serverCpuPercent: ((stats.cpuSeconds - cpu0) / elapsed) * 100,
    peakRssMiB: stats.peakRssMiB,
    refusedPerSec: refused / elapsed,
  };
}

export function ingestTable(rows: readonly IngestResult[]): string {
  return [
    '| scenario | samples/s | requests or frames/s | 429/s | p50 | p99 | server CPU | CPU per 100 k samples | server peak RSS |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.label} | ${fmt(r.samplesPerSec)} | ${fmt(r.requestsPerSec)} | ${fmt(r.refusedPerSec)} | ${fmt(r.p50ms, 1)} ms | ${fmt(r.p99ms, 1)} ms | ${fmt(r.serverCpuPercent)} % | ${fmt(r.cpuMsPer100k)} ms | ${fmt(r.peakRssMiB)} MiB |`),
  ].join('\n');
}

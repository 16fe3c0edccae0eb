import { Agent, request } from 'node:http';
import { INGEST_KEY } from '../test/helpers/app.js';
import { metricsText } from '../test/helpers/metrics.js';
import { ServiceProcess } from '../test/helpers/service.js';
import { fmt, procStats } from './machine.js';

/**
 * Scale of state: the built service holding S active series and M live sessions, with the shipped rules
 * evaluating on the stream. Every (region, dimension value) pair gets a sample in every window and every session
 * reports every 20 s (live = within 3 × its 10 s interval), paced in an open loop; after the state has filled, RSS
 * and the evaluation passes of the measuring period are read. No InfluxDB: this measures the in-memory state.
 */
export interface ScaleRow {
  series: number;
  sessions: number;
  measuredSeries: number;
  measuredSessions: number;
  samplesPerSec: number;
  rssMiB: number;
  peakRssMiB: number;
  heapMiB: number;
  evalMeanMs: number;
  evalP99Ms: number;
  passesPerSec: number;
  cpuPercent: number;
  /** Batches shed with 429 and sent again. */
  refused: number;
  /** NODE_OPTIONS of the service, if any (heap sizing). */
  nodeOptions?: string;
}

const DIMS = ['isp', 'cdn', 'platform', 'country', 'sdk'] as const;

/** Regions and values per dimension so that regions × (1 + 5 × values) ≈ the series wanted. */
export function layout(series: number): { regions: number; values: number } {
  const regions = series <= 1000 ? 20 : series <= 10_000 ? 100 : 500;
  return { regions, values: Math.max(1, Math.round((series / regions - 1) / DIMS.length)) };
}

/** `size` samples from the `from`-th on, stamped `ts`: sessions and (region, dimension value) pairs in turn. */
export function stateBody(from: number, size: number, ts: number, regions: number, values: number, sessions: number): string {
  const parts: string[] = [];
  for (let k = 0; k < size; k++) {
    const i = from + k;
    const r = i % regions;
    // Successive samples of a region walk through every value of every dimension.
    const v = Math.floor(i / regions) % values;
    const dims = DIMS.map((d, j) => `"${d}":"${d}-${(v + j) % values}"`).join(',');
    const stall = i % 17 === 0 ? 800 : 0;
    parts.push(
      `{"ts":${ts},"interval_ms":10000,"region":"r-${r}","session":"s-${i % sessions}","dims":{${dims}},"latency_ms":${900 + (i % 400)},"packets_lost":${i % 3},"packets_expected":2400,"play_ms":${10_000 - stall},"stall_ms":${stall},"stall_count":${stall ? 1 : 0}}`,
    );
  }
  return `{"samples":[${parts.join(',')}]}`;
}

/** The mean and p99 (bucket upper bound) of histogram observations between two /metrics texts. */
function histogramDelta(before: string, after: string, name: string): { count: number; mean: number; p99: number } {
  const read = (text: string) => {
    const buckets: [number, number][] = [];
    let sum = 0;
    let count = 0;
    for (const line of text.split('\n')) {
      if (line.startsWith(`${name}_bucket{`)) {
        const le = /le="([^"]+)"/.exec(line)![1]!;
        buckets.push([le === '+Inf' ? Infinity : Number(le), Number(line.split(' ').at(-1))]);
      } else if (line.startsWith(`${name}_sum`)) sum = Number(line.split(' ').at(-1));
      else if (line.startsWith(`${name}_count`)) count = Number(line.split(' ').at(-1));
    }
    return { buckets, sum, count };
  };
  const a = read(before);
  const b = read(after);
  const count = b.count - a.count;
  const rank = 0.99 * count;
  const p99 = b.buckets.find(([, c], i) => c - (a.buckets[i]?.[1] ?? 0) >= rank)?.[0] ?? NaN;
  return { count, mean: count ? (b.sum - a.sum) / count : NaN, p99 };
}

const gauge = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

/**
 * The service settings for a state of `series` × `sessions`: the caps fit the layout and the budgets are lifted to
 * twice the state, so what is measured is what the state costs, not the budgets.
 */
export function stateEnv(series: number, sessions: number): Record<string, string> {
  const { regions, values } = layout(series);
  const budgets = { series: String(2 * series), sessions: String(2 * sessions) };
  return {
    QOSWATCH_LOG_LEVEL: 'warn', QOSWATCH_RATE_LIMIT: '1000000/1s', QOSWATCH_REGION_CAP: String(regions), QOSWATCH_DIM_CAP: String(values),
    QOSWATCH_MAX_PENDING_BYTES: '1gb', QOSWATCH_TENANT_MAX_SERIES: budgets.series, QOSWATCH_MAX_SERIES: budgets.series, QOSWATCH_TENANT_MAX_POINTS: budgets.series,
    QOSWATCH_TENANT_MAX_SESSIONS: budgets.sessions, QOSWATCH_MAX_SESSIONS: budgets.sessions,
  };
}

export async function scaleRun(series: number, sessions: number, fillSeconds = 36, measureSeconds = 20, env: Record<string, string> = {}): Promise<ScaleRow> {
  const { regions, values } = layout(series);
  // Enough samples for every session every 20 s and every (region, value) pair every 10 s window, twice over.
  const rate = Math.max(sessions / 20, (2 * regions * values) / 10, 2000);
  const svc = new ServiceProcess({ ...stateEnv(series, sessions), ...env });
  await svc.start();
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const url = new URL('/v1/telemetry', svc.url);
  const size = 1000;
  let next = 0;
  let sent = 0;
  let refused = 0;
  const once = (text: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: `Bearer ${INGEST_KEY}`, 'content-length': Buffer.byteLength(text) } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 202 || res.statusCode === 429 ? resolve(res.statusCode) : reject(new Error(`HTTP ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(text);
    });
  // A batch the service sheds (429: a busy event-loop turn) is sent again shortly: every series and session must
  // stay active for the state to be measured.
  const post = async (text: string): Promise<void> => {
    while ((await once(text)) === 429) {
      refused++;
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  try {
    const start = performance.now();
    const stopAt = start + (fillSeconds + measureSeconds) * 1000;
    let before = '';
    let cpu0 = 0;
    let t0 = 0;
    const inflight = new Set<Promise<void>>();
    while (performance.now() < stopAt) {
      const due = ((performance.now() - start) / 1000) * rate;
      while (sent < due && inflight.size < 32) {
        const p = post(stateBody(next, size, Date.now(), regions, values, sessions)).finally(() => inflight.delete(p));
        inflight.add(p);
        next += size;
        sent += size;
      }
      if (!before && performance.now() - start >= fillSeconds * 1000) {
        before = await metricsText(svc.url);
        cpu0 = procStats(svc.proc!.pid!).cpuSeconds;
        t0 = performance.now();
      }
      await (inflight.size >= 32 ? Promise.race(inflight) : new Promise((r) => setTimeout(r, 5)));
    }
    await Promise.all(inflight);
    const elapsed = (performance.now() - t0) / 1000;
    const after = await metricsText(svc.url);
    const stats = procStats(svc.proc!.pid!);
    const evals = histogramDelta(before, after, 'qoswatch_rule_evaluation_duration_seconds');
    return {
      series, sessions, measuredSeries: gauge(after, 'qoswatch_window_series'), measuredSessions: gauge(after, 'qoswatch_live_sessions'),
      refused, nodeOptions: env.NODE_OPTIONS, samplesPerSec: sent / ((performance.now() - start) / 1000), rssMiB: stats.rssMiB, peakRssMiB: stats.peakRssMiB,
      heapMiB: gauge(after, 'nodejs_heap_size_used_bytes') / 1024 ** 2, evalMeanMs: evals.mean * 1000, evalP99Ms: evals.p99 * 1000,
      passesPerSec: evals.count / elapsed, cpuPercent: ((stats.cpuSeconds - cpu0) / elapsed) * 100,
    };
  } finally {
    agent.destroy();
    await svc.stop('SIGKILL');
    svc.cleanup();
  }
}

export function scaleTable(rows: readonly ScaleRow[]): string {
  return [
    '| active series (measured) | live sessions (measured) | V8 heap | samples/s sent | RSS | peak RSS | JS heap | evaluation pass mean | pass p99 (bucket) | passes/s | CPU | batches shed (429, resent) |',
    '| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${fmt(r.series)} (${fmt(r.measuredSeries)}) | ${fmt(r.sessions)} (${fmt(r.measuredSessions)}) | ${r.nodeOptions ? `\`${r.nodeOptions}\`` : 'default'} | ${fmt(r.samplesPerSec)} | ${fmt(r.rssMiB)} MiB | ${fmt(r.peakRssMiB)} MiB | ${fmt(r.heapMiB)} MiB | ${fmt(r.evalMeanMs, 2)} ms | ${Number.isFinite(r.evalP99Ms) ? `≤ ${fmt(r.evalP99Ms, 1)} ms` : '> 1 s'} | ${fmt(r.passesPerSec)} | ${fmt(r.cpuPercent)} % | ${fmt(r.refused)} |`,
    ),
  ].join('\n');
}

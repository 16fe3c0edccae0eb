import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type TestApp, postTelemetry, startApp } from '../test/helpers/app.js';
import { tempDir } from '../test/helpers/tmp.js';
import { fmt, percentile } from './machine.js';
import { ONE_PAGE_PER_INCIDENT } from './peer-detection.js';
import { retryOn429 } from './retry.js';
import { bodies } from './samples.js';

/**
 * The rule of PRODUCT.md §10: stall ratio above 5 %, no `for`, over the last two 5 s windows — a one-window rule
 * would miss a trial whose request crosses a window boundary (its sample then sits in the previous window).
 */
const RULE = `rules:
  - id: stall-5s
    description: stall ratio over 5 s above 5 %
    metric: stall_ratio
    window: 10s
    thresholds: { P1: "> 0.05" }
`;

export interface DetectionRow {
  label: string;
  trials: number;
  p50: number;
  /** 50 trials have no p99: the 90th percentile is the highest one they estimate. */
  p90: number;
  max: number;
  /** Requests answered 429 (a busy turn) and sent again after a pause. */
  retried: number;
}

/** The on-call person is paged through the signed generic webhook at a receiver on loopback. */
const ONCALL = (hookUrl: string) => `people: [{ id: oncall, name: On Call, chat: { webhook: oncall }, notify: [hook] }]
channels: [{ id: hook, provider: webhook, url: "${hookUrl}", secret: bench-secret-0123456789 }]
escalation_policies: [{ id: page, levels: [{ targets: [{ person: oncall }] }] }]
default_policy: page
`;

/** A webhook receiver on loopback: resolves the waiter of each incident's region when its page arrives. */
async function pageReceiver(): Promise<{ url: string; waitFor(region: string): Promise<number>; close(): Promise<void> }> {
  const waiters = new Map<string, (at: number) => void>();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const at = performance.now();
      res.end('ok');
      const region = (JSON.parse(body) as { incident?: { region?: string } }).incident?.region;
      if (region) waiters.get(region)?.(at);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/page`,
    waitFor: (region) => new Promise((r) => waiters.set(region, r)),
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/**
 * Sample → incident → page: the service runs in this process so the incident bus can be watched directly. Each trial
 * posts one breaching sample for a fresh region and times from just before the request is sent until (1) the
 * 'opened' incident event is published (HTTP, validation, journal commit, aggregation, evaluation, SQLite
 * transaction) and (2) the page reaches a webhook receiver on loopback (outbox row, signing, HTTP delivery).
 * Under load, a background stream of 1000-sample batches shares the process's event loop with the trials.
 */
export async function benchDetection(trials: number): Promise<DetectionRow[]> {
  const dir = tempDir('bench-rules');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'rule.yaml'), RULE);
  const receiver = await pageReceiver();
  const oncallDir = tempDir('bench-oncall');
  const oncall = join(oncallDir, 'oncall.yaml');
  writeFileSync(oncall, ONCALL(receiver.url));
  const t = await startApp({
    env: { QOSWATCH_RULES_DIR: dir, QOSWATCH_ONCALL: oncall, QOSWATCH_WINDOW: '5s', QOSWATCH_LOG_LEVEL: 'warn', QOSWATCH_RATE_LIMIT: '1000000/1s', QOSWATCH_CHAT_RATE: '1000/1s', ...ONE_PAGE_PER_INCIDENT },
  });
  try {
    const idle = await trialRun(t, receiver, 'idle service', trials, 0);
    const loaded = await trialRun(t, receiver, 'under load (~20 k samples/s in the same process)', trials, 20);
    return [...idle, ...loaded];
  } finally {
    await t.close();
    await receiver.close();
    for (const d of [dir, oncallDir]) rmSync(d, { recursive: true, force: true });
  }
}

async function trialRun(t: TestApp, receiver: { waitFor(region: string): Promise<number> }, label: string, trials: number, backgroundRps: number): Promise<DetectionRow[]> {
  let stop = false;
  let retried = 0;
  const background = (async () => {
    if (!backgroundRps) return;
    const pool = bodies(16, 1000, Date.now());
    for (let i = 0; !stop; i++) {
      const next = performance.now() + 1000 / backgroundRps;
      await retryOn429(() => postTelemetry(t.url, pool[i % pool.length]!.replace(/"ts":\d+/g, `"ts":${Date.now()}`)), () => retried++);
      await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
    }
  })();
  const ms: number[] = [];
  const paged: number[] = [];
  try {
    for (let i = 0; i < trials; i++) {
      const region = `det-${backgroundRps}-${i}`;
      const opened = new Promise<number>((resolve) => {
        const off = t.app.incidentBus.on((e) => {
          if (e.type === 'opened' && e.incident.region === region) {
            off();
            resolve(performance.now());
          }
        });
      });
      const page = receiver.waitFor(region);
      const t0 = performance.now();
      // A 429 (a busy turn under the background load) is sent again, counted; the trial keeps its t0.
      const res = await retryOn429(() => postTelemetry(t.url, { samples: [{ ts: Date.now(), region, session: `b-${i}`, play_ms: 4000, stall_ms: 1000 }] }), () => retried++);
      if (res.status !== 202) throw new Error(`trial ${i}: HTTP ${res.status}`);
      ms.push((await within(opened, `trial ${i}: no incident`)) - t0);
      paged.push((await within(page, `trial ${i}: no page`)) - t0);
      // Random gaps: trials land anywhere in the evaluation coalescing slot, as samples of a live stream do.
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 60));
    }
  } finally {
    stop = true;
    await background;
  }
  const row = (what: string, xs: number[]): DetectionRow => {
    xs.sort((a, b) => a - b);
    return { label: `${label}: ${what}`, trials, p50: percentile(xs, 0.5), p90: percentile(xs, 0.9), max: xs.at(-1)!, retried };
  };
  return [row('sample → incident', ms), row('sample → page at the webhook', paged)];
}

export function detectionTable(rows: readonly DetectionRow[]): string {
  const head = '| scenario | trials | p50 | p90 | max | requests answered 429, sent again |\n| --- | ---: | ---: | ---: | ---: | ---: |';
  return [head, ...rows.map((r) => `| ${r.label} | ${r.trials} | ${fmt(r.p50, 2)} ms | ${fmt(r.p90, 2)} ms | ${fmt(r.max, 2)} ms | ${fmt(r.retried)} |`)].join('\n');
}

/** A trial that never completes fails the run loudly instead of hanging it. */
function within<T>(p: Promise<T>, what: string, ms = 10_000): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms).unref())]);
}

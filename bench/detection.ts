import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestApp, postTelemetry, startApp } from '../test/helpers/app.js';
import { tempDir } from '../test/helpers/tmp.js';
import { fmt, percentile } from './machine.js';
import { bodies } from './samples.js';

/** The rule of PRODUCT.md §10: stall ratio over 5 s above 5 %, no `for`. */
const RULE = `rules:
  - id: stall-5s
    description: stall ratio over 5 s above 5 %
    metric: stall_ratio
    window: 5s
    thresholds: { P1: "> 0.05" }
`;

export interface DetectionRow {
  label: string;
  trials: number;
  p50: number;
  p99: number;
  max: number;
}

/**
 * Sample → incident: the service runs in this process so the incident bus can be watched directly. Each trial posts
 * one breaching sample for a fresh region and times from just before the request is sent until the 'opened'
 * incident event is published (HTTP, validation, journal commit, aggregation, evaluation, SQLite transaction).
 * Under load, a background stream of 1000-sample batches shares the process's event loop with the trials.
 */
export async function benchDetection(trials: number): Promise<DetectionRow[]> {
  const dir = tempDir('bench-rules');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'rule.yaml'), RULE);
  const t = await startApp({ env: { QOSWATCH_RULES_DIR: dir, QOSWATCH_WINDOW: '5s', QOSWATCH_LOG_LEVEL: 'warn', QOSWATCH_RATE_LIMIT: '1000000/1s' } });
  try {
    const idle = await trialRun(t, 'idle service', trials, 0);
    const loaded = await trialRun(t, 'under load (~20 k samples/s in the same process)', trials, 20);
    return [idle, loaded];
  } finally {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function trialRun(t: TestApp, label: string, trials: number, backgroundRps: number): Promise<DetectionRow> {
  let stop = false;
  const background = (async () => {
    if (!backgroundRps) return;
    const pool = bodies(16, 1000, Date.now());
    for (let i = 0; !stop; i++) {
      const next = performance.now() + 1000 / backgroundRps;
      await postTelemetry(t.url, pool[i % pool.length]!.replace(/"ts":\d+/g, `"ts":${Date.now()}`));
      await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
    }
  })();
  const ms: number[] = [];
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
      const t0 = performance.now();
      const res = await postTelemetry(t.url, { samples: [{ ts: Date.now(), region, session: `b-${i}`, play_ms: 4000, stall_ms: 1000 }] });
      if (res.status !== 202) throw new Error(`trial ${i}: HTTP ${res.status}`);
      ms.push((await opened) - t0);
      // Random gaps: trials land anywhere in the evaluation coalescing slot, as samples of a live stream do.
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 60));
    }
  } finally {
    stop = true;
    await background;
  }
  ms.sort((a, b) => a - b);
  return { label, trials, p50: percentile(ms, 0.5), p99: percentile(ms, 0.99), max: ms.at(-1)! };
}

export function detectionTable(rows: readonly DetectionRow[]): string {
  const head = '| scenario | trials | p50 | p99 | max |\n| --- | ---: | ---: | ---: | ---: |';
  return [head, ...rows.map((r) => `| ${r.label} | ${r.trials} | ${fmt(r.p50, 2)} ms | ${fmt(r.p99, 2)} ms | ${fmt(r.max, 2)} ms |`)].join('\n');
}

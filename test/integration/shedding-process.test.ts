import { existsSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { INGEST_KEY, sample } from '../helpers/app.js';
import { metricValue, metricsText } from '../helpers/metrics.js';
import { CLI, servicesKilledAfterEach } from '../helpers/service.js';
import { Throttle, type ThrottleMode } from '../helpers/throttle.js';

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);

const start = servicesKilledAfterEach();
let throttles: Throttle[] = [];
afterEach(async () => {
  await Promise.all(throttles.map((t) => t.stop()));
  throttles = [];
});

/** A body of `size` samples of distinct sessions. */
const body = (size: number, n: number) => JSON.stringify({ sdk: 'test', samples: Array.from({ length: size }, (_, i) => sample({ session: `s-${n}-${i}` })) });

/** POSTs a body; resolves with the status and Retry-After. */
function post(url: string, agent: Agent, text: string): Promise<{ status: number; retryAfter: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/telemetry`, { method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: `Bearer ${INGEST_KEY}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'] }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

class Statuses extends Map<number, number> {
  add(status: number): void {
    this.set(status, (this.get(status) ?? 0) + 1);
  }
  text(): string {
    return [...this].sort(([a], [b]) => a - b).map(([s, c]) => `${s} × ${c}`).join(', ');
  }
}

/** Open loop: `perSecond` requests of `size` samples a second for `seconds`, started on schedule whatever the answers. */
async function offer(url: string, perSecond: number, seconds: number, size: number): Promise<Statuses> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const statuses = new Statuses();
  const pending: Promise<void>[] = [];
  const t0 = performance.now();
  for (let n = 0; n < perSecond * seconds; n++) {
    const wait = t0 + (n * 1000) / perSecond - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(post(url, agent, body(size, n)).then((r) => statuses.add(r.status)));
  }
  await Promise.all(pending);
  agent.destroy();
  return statuses;
}

const overloaded = async (url: string) => metricValue(await metricsText(url), 'qoswatch_requests_refused_total{transport="http",reason="overloaded"}') ?? 0;

// Default shedding settings (QOSWATCH_MAX_EVENT_LOOP_DELAY 100 ms); the per-key rate limit is not what is tested.
const ENV = { QOSWATCH_LOG_LEVEL: 'warn', QOSWATCH_RATE_LIMIT: '1000000/1s' };
const SECONDS = 8;

describe('shedding on a CPU-starved process (the real service, throttled with SIGSTOP/SIGCONT)', () => {
  it.each<[string, string, ThrottleMode, number, number]>([
    ['stopped 80 ms of every 100 ms (cpulimit-style)', 'a light load (30 beacons/s of 1 sample)', { stopMs: 80, periodMs: 100 }, 30, 1],
    ['stopped 150 ms of every 200 ms', 'a light load (30 beacons/s of 1 sample)', { stopMs: 150, periodMs: 200 }, 30, 1],
    ['stopped 150 ms of every 200 ms', 'a moderate load (100 requests/s of 5 samples)', { stopMs: 150, periodMs: 200 }, 100, 5],
    ['limited to 20 ms of CPU per 100 ms (a 0.2 CPU container limit)', 'a moderate load (50 requests/s of 200 samples)', { quotaMs: 20, periodMs: 100 }, 50, 200],
  ])('%s, answers %s with 202 only: throttling pauses are not overload', async (_how, _what, mode, perSecond, size) => {
    const svc = await start(ENV);
    const throttle = new Throttle(svc.proc!.pid!, mode);
    throttles.push(throttle);
    throttle.start();
    const statuses = await offer(svc.url, perSecond, SECONDS, size);
    const throttled = await throttle.stop();
    // It was starved (a throttle that never stopped it would prove nothing).
    expect(throttled.periods).toBeGreaterThan(SECONDS);
    expect(statuses.text(), `throttled ${throttled.periods} times, ${throttled.stoppedMs} ms in all`).toBe(`202 × ${perSecond * SECONDS}`);
    expect(await overloaded(svc.url)).toBe(0);
  }, 60_000);
});

describe('shedding a flood (the real service)', () => {
  it('a closed loop of 256 connections sending 1000-sample bodies is shed with 429 + Retry-After, and the service stays up', async () => {
    const svc = await start(ENV);
    const agent = new Agent({ keepAlive: true, maxSockets: 256 });
    const text = body(1000, 0);
    const statuses = new Statuses();
    let withoutRetryAfter = 0;
    const end = performance.now() + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: 256 }, async () => {
        while (performance.now() < end) {
          const r = await post(svc.url, agent, text);
          statuses.add(r.status);
          if (r.status === 429 && !(Number(r.retryAfter) > 0)) withoutRetryAfter++;
        }
      }),
    );
    agent.destroy();
    expect([...statuses.keys()].sort(), statuses.text()).toEqual([202, 429]);
    expect(withoutRetryAfter).toBe(0);
    expect(await overloaded(svc.url)).toBe(statuses.get(429));
    expect((await fetch(`${svc.url}/healthz`)).status).toBe(200);
  }, 60_000);
});

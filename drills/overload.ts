import { execFileSync } from 'node:child_process';
import { procStats } from '../bench/machine.js';
import { REGION_PROFILES, Population } from '../src/simulator/model.js';
import { SDK } from '../src/simulator/send.js';
import { InfluxServer } from '../test/helpers/influxd.js';
import { metricValue, metricsText } from '../test/helpers/metrics.js';
import {
  Counter, DRILL_WINDOW_MS, type DrillResult, Ledger, type Log, Report, SERVICE_ENV, compare, fmt, influxEnv, keepAlive, mib, ms, post, reportComparison, runDrill, sleep,
  storedPerWindow,
} from './common.js';
import { Fleet, INGEST_KEY } from './services.js';

export interface OverloadOptions {
  /** Offered load as a multiple of the measured maximum. */
  factor: number;
  /** Seconds of overload. */
  seconds: number;
  /** Seconds of closed-loop load to measure the maximum (after 2 s of warm-up). */
  measureSeconds: number;
  /** Samples per request. */
  batch: number;
  log?: Log;
}

export const OVERLOAD_DEFAULTS: OverloadOptions = { factor: 3, seconds: 30, measureSeconds: 5, batch: 500 };

/**
 * Client connections at most: many, as thousands of SDKs each have their own. With ~1000, the service's listen
 * backlog holds the excess connections unaccepted while the event loop is saturated (Node accepts one connection per
 * loop turn), which is what the service's shedding has to cope with.
 */
const CLIENT_SOCKETS = 4096;

/** The service's defaults for the two overload guards (README, Configuration); the drill does not change them. */
const MAX_INFLIGHT = 512;
const MAX_PENDING_BYTES = 64 * 1024 ** 2;
/** Requests in flight while measuring the maximum (closed loop): enough to keep the service saturated. */
const MEASURE_CONCURRENCY = 64;

/** Server-side TCP state of a port (Linux `ss`): established connections and the listen queue (accepted or not). */
function socketState(port: string): { established: number; acceptQueue: number } | undefined {
  try {
    const est = execFileSync('ss', ['-Htn', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' }).split('\n').filter(Boolean).length;
    const listen = execFileSync('ss', ['-Hltn', `( sport = :${port} )`], { encoding: 'utf8' }).trim().split(/\s+/);
    return { established: est, acceptQueue: Number(listen[1] ?? 0) };
  } catch {
    return undefined;
  }
}

/** Ts placeholder in the pre-built bodies (13 digits, like the epoch ms that replace it). */
const TS_MARK = '1111111111111';

interface Body {
  /** The JSON with TS_MARK for every `ts`. */
  template: string;
  regionOf: string[];
  byRegion: Map<string, number>;
}

/** Pre-built bodies of the simulator's beacons (one interval of a population), `batch` samples each. */
export function bodies(batch: number, count: number): Body[] {
  const regions = Object.keys(REGION_PROFILES);
  const pop = new Population({ seed: 7, tenant: 'o', regions, sessions: batch * count, intervalMs: 1000, diurnal: { peakHour: 21, trough: 1 } });
  const all = pop.beacons(Date.now());
  const out: Body[] = [];
  for (let i = 0; i + batch <= all.length && out.length < count; i += batch) {
    const samples = all.slice(i, i + batch).map((s) => ({ ...s, ts: Number(TS_MARK) }));
    const byRegion = new Map<string, number>();
    for (const s of samples) byRegion.set(s.region, (byRegion.get(s.region) ?? 0) + 1);
    out.push({ template: JSON.stringify({ sdk: SDK, samples }), regionOf: samples.map((s) => s.region), byRegion });
  }
  return out;
}

/**
 * Overload: the maximum ingest is measured (closed loop), then `factor` × that is offered in open loop (requests
 * start on a fixed schedule whatever the answers). The service must shed with 429 + Retry-After (or 503), keep its
 * memory under the bound its guards imply, stay up, and store every sample it acknowledged.
 */
export async function drillOverload(opts: Partial<OverloadOptions> = {}): Promise<DrillResult> {
  const o = { ...OVERLOAD_DEFAULTS, ...opts };
  const log = o.log ?? (() => {});
  const report = new Report('overload', `${fmt(o.factor, 1)} × the measured maximum ingest offered in open loop for ${o.seconds} s (HTTP, batches of ${o.batch} simulator beacons)`);
  let influx: InfluxServer | undefined;
  let fleet: Fleet | undefined;
  let sampling = false;
  let sampler: Promise<void> | undefined;

  return runDrill(
    report,
    async () => {
      influx = await InfluxServer.launch();
      const db = 'drill_overload';
      await influx.createDb(db);
      // The per-key rate limit (2000 requests/s by default) is lifted so that the overload guards (in-flight cap,
      // pending journal bytes) are what sheds load, not the rate limiter. The shipped rules are evaluated.
      fleet = new Fleet({ ...SERVICE_ENV, ...influxEnv(influx, db), QOSWATCH_RATE_LIMIT: '1000000/1s', QOSWATCH_LOG_LEVEL: 'warn' }, log);
      const svc = await fleet.start();
      const url = svc.url;
      const pid = svc.proc!.pid!;
      const pool = bodies(o.batch, 32);
      const bodyBytes = Math.max(...pool.map((b) => b.template.length));
      const ledger = new Ledger(DRILL_WINDOW_MS);
      const agent = keepAlive(CLIENT_SOCKETS);

      // bodies restamped once a second (ts = now - 1 s: the interval each beacon measures just ended)
      let stampSecond = 0;
      let stamped: string[] = [];
      const stampedTs = () => {
        const sec = Math.floor(Date.now() / 1000);
        if (sec !== stampSecond) {
          stampSecond = sec;
          const ts = String(sec * 1000 - 1000);
          stamped = pool.map((b) => b.template.replaceAll(TS_MARK, ts));
        }
        return stampSecond * 1000 - 1000;
      };

      const statuses = new Counter();
      const errors = new Counter();
      let missingRetryAfter = 0;
      let badRetryAfter = 0;
      let accepted = 0;
      let rejectedSamples = 0;
      let n = 0;
      let firstRefusal: number | undefined;
      let firstError: number | undefined;
      const send = async (record: boolean): Promise<number> => {
        const ts = stampedTs();
        const i = n++ % pool.length;
        const b = pool[i]!;
        const out = await post(`${url}/v1/telemetry`, stamped[i]!, { 'content-type': 'application/json', authorization: `Bearer ${INGEST_KEY}` }, agent, 60_000);
        if (out.kind === 'error') {
          errors.add(out.code);
          firstError ??= performance.now();
          return 0;
        }
        if (record) {
          statuses.add(out.status);
          if ((out.status === 429 || out.status === 503) && firstRefusal === undefined) firstRefusal = performance.now();
        }
        if (out.status === 202) {
          const body = JSON.parse(out.body) as { accepted: number; rejected: { index: number }[] };
          const rejected = new Set(body.rejected.map((r) => r.index));
          if (rejected.size === 0) for (const [region, c] of b.byRegion) ledger.addAccepted(ledger.key(region, ts), c);
          else for (let k = 0; k < b.regionOf.length; k++) if (!rejected.has(k)) ledger.addAccepted(ledger.key(b.regionOf[k]!, ts));
          rejectedSamples += rejected.size;
          accepted += body.accepted;
          return body.accepted;
        }
        if (out.status === 429) {
          const ra = out.headers['retry-after'];
          if (ra === undefined) missingRetryAfter++;
          else if (!(Number(ra) > 0)) badRetryAfter++;
        }
        return 0;
      };

      // ---- the maximum: closed loop, MEASURE_CONCURRENCY requests in flight, 2 s warm-up then `measureSeconds`
      let measured = 0;
      let counting = false;
      const stopAt = Date.now() + 2000 + o.measureSeconds * 1000;
      const warm = setTimeout(() => (counting = true), 2000);
      await Promise.all(
        Array.from({ length: MEASURE_CONCURRENCY }, async () => {
          while (Date.now() < stopAt) {
            const a = await send(false);
            if (counting) measured += a;
          }
        }),
      );
      clearTimeout(warm);
      const maxRate = measured / o.measureSeconds;
      log(`overload: maximum ${fmt(maxRate)} samples/s`);
      if (maxRate <= 0) throw new Error('the maximum ingest measured 0 samples/s: the service accepts nothing');
      await sleep(2000);
      const baseline = procStats(pid).rssMiB;

      // ---- overload: open loop at factor × max
      const targetRate = o.factor * maxRate;
      const rps = targetRate / o.batch;
      const gap = 1000 / rps;
      const rss: number[] = [];
      const port = new URL(url).port;
      let peakEstablished = 0;
      let peakAcceptQueue = 0;
      sampling = true;
      sampler = (async () => {
        for (let k = 0; sampling; k++) {
          try {
            rss.push(procStats(pid).rssMiB);
          } catch {
            /* the process is gone: checked below */
          }
          if (k % 4 === 0) {
            const st = socketState(port);
            peakEstablished = Math.max(peakEstablished, st?.established ?? 0);
            peakAcceptQueue = Math.max(peakAcceptQueue, st?.acceptQueue ?? 0);
          }
          await sleep(250);
        }
      })();
      statuses.counts.clear();
      let started = 0;
      let skipped = 0;
      let outstanding = 0;
      let acceptedDuring = 0;
      const latencies: number[] = [];
      const inflight = new Set<Promise<void>>();
      const t0 = performance.now();
      const end = t0 + o.seconds * 1000;
      let next = t0;
      while (performance.now() < end) {
        next += gap;
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait);
        if (outstanding >= 2 * CLIENT_SOCKETS) {
          skipped++; // the client itself cannot keep up: counted, not queued
          continue;
        }
        started++;
        outstanding++;
        const t = performance.now();
        const p: Promise<void> = send(true).then((a) => {
          acceptedDuring += a;
          latencies.push(performance.now() - t);
        }).finally(() => {
          outstanding--;
          inflight.delete(p);
        });
        inflight.add(p);
      }
      const offeredSeconds = (performance.now() - t0) / 1000;
      await Promise.all(inflight);
      const answeredSeconds = (performance.now() - t0) / 1000;
      sampling = false;
      await sampler;
      const alive = fleet.alive();
      const healthz = alive ? (await fetch(`${url}/healthz`)).status : 0;
      const stats = alive ? procStats(pid) : undefined;
      const text = alive ? await metricsText(url) : '';
      agent.destroy();
      log(`overload: ${fmt(started)} requests offered, statuses ${statuses.text()}`);

      // ---- close and ship every window, then count
      const { metrics: after } = await fleet.stopAndDrain(report, 'overload', alive);

      // ---- figures and checks
      const bound = baseline + (MAX_PENDING_BYTES + MAX_INFLIGHT * bodyBytes * 4) / 1024 ** 2;
      const peak = Math.max(stats?.peakRssMiB ?? 0, ...rss);
      latencies.sort((a, b) => a - b);
      report.figure(`measured maximum (closed loop, ${MEASURE_CONCURRENCY} in flight)`, `${fmt(maxRate)} samples/s`);
      report.figure('offered (open loop)', `${fmt(started / offeredSeconds * o.batch)} samples/s = ${fmt(started / offeredSeconds, 1)} requests/s (target ${fmt(targetRate)} samples/s)`);
      report.figure(`schedule slots the client could not start (${2 * CLIENT_SOCKETS} outstanding)`, skipped);
      report.figure('acknowledged', `${fmt(acceptedDuring / answeredSeconds)} samples/s (until the last answer, ${fmt(answeredSeconds, 1)} s after the start)`);
      report.figure('first 429/503 after the overload started', firstRefusal === undefined ? 'never' : ms(firstRefusal - t0));
      report.figure('statuses during the overload', statuses.text());
      report.figure('client errors (connection reset, timeout)', `${errors.text()}${firstError === undefined ? '' : ` (first after ${ms(firstError - t0)})`}`);
      report.figure('server TCP connections established, peak / listen (accept) queue, peak', `${fmt(peakEstablished)} / ${fmt(peakAcceptQueue)} (backlog 4096)`);
      if (peakAcceptQueue > 100) {
        report.note(
          `Connections waited in the listen queue (peak ${fmt(peakAcceptQueue)}): Node's libuv accepts one new connection per event-loop turn, so while the service is saturated (turns of up to QOSWATCH_MAX_EVENT_LOOP_DELAY, 100 ms) it accepts ~10 a second, and a client that opens thousands at once waits for them; answer times include that wait. Requests on accepted connections are answered within a turn or two (202 or 429). In production a proxy or load balancer holding a few long-lived connections to the service avoids it.`,
        );
      }
      report.figure(`answer time p50 / p99 / max (${CLIENT_SOCKETS} client connections at most)`, `${ms(latencies[Math.floor(latencies.length / 2)] ?? NaN)} / ${ms(latencies[Math.floor(latencies.length * 0.99)] ?? NaN)} / ${ms(latencies.at(-1) ?? NaN)}`);
      report.figure('429 without Retry-After / with an invalid one', `${missingRetryAfter} / ${badRetryAfter}`);
      report.figure('refused by the service (/metrics)', ['overloaded', 'rate_limited'].map((r) => `${r}: ${fmt(metricValue(text, `qoswatch_requests_refused_total{transport="http",reason="${r}"}`) ?? 0)}`).join(' · '));
      report.figure('RSS before / peak during / at the end', `${fmt(baseline)} / ${fmt(peak)} / ${fmt(stats?.rssMiB ?? NaN)} MiB`);
      report.figure('RSS bound: baseline + pending bytes (64 MiB) + in-flight cap (512) × 4 × body', `${fmt(bound)} MiB (body ${mib(bodyBytes)})`);
      report.figure('process alive, /healthz after the overload', `${alive ? 'yes' : '**no**'}, ${healthz || 'no answer'}`);
      const unexpected = [...statuses.counts.keys()].filter((s) => !['202', '429', '503'].includes(s));
      report.check(unexpected.length === 0, `statuses other than 202/429/503 during the overload: ${unexpected.map((s) => `${s} × ${statuses.get(s)}`).join(', ')}`);
      report.check(
        statuses.get(429) + statuses.get(503) > 0,
        `NO LOAD SHEDDING: at ${fmt(o.factor, 1)} × the measured maximum no request was refused with 429/503; the excess queued instead (answer times p50 ${ms(latencies[Math.floor(latencies.length / 2)] ?? NaN)}, max ${ms(latencies.at(-1) ?? NaN)}; listen queue peak ${peakAcceptQueue}): the in-flight cap counts only requests the event loop has parsed, and a saturated loop leaves the rest in the kernel's accept queue`,
      );
      report.check(missingRetryAfter === 0 && badRetryAfter === 0, `${missingRetryAfter} 429s without Retry-After and ${badRetryAfter} with an invalid one`);
      report.check(errors.total() === 0, `CONNECTIONS RESET instead of answered: ${errors.text()}${firstError === undefined ? '' : ` (first ${ms(firstError - t0)} into the overload)`} — requests that never got a status (the accept queue overflowed while the service did not accept)`);
      report.check(alive && healthz === 200, `the service did not survive the overload (alive ${alive}, /healthz ${healthz}): ${fleet.tail()}`);
      report.check(peak <= bound, `RSS peaked at ${fmt(peak)} MiB, over the bound of ${fmt(bound)} MiB`);
      report.check(rejectedSamples === 0, `${rejectedSamples} simulator samples rejected`);
      report.check(accepted > 0, 'nothing was acknowledged');
      const cmp = compare(ledger, await storedPerWindow(influx, db, ledger));
      reportComparison(report, cmp);
      const dropped = (metricValue(text, 'qoswatch_spool_dropped_points_total') ?? 0) + (metricValue(after, 'qoswatch_spool_dropped_points_total') ?? 0);
      report.check(dropped === 0, `${dropped} points dropped from the spool`);
    },
    async () => {
      sampling = false;
      await sampler;
      await fleet?.destroy();
      await influx?.destroy();
    },
  );
}

import { InfluxServer } from '../test/helpers/influxd.js';
import { metricValue, metricsText } from '../test/helpers/metrics.js';
import {
  Counter, DRILL_WINDOW_MS, type DrillResult, type Log, Report, SERVICE_ENV, compare, fmt, influxEnv, mib, ms, reportComparison, runDrill, sleep, storedPerWindow,
} from './common.js';
import { Loader } from './loader.js';
import { Fleet, INGEST_KEY } from './services.js';

export interface OutageOptions {
  /** How long InfluxDB is down, ms. */
  outageMs: number;
  sessions: number;
  intervalMs: number;
  /** Load before the outage and after InfluxDB is back, ms. */
  warmMs: number;
  afterMs: number;
  seed: number;
  log?: Log;
}

export const OUTAGE_DEFAULTS: OutageOptions = { outageMs: 300_000, sessions: 6000, intervalMs: 2000, warmMs: 10_000, afterMs: 15_000, seed: 20 };

const REGIONS = ['eu-west', 'us-east', 'ap-south'] as const;

/** One look at the service's /metrics and /readyz. */
interface Probe {
  at: number;
  depth: number;
  bytes: number;
  written: number;
  writeErrors: number;
  ready: string;
}

async function probe(url: string): Promise<Probe> {
  const text = await metricsText(url);
  const sum = (name: string) =>
    text.split('\n').filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`)).reduce((a, l) => a + Number(l.split(' ').at(-1)), 0);
  let ready = 'no answer';
  try {
    const r = await fetch(`${url}/readyz`);
    const body = (await r.json()) as { storage?: string };
    ready = `${r.status} ${body.storage ?? ''}`.trim();
  } catch {
    /* no answer */
  }
  return {
    at: Date.now(),
    depth: metricValue(text, 'qoswatch_spool_depth_points') ?? 0,
    bytes: metricValue(text, 'qoswatch_spool_depth_bytes') ?? 0,
    written: metricValue(text, 'qoswatch_influx_points_written_total') ?? 0,
    writeErrors: sum('qoswatch_influx_write_errors_total'),
    ready,
  };
}

/**
 * InfluxDB stopped under load for `outageMs`, then started again: the service keeps acknowledging telemetry,
 * spools the closed windows on disk, stays ready (`spooling`), and replays the spool in order when InfluxDB is back.
 * Every acknowledged sample must be in InfluxDB at the end.
 */
export async function drillOutage(opts: Partial<OutageOptions> = {}): Promise<DrillResult> {
  const o = { ...OUTAGE_DEFAULTS, ...opts };
  const log = o.log ?? (() => {});
  const report = new Report('outage', `InfluxDB stopped for ${ms(o.outageMs)} under load (${fmt(o.sessions)} simulated sessions beaconing every ${ms(o.intervalMs)}), then started again`);
  let influx: InfluxServer | undefined;
  let fleet: Fleet | undefined;
  let loader: Loader | undefined;
  let probing = false;
  let prober: Promise<void> | undefined;

  return runDrill(
    report,
    async () => {
      influx = await InfluxServer.launch();
      const db = 'drill_outage';
      await influx.createDb(db);
      fleet = new Fleet({ ...SERVICE_ENV, ...influxEnv(influx, db), QOSWATCH_LOG_LEVEL: 'warn' }, log);
      const svc = await fleet.start();
      const url = svc.url;
      const f = fleet;
      loader = new Loader({ url: () => f.url, key: INGEST_KEY, regions: REGIONS, sessions: o.sessions, intervalMs: o.intervalMs, seed: o.seed, batch: 250, maxInFlight: 8, windowMs: DRILL_WINDOW_MS });
      loader.start();

      // watch the spool and readiness every 250 ms
      const probes: Probe[] = [];
      probing = true;
      prober = (async () => {
        while (probing) {
          try {
            probes.push(await probe(url));
          } catch {
            /* a missed probe */
          }
          await sleep(250);
        }
      })();

      await sleep(o.warmMs);
      const beforePeak = Math.max(0, ...probes.map((p) => p.depth));
      const acceptedBefore = loader.acceptedSamples;
      const down = Date.now();
      await influx.stop();
      log(`outage: InfluxDB stopped for ${ms(o.outageMs)}`);
      await sleep(o.outageMs);
      const acceptedDuring = loader.acceptedSamples - acceptedBefore;
      const up = Date.now();
      await influx.start();
      log('outage: InfluxDB started again');
      // replayed: the spool is back to its level before the outage (the load keeps adding points)
      let replayMs: number | undefined;
      const replayDeadline = Date.now() + Math.max(120_000, o.outageMs);
      while (Date.now() < replayDeadline) {
        const p = await probe(url);
        if (p.depth <= beforePeak) {
          replayMs = Date.now() - up;
          break;
        }
        await sleep(100);
      }
      log(`outage: spool replayed in ${replayMs === undefined ? 'NOT within the deadline' : ms(replayMs)}`);
      await sleep(o.afterMs);
      const loadSeconds = (Date.now() - loader.startedAt) / 1000;
      const offered = loader.offeredRate();
      await loader.stop(60_000);
      probing = false;
      await prober;

      const during = probes.filter((p) => p.at > down && p.at < up);
      const readiness = new Counter();
      for (const p of during) readiness.add(p.ready);
      const peak = during.reduce((m, p) => (p.depth > m.depth ? p : m), { depth: 0, bytes: 0 } as Pick<Probe, 'depth' | 'bytes'>);
      const last = probes.at(-1);
      const writeErrors = (last?.writeErrors ?? 0) - (probes[0]?.writeErrors ?? 0);

      // close and ship every window: graceful stop, a last start to drain what the shutdown left, count
      const { metrics: text } = await fleet.stopAndDrain(report, 'drill');
      const dropped = metricValue(text, 'qoswatch_spool_dropped_points_total') ?? 0;
      const refused = metricValue(text, 'qoswatch_influx_points_rejected_total') ?? 0;

      report.figure('InfluxDB down for', ms(up - down));
      report.figure('load: simulated samples/s offered, over', `${fmt(offered)} /s over ${fmt(loadSeconds, 1)} s (${REGIONS.length} regions, batches ≤ 250)`);
      report.figure('samples acknowledged while InfluxDB was down', acceptedDuring);
      report.figure('HTTP statuses', loader.statuses.text());
      report.figure('spool depth before the outage (peak)', `${fmt(beforePeak)} points`);
      report.figure('**spool depth peak** during the outage', `${fmt(peak.depth)} points, ${mib(peak.bytes)}`);
      report.figure('InfluxDB write errors counted during the drill', writeErrors);
      report.figure('/readyz during the outage', readiness.text());
      report.figure('**replay time** (InfluxDB back → spool at its pre-outage level)', replayMs === undefined ? 'not within the deadline' : ms(replayMs));
      report.figure('replay rate', replayMs ? `${fmt(peak.depth / (replayMs / 1000))} points/s` : '—');
      report.check(replayMs !== undefined, 'the spool was not replayed after InfluxDB came back');
      report.check(during.length > 0 && during.every((p) => p.ready.startsWith('200')), `/readyz was not 200 throughout the outage: ${readiness.text()}`);
      report.check(peak.depth > beforePeak, `the spool did not grow during the outage (peak ${peak.depth}, before ${beforePeak}): was InfluxDB really down?`);
      report.check(loader.rejectedSamples === 0, `the service rejected ${fmt(loader.rejectedSamples)} simulator samples: ${loader.firstRejection}`);
      report.check(loader.unsent === 0, `${fmt(loader.unsent)} generated samples were never taken by the service`);
      report.check(acceptedDuring > 0, 'no telemetry was acknowledged while InfluxDB was down');
      const cmp = compare(loader.ledger, await storedPerWindow(influx, db, loader.ledger));
      reportComparison(report, cmp);
      report.figure('spool points dropped / refused by InfluxDB', `${fmt(dropped)} / ${fmt(refused)}`);
      report.check(dropped === 0 && refused === 0, `points lost on the way to InfluxDB: ${dropped} dropped from the spool, ${refused} refused`);
      const errors = fleet.errorLines();
      report.figure('error-level log lines', errors.length);
    },
    async () => {
      probing = false;
      await prober;
      await loader?.stop(0).catch(() => {});
      await fleet?.destroy();
      await influx?.destroy();
    },
  );
}

import { HAVE_INFLUXD, InfluxServer, NO_INFLUXD_MESSAGE } from '../test/helpers/influxd.js';
import { ServiceProcess } from '../test/helpers/service.js';
import { tempDir } from '../test/helpers/tmp.js';
import { benchDetection, detectionTable } from './detection.js';
import { type IngestResult, httpLoad, ingestTable, wsLoad } from './ingest.js';
import { influxLoad, victoriaLoad } from './peers.js';
import { HAVE_VICTORIA, NO_VICTORIA_MESSAGE, VictoriaServer } from './victoria.js';
import { appendReport } from './machine.js';
import { type ScaleRow, scaleRun, scaleTable } from './scale.js';
import { benchValidation } from './validation.js';
import { peerDetectionSection } from './peer-detection-section.js';

/**
 * `npm run bench`: validation cost; detection in process and against the peer stack; ingest throughput of the
 * built service (one process, so one core for its JavaScript) beside InfluxDB and VictoriaMetrics; the scale of
 * state. Results are appended to BENCHMARKS.md. BENCH_ONLY=detection|peers|ingest|scale runs one part.
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ONLY = process.env.BENCH_ONLY;

async function main(): Promise<void> {
  if (ONLY === 'peers') return appendReport('Detection to page against peers', await peerDetectionSection());
  if (ONLY === 'scale') return appendReport('Scale of state', await scaleSection());
  if (ONLY === 'ingest') return appendReport('Ingest beside peers', await ingestSection());
  const sections: string[] = [];
  console.log('validation…');
  sections.push('### Sample validation (per sample)\n\n' + benchValidation());
  console.log('detection: sample → incident → page…');
  const detection = await benchDetection(Number(process.env.BENCH_TRIALS ?? 50));
  sections.push(
    '### Detection: breaching sample → incident event → page (in process, rule "stall ratio > 5 % over the last two 5 s windows", no `for`)\n\n' +
      detectionTable(detection) +
      '\n\nFrom just before the HTTP request is sent to the `opened` event on the incident bus (HTTP, validation, journal commit, aggregation, rule evaluation, the SQLite transaction that stores the alert and the incident), and to the page arriving at a signed-webhook receiver on loopback (outbox row, rendering, signing, delivery). The same against the peer stack, with the service as its own process and email too, follows.',
  );
  if (ONLY === 'detection') return appendReport('Detection in process', sections.join('\n\n'));
  console.log('detection against the peer stack…');
  sections.push(await peerDetectionSection());
  sections.push(await ingestSection());
  sections.push(await scaleSection());
  appendReport('Validation, detection, ingest and scale (evaluation on, shipped rules)', sections.join('\n\n'));
  console.log('appended to BENCHMARKS.md');
}

/** Ingest throughput of the built service, then the peers on the same beacons. */
async function ingestSection(): Promise<string> {
  let influx: InfluxServer | undefined;
  const env: Record<string, string> = { QOSWATCH_LOG_LEVEL: 'warn', QOSWATCH_RATE_LIMIT: '1000000/1s' };
  if (HAVE_INFLUXD) {
    influx = await InfluxServer.launch();
    await influx.createDb('bench');
    Object.assign(env, { INFLUX_URL: influx.url, INFLUX_API: 'v1', INFLUX_DB: 'bench' });
  } else {
    console.warn(NO_INFLUXD_MESSAGE);
  }
  const rows: IngestResult[] = [];
  const run = async (what: (svc: ServiceProcess) => Promise<IngestResult>, extraEnv: Record<string, string> = {}) => {
    const svc = new ServiceProcess({ ...env, ...extraEnv });
    await svc.start();
    try {
      const r = await what(svc);
      console.log(`${r.label}: ${Math.round(r.samplesPerSec)} samples/s, p99 ${r.p99ms.toFixed(1)} ms`);
      rows.push(r);
      return r;
    } finally {
      await svc.stop('SIGTERM');
      svc.cleanup();
    }
  };
  try {
    const h100 = await run((svc) => httpLoad(svc, 100, SECONDS));
    // The same load with no rules (an empty rules dir): what streaming evaluation of the shipped rules costs.
    const noRules = tempDir('bench-no-rules');
    const off = await run((svc) => httpLoad(svc, 100, SECONDS), { QOSWATCH_RULES_DIR: noRules });
    off.label += ', no rules loaded';
    const h1000 = await run((svc) => httpLoad(svc, 1000, SECONDS, { concurrency: 8 }));
    for (const [base, batch] of [[h100, 100], [h1000, 1000]] as const) {
      for (const share of [0.5, 0.9]) {
        const r = await run((svc) => httpLoad(svc, batch, SECONDS, { targetRps: base.requestsPerSec * share, concurrency: 64 }));
        r.label = `HTTP, batches of ${batch}, open loop at ${share * 100} % of max`;
      }
    }
    await run((svc) => wsLoad(svc, 100, SECONDS));
    await run((svc) => wsLoad(svc, 1000, SECONDS, 4, 4));
    if (influx) {
      // The peer: the same beacons written straight to InfluxDB 1.x as line protocol (no validation, no
      // aggregation), so the qoswatch rows can be read against what the storage alone sustains here.
      for (const batch of [1000, 5000]) {
        await influx.createDb(`peer${batch}`);
        const r = await influxLoad(influx, `peer${batch}`, batch, SECONDS);
        console.log(`${r.label}: ${Math.round(r.samplesPerSec)} samples/s`);
        rows.push(r);
      }
    } else {
      console.warn('peer InfluxDB skipped: influxd is not installed');
    }
    if (HAVE_VICTORIA) {
      for (const batch of [1000, 5000]) {
        const vm = await VictoriaServer.launch();
        try {
          const r = await victoriaLoad(vm, batch, SECONDS);
          console.log(`${r.label}: ${Math.round(r.samplesPerSec)} samples/s`);
          rows.push(r);
        } finally {
          await vm.destroy();
        }
      }
    } else {
      console.warn(NO_VICTORIA_MESSAGE);
    }
  } finally {
    await influx?.destroy();
  }
  return (
    `### Ingest throughput (loopback; the service is one Node.js process; InfluxDB writer ${influx ? 'on (real influxd 1.x)' : 'OFF: influxd not installed'})\n\n` +
      ingestTable(rows) +
      (influx ? '' : '\n\nPeer InfluxDB row missing: influxd was not installed for this run.') +
      (HAVE_VICTORIA ? '' : '\n\nPeer VictoriaMetrics rows missing: victoria-metrics was not installed for this run (bench/setup).') +
      '\n\nClosed loop = as fast as the server answers (16 HTTP requests or 4 × 16 WebSocket frames in flight); open loop = requests on a fixed schedule, latency includes queueing. "server CPU" is the process under test (qoswatch, or influxd for the peer rows; above 100 % means several threads). Every qoswatch row evaluates the shipped rules (`alert-rules/`) on the stream, except the one marked \"no rules loaded\". The peer rows store raw points only — no validation, no aggregation, no journal; VictoriaMetrics gets the numeric fields only (no session id).'
  );
}

/** The V8 heap sizing README.md (Operations, Memory) recommends for 10 k series and 100 k sessions. */
export const SIZED_HEAP = '--max-old-space-size=256 --max-semi-space-size=4';

/**
 * Scale of state: series at a fixed 10 k sessions, sessions at a fixed 1 k series, and the brief's memory target
 * (10 k series, 100 k sessions), that one also with the recommended heap sizing. Each fills for the longest rule
 * window plus 30 s (steady state: every kept window is held); runs go two at a time (separate processes: RSS is per
 * process; evaluation times share the cores).
 */
async function scaleSection(): Promise<string> {
  const fill = Number(process.env.BENCH_SCALE_FILL ?? 150);
  const configs: [number, number, string?][] = [
    [1000, 10_000], [1000, 1_000_000], [10_000, 10_000], [1000, 100_000], [100_000, 10_000], [10_000, 100_000], [10_000, 100_000, SIZED_HEAP],
  ];
  const rows: ScaleRow[] = [];
  for (let i = 0; i < configs.length; i += 2) {
    const pair = configs.slice(i, i + 2);
    console.log(`scale: ${pair.map(([s, m, h]) => `${s} series × ${m} sessions${h ? ` (${h})` : ''}`).join(', ')} (${fill + 20} s)…`);
    rows.push(...(await Promise.all(pair.map(([s, m, h]) => scaleRun(s, m, fill, 20, h ? { NODE_OPTIONS: h } : {})))));
  }
  rows.sort((a, b) => a.series - b.series || a.sessions - b.sessions || (a.nodeOptions ?? '').localeCompare(b.nodeOptions ?? ''));
  return (
    '### Scale of state (the built service, shipped rules, no InfluxDB)\n\n' +
    scaleTable(rows) +
    `\n\nEach run streams samples so that every (region, dimension value) series gets samples in every 10 s window and every session reports every 20 s, for ${fill} s (the shipped rules read 2 minutes back, so every kept window is held) and then 20 s measured. Series = regions × (1 + 5 dimensions × values); RSS and heap at the end, evaluation passes of the last 20 s (mean; p99 as the histogram bucket bound). Two runs share the machine at a time. "V8 heap" is the default (sized by V8 from this machine's memory: it lets garbage build up to several times the live state before collecting) unless NODE_OPTIONS is shown.`
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

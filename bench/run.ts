import { clusterSection } from './cluster.js';
import { benchDetection, detectionTable } from './detection.js';
import { ingestSection } from './ingest-section.js';
import { type Headline, fmt, replaceInLatest, writeReport } from './machine.js';
import { type ScaleRow, scaleRun, scaleTable } from './scale.js';
import { benchValidation } from './validation.js';
import { peerDetectionSection } from './peer-detection-section.js';
import type { PeerDetectionRow } from './peer-detection.js';

/**
 * `npm run bench`: validation cost; detection in process and against the peer stack; steady-state ingest of the
 * built service (one process, so one core for its JavaScript) beside InfluxDB, VictoriaMetrics and the bare stack's
 * ceiling, in interleaved rounds (bench/ingest-section.ts); the scale of state. A full run replaces the latest run in
 * BENCHMARKS.md and adds its headline figures to the History table; BENCH_ONLY=detection|peers|ingest|scale
 * measures one part again and replaces that part of the latest run (cluster: the scaling of the cluster mode).
 */
const ONLY = process.env.BENCH_ONLY;

async function main(): Promise<void> {
  if (ONLY === 'peers') return replaceInLatest((await peerDetectionSection()).md);
  if (ONLY === 'scale') return replaceInLatest((await scaleSection()).md);
  if (ONLY === 'ingest') return replaceInLatest((await ingestSection()).md);
  if (ONLY === 'cluster') return replaceInLatest((await clusterSection()).md);
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
  if (ONLY === 'detection') return replaceInLatest(sections.join('\n\n'));
  console.log('detection against the peer stack…');
  const peers = await peerDetectionSection();
  const ingest = await ingestSection();
  const scale = await scaleSection();
  const cluster = await clusterSection();
  sections.push(peers.md, ingest.md, scale.md, cluster.md);
  writeReport('Validation, detection, ingest and scale (evaluation on, shipped rules)', sections.join('\n\n'), headline(peers.rows, ingest, scale.rows));
  console.log('written to BENCHMARKS.md');
}

/** One History line: the figures a reader compares run to run. */
function headline(peers: readonly PeerDetectionRow[], ingest: { headline: string; peers: string }, scale: readonly ScaleRow[]): Headline {
  const ms = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '—' : v < 1000 ? `${fmt(v, 1)} ms` : `${fmt(v / 1000, 2)} s`);
  const webhook = (system: string) => peers.find((r) => r.channel === 'webhook' && r.system.startsWith(system));
  const q = webhook('qoswatch');
  const t = webhook('VictoriaMetrics + vmalert + Alertmanager, tuned');
  const sized = scale.find((r) => r.series === 10_000 && r.sessions === 100_000 && r.nodeOptions === SIZED_HEAP);
  return {
    detection: `${ms(q?.p50)} / ${ms(q?.p90)} · ${ms(t?.p50)} / ${ms(t?.p90)}`,
    ingest: ingest.headline,
    peers: ingest.peers,
    memory: sized ? `${fmt(sized.rssMiB)} MiB (peak ${fmt(sized.peakRssMiB)})` : '—',
  };
}

/** The V8 heap sizing README.md (Operations, Memory) recommends for 10 k series and 100 k sessions. */
export const SIZED_HEAP = '--max-old-space-size=256 --max-semi-space-size=4';

/**
 * Scale of state: series at a fixed 10 k sessions, sessions at a fixed 1 k series, and the brief's memory target
 * (10 k series, 100 k sessions), that one also with the recommended heap sizing. Each fills for the longest rule
 * window plus 30 s (steady state: every kept window is held); runs go two at a time (separate processes: RSS is per
 * process; evaluation times share the cores).
 */
async function scaleSection(): Promise<{ md: string; rows: ScaleRow[] }> {
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
  const md =
    '### Scale of state (the built service, shipped rules, no InfluxDB)\n\n' +
    scaleTable(rows) +
    `\n\nEach run streams samples so that every (region, dimension value) series gets samples in every 10 s window and every session reports every 20 s, for ${fill} s (the shipped rules read 2 minutes back, so every kept window is held) and then 20 s measured. Series = regions × (1 + 5 dimensions × values); RSS and heap at the end, evaluation passes of the last 20 s (mean; p99 as the histogram bucket bound). Two runs share the machine at a time. "V8 heap" is the default (its limit sized by V8 from this machine's memory; qoswatch's QOSWATCH_HEAP_GROWTH of 50 % has it collect once the heap is 1.5 × what survived the last collection) unless NODE_OPTIONS is shown.`;
  return { md, rows };
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

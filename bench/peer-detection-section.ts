import { PEER_FLAGS, type PeerDetectionRow, QOSWATCH_ENV, VIEWERS, benchPeerDetection } from './peer-detection.js';

/**
 * Detection-to-page against the peer stack (`BENCH_ONLY=peers npm run bench` runs it alone).
 * BENCH_PEER_TRIALS (default 30): trials of qoswatch and of the tuned peer; BENCH_DEFAULT_TRIALS (default the
 * same): concurrent trials of the peer with its defaults; BENCH_PEER_RUNS (default "qoswatch,cluster,tuned,defaults").
 */
const trials = Number(process.env.BENCH_PEER_TRIALS ?? 30);
const defaultsTrials = Number(process.env.BENCH_DEFAULT_TRIALS ?? trials);
const runs = (process.env.BENCH_PEER_RUNS ?? 'qoswatch,cluster,tuned,defaults').split(',').map((s) => s.trim()) as ('qoswatch' | 'cluster' | 'tuned' | 'defaults')[];

export const PEER_DETECTION_METHOD = `Same rule, same stream, same receivers. Rule: stall ratio Σstall_ms / Σ(play_ms + stall_ms) per region over the last 5 s above 5 %, no \`for\`. Each trial is a fresh region of ${VIEWERS} viewers beaconing every second (\`ts\` = start of the second just played): healthy (1 % stall) for a few seconds, then from t0 every beacon stalls 60 %, so the first breaching batch alone lifts the 5 s ratio to ≈ 12.8 %; it keeps breaching until both pages arrive. Latency = arrival at the loopback receiver (webhook request read; the SMTP message's final "." read, by a minimal SMTP server that greets at once — the tests' smtp-server sink waits 100 ms before every greeting) − t0, taken just before the first breaching batch is sent, one monotonic clock. qoswatch and the tuned peer: one trial every 2 s at a random phase; the peer with defaults: all trials concurrently, spread over one evaluation minute.
qoswatch: the built service as its own process (\`dist/cli.js serve\`), \`POST /v1/telemetry\`, rule \`metric: stall_ratio, window: 5s, thresholds: {P1: "> 0.05"}, for: 0s, clear_for: 5s, min_samples/min_sessions: 0\`, ${Object.entries(QOSWATCH_ENV).filter(([k]) => k !== 'QOSWATCH_LOG_LEVEL').map(([k, v]) => `\`${k}=${v}\``).join(', ')} (1 s windows so the 5 s rule reads five of them, like a \`[5s]\` range; rules are evaluated per batch, so the window size does not speed detection up; the chat throttle is raised from its Slack-minded 1/s so overlapping trials do not queue behind each other's notices), one person on call paged at once (P1) by a signed generic webhook and by email (SMTP_URL). qoswatch cluster: the same service and settings as three processes with every role (\`QOSWATCH_MODE=cluster\`) over the machine's PostgreSQL 15 and NATS JetStream (16 partitions, one replica), the beacons posted to the three in turn: a sample goes collector → JetStream → the partition's owner → PostgreSQL (alert, incident, timeline) → NOTIFY → the leader's pager.
Peer (Debian victoria-metrics 1.79 with vmalert, prometheus-alertmanager 0.25; \`bench/setup\` installs them), on loopback with temp dirs: the same beacons as InfluxDB line protocol to VictoriaMetrics \`/write?precision=ms\` (one point per beacon at its \`ts\`, viewer as a label); vmalert rule \`sum by (region) (sum_over_time(qos_stall_ms[5s])) / (sum by (region) (sum_over_time(qos_play_ms[5s])) + sum by (region) (sum_over_time(qos_stall_ms[5s]))) > 0.05\`, \`for: 0s\` (the beacons are per-interval amounts, so \`sum_over_time\`, not \`increase\`); Alertmanager \`group_by: [alertname, region]\`, a webhook_config and an email_config (smarthost 127.0.0.1, \`require_tls: false\`), clustering off. Tuned: VictoriaMetrics ${PEER_FLAGS.tuned.vm.map((f) => `\`${f}\``).join(' ')}, vmalert ${PEER_FLAGS.tuned.vmalert.map((f) => `\`${f}\``).join(' ')}, Alertmanager \`group_wait: 0s\`, \`group_interval: 1s\`. Defaults: latency offset 30 s, evaluation every 1 min, \`group_wait\` 30 s, \`group_interval\` 5 m. Beacons are stamped with the start of their interval, which is 1 s old when sent: this exactly absorbs the tuned peer's 1 s latency offset (stamped at the end, they would wait one more second). With the defaults, vmalert aligns each query's \`time\` to its 1 min interval and VictoriaMetrics moves a query time back to now − 30 s only when it lies within 30 s of now, so the rule reads a 5 s slice of data 30–60 s old (depending on the phase vmalert's group started at, reported with the table), once a minute, and Alertmanager then waits \`group_wait\` 30 s; a 5 s range read once a minute would miss a one-beacon breach most of the time, which is why the breach lasts until paged. First trials include cold starts (no warm-up is discarded for any system).`;

/** The BENCHMARKS.md section — the table, trials without a page, this run's notes, the method — and its rows. */
export async function peerDetectionSection(): Promise<{ md: string; rows: PeerDetectionRow[] }> {
  const { table, rows } = await benchPeerDetection(trials, { defaultsTrials, runs });
  console.log(`\n${table}\n`);
  const failures = [...new Set(rows.flatMap((r) => r.failures.map((f) => `${r.system}, ${r.channel}: ${f}`)))];
  const notes = [...new Set(rows.flatMap((r) => (r.note ? [`${r.system}: ${r.note}`] : [])))];
  const md =
    '### Detection to page: qoswatch against VictoriaMetrics + vmalert + Alertmanager (loopback webhook and SMTP)\n\n' +
    table +
    (failures.length ? `\n\nTrials without a page (not in the percentiles): ${failures.join('; ')}.` : '') +
    (notes.length ? `\n\nThis run: ${notes.join('; ')}.` : '') +
    '\n\n' +
    PEER_DETECTION_METHOD;
  return { md, rows };
}

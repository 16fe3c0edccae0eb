import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machineLine } from '../bench/machine.js';
import { HAVE_INFLUXD, NO_INFLUXD_MESSAGE } from '../test/helpers/influxd.js';
import { drillCardinality } from './cardinality.js';
import { drillCluster } from './cluster.js';
import { type DrillResult, type Log, figuresTable, ms } from './common.js';
import { drillFuzz } from './fuzz.js';
import { drillKill9 } from './kill9.js';
import { drillOutage } from './outage.js';
import { drillOverload } from './overload.js';
import { drillPaging } from './paging.js';

/**
 * `npm run drills`: runs the reliability drills against the built service (dist/), prints each result, puts it in
 * RELIABILITY.md as that drill's latest result (with a line in the History table) and exits 1 if any drill failed. Parameters come from the environment; the
 * defaults are the issue's (see HEADER).
 */

const env = process.env;
const num = (name: string, dflt: number): number => {
  const v = env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) {
    process.stderr.write(`${name}=${v} is not a number\n`);
    process.exit(2);
  }
  return n;
};

export const PARAMS = {
  kills: num('DRILL_KILLS', 20),
  killUpMinMs: num('DRILL_KILL_UP_MIN_MS', 2000),
  killUpMaxMs: num('DRILL_KILL_UP_MAX_MS', 5000),
  killSessions: num('DRILL_KILL_SESSIONS', 6000),
  outageSeconds: num('DRILL_OUTAGE_SECONDS', 300),
  outageSessions: num('DRILL_OUTAGE_SESSIONS', 6000),
  pagingOutageSeconds: num('DRILL_PAGING_OUTAGE_SECONDS', 20),
  pagingKill: num('DRILL_PAGING_KILL', 1) !== 0,
  overloadFactor: num('DRILL_OVERLOAD_FACTOR', 3),
  overloadSeconds: num('DRILL_OVERLOAD_SECONDS', 30),
  fuzzCases: num('DRILL_FUZZ_CASES', 100_000),
  lorisConnections: num('DRILL_LORIS_CONNECTIONS', 50),
  lorisSeconds: num('DRILL_LORIS_SECONDS', 70),
  cardinalityAttackers: num('DRILL_CARDINALITY_ATTACKERS', 3),
  cardinalityRounds: num('DRILL_CARDINALITY_ROUNDS', 4),
  clusterNodes: num('DRILL_CLUSTER_NODES', 3),
  clusterSessions: num('DRILL_CLUSTER_SESSIONS', 6000),
  clusterGapMs: num('DRILL_CLUSTER_GAP_MS', 6000),
  seed: num('DRILL_SEED', 20),
};

const HEADER = `# Reliability drills

Produced by \`npm run drills\` (\`drills/\`): the latest result of each drill in full, and one line per drill run in the
History table (newest first). Every drill runs the built
service (\`node dist/cli.js serve\`) as a real process on loopback with the telemetry simulator's population
(\`src/simulator\`), a real InfluxDB 1.x (\`influxd\`, \`INFLUX_API=v1\`), a real SMTP server and HTTP receivers standing
in for chat endpoints, and fails loudly — the run exits 1 — when data is lost or a check does not hold.

**Counting "lost = 0".** The drills' sender keeps, per (region, 1 s window), the samples the service acknowledged
(the \`accepted\` of each \`202\`). A request cut by a crash has an unknown outcome (it may have been journaled): its
samples are counted *in doubt* and the same batch is sent again. The service does not deduplicate a resent batch (a
sample's identity is its journal row and index), so an acknowledged resend counts as accepted and InfluxDB may hold
up to the in-doubt samples more. After the load, windows are closed and shipped (graceful stop, restart, wait for
\`qoswatch_spool_depth_points\` = 0), then per window: **lost** = acknowledged − stored when positive (must be 0), and
stored must not exceed acknowledged + in doubt (else samples were counted twice). Samples are Σ \`samples\` of
\`qos_region\`, late points included. Drills use 1 s windows with 3 s of grace so windows close quickly (the
cardinality drill uses the default 10 s windows: the memory a series costs is its windows).

| drill | what it does | passes when | parameters (environment, default) |
| --- | --- | --- | --- |
| \`kill9\` | simulator load over HTTP; \`kill -9\` the service after a random uptime, restart on the same data dir, again and again; a stall storm starts in one region a third of the way in (rule: stall ratio > 10 % over 3 s, P1, at once) | lost = 0, nothing counted twice; exactly one incident in the storm region, none elsewhere, one \`opened\` entry; alice gets exactly one \`opened\` page per channel (ops-hook webhook by Idempotency-Key, email by Message-ID); every SIGTERM exits 0 | \`DRILL_KILLS\` (20), \`DRILL_KILL_UP_MIN_MS\`/\`DRILL_KILL_UP_MAX_MS\` (2000/5000), \`DRILL_KILL_SESSIONS\` (6000: ≈ 3 k samples/s) |
| \`outage\` | simulator load; InfluxDB stopped (SIGTERM) for the outage, then started again | lost = 0; no spool drops; \`/readyz\` stays 200 (\`spooling\`) during the outage; reports spool depth peak and replay time (InfluxDB back → spool empty) | \`DRILL_OUTAGE_SECONDS\` (300), \`DRILL_OUTAGE_SESSIONS\` (6000) |
| \`paging\` | two incidents (P2: one channel at a time with fallback; P1: every channel at once) while SMTP is down (port closed), a generic webhook answers 500 and a WeCom robot answers HTTP 200 with \`errcode\` 45009; one chat webhook works; the service is killed (-9) once in the middle; then everything recovers | each page is delivered via the working channel at once, every delayed one after recovery, each exactly once per key / Message-ID | \`DRILL_PAGING_OUTAGE_SECONDS\` (20: within the 8-attempt retry budget of about 1–2 min), \`DRILL_PAGING_KILL\` (1) |
| \`overload\` | measures the maximum ingest of the simulator's beacons (closed loop, 64 requests in flight, batches of 500, shipped rules evaluated, per-key rate limit lifted so the overload guards are what sheds), then offers \`factor\` × that in open loop (requests start on a fixed schedule) over up to 4096 client connections, as many SDKs would | statuses only 202 / 429 / 503 and some 429/503 at all, every 429 with Retry-After, no connection reset, RSS under baseline + \`QOSWATCH_MAX_PENDING_BYTES\` + \`QOSWATCH_MAX_INFLIGHT\` × 4 × body size (raw body, its string and the parsed samples of every request in flight), process alive, lost = 0 | \`DRILL_OVERLOAD_FACTOR\` (3), \`DRILL_OVERLOAD_SECONDS\` (30) |
| \`cardinality\` | three hostile tenants (their public keys) send the cardinality product of issue 14 at once — every one of 500 regions × 100 values in every dimension (50 k samples a round, values new each round, + 20 % late samples spread over the past hour), each sample a new session claiming a 1 h interval, refused batches resent after Retry-After — against the Docker image's heap (\`--max-old-space-size=512\`), at the service's default 10 s windows, while an honest tenant beacons and InfluxDB is down with a 16 MiB spool; then \`kill -9\` and a restart (the journal replay takes the attack again) | the service stays up through the attack and the restart; each hostile tenant holds at most its series budget (+ its region \`other\`) and its sessions budget, all tenants at most the global ceiling; the excess is counted per tenant in \`/metrics\`; the honest tenant: no budget excess, no spool point dropped, no sample rejected, lost = 0; the attack gets only 202 and 429 | \`DRILL_CARDINALITY_ATTACKERS\` (3), \`DRILL_CARDINALITY_ROUNDS\` (4) |
| \`fuzz\` | fast-check bodies over HTTP (mutated samples, wrong types, huge numbers, NaN strings, nesting up to 10 k, long strings, unknown fields, bad UTF-8, random bytes, wrong content types and encodings, gzip bombs, truncated gzip), WebSocket frames (garbage, oversized, bad JSON, bad UTF-8), slow-loris connections (half dribbling headers, half a body), then \`QOSWATCH_MAX_INFLIGHT\` + 8 connections dribbling a body with a valid key | no 5xx and no dropped connection, every 4xx a JSON \`{error, message}\`, every 202 a well-formed verdict (accepted + rejected = sent, each rejection with path and message), the status the contract gives each case; WebSocket: an ack or \`bad_request\` per frame, closes only with 1007/1009; the service stays up and keeps answering probes (\`/healthz\` and a telemetry POST every 500 ms) while slow clients are connected; every accepted sample reaches InfluxDB, none refused | \`DRILL_FUZZ_CASES\` (100000), \`DRILL_LORIS_CONNECTIONS\` (50), \`DRILL_LORIS_SECONDS\` (70: past Node's 60 s header timeout) |
| \`cluster\` | 3 qoswatch processes (every role) over the machine's PostgreSQL and NATS JetStream (a schema and streams of their own), 8 partitions, lease TTL 2 s; the simulator's load round-robin over the live nodes, each batch with an Idempotency-Key, and a stall storm in one region; then, a gap apart: \`kill -9\` the storm region's partition owner, the leader and a random node (each restarted after the gap), SIGSTOP the storm region's owner for 2 × TTL then SIGCONT (a zombie), every PostgreSQL connection of the nodes cut, InfluxDB stopped for 5 s | lost = 0 and nothing stored twice (a resent batch is deduplicated by its key); exactly one incident in the storm region, none elsewhere, one \`opened\` entry; alice one \`opened\` page per channel (key, Message-ID); the zombie's stale writes refused by the fence (counted); every partition owned by exactly one live node at the end; each killed node's partitions taken over within TTL + 5 s; every SIGTERM exits 0 | \`DRILL_CLUSTER_NODES\` (3), \`DRILL_CLUSTER_SESSIONS\` (6000), \`DRILL_CLUSTER_GAP_MS\` (6000) |

The \`cardinality\` drill checks the [tenant budgets](README.md#tenant-budgets): per tenant, series (12 k), points per
window (24 k) and live sessions (120 k), under global ceilings sized from the heap (22 k series and 268 k sessions
for a 512 MB heap) and shared fairly; dimension values that age out (\`QOSWATCH_DIM_TTL\`); a spool that drops the
largest holder's points first. Beyond a budget a tenant's samples fold into \`other\` or into region totals, or its
batches get \`429 over_budget\`, each counted in \`qoswatch_tenant_budget_exceeded_total\`.

**Beyond the drills (issue 14: an outside review, a real browser and real players).** What an attacker holding a
public ingest key, a slow endpoint or a crash could break before, and the test that holds each now:

| what holds | tested by |
| --- | --- |
| sketch memory per series is bounded whatever the numbers (values ≤ 1 µs count as 0, at most 1 024 bins, the lowest collapsing) | property test over random finite doubles (\`test/unit/sketch.test.ts\`); a 2 000-sample hostile POST against a 96 MiB heap, then kill -9 and restart (\`test/integration/replay-process.test.ts\`) |
| a journal row that fails, or kills the process, on replay is quarantined (kept, counted, logged), never a crash loop | \`test/integration/replay-process.test.ts\` (the built service); \`qoswatch journal quarantined\` / \`requeue\` |
| journal segment files: a record torn by a crash mid-write is cut off at start, a damaged one (length or CRC) with whole ones after it is skipped and counted, never a failed start; seqs never reused across restarts and deleted segments; kill -9 under load loses nothing acknowledged and counts nothing twice, twice over | \`test/unit/ingest-log.test.ts\`; \`test/integration/replay-process.test.ts\` (the built service) |
| per-tenant budgets of series, points per window, live sessions and spool; dimension values age out | the \`cardinality\` drill (above) and \`test/unit/budgets.test.ts\` |
| a hung chat endpoint delays only its own lane; a P0 never waits behind P2s or another tenant's flood; a flood pages as storms within a page budget | \`test/integration/paging-delivery-process.test.ts\` (the built service, real SMTP and receivers) |
| the Acknowledge and Resolve buttons work in a browser; a link is exact, expires, and stops working once its incident reopens | \`test/integration/links-browser.test.ts\` (Debian's Chromium), \`test/unit/links.test.ts\` |
| an incident event is handled once across a crash (cursor in the same transaction); one escalation per opening; outbox, report and readiness claims expire instead of being reset; one active incident per group and one SLA mark per (ticket, target, priority, kind), held by the schema | \`test/unit/follower.test.ts\`, \`test/integration/paging*.test.ts\`, \`test/unit/report-scheduler.test.ts\`, \`test/unit/events.test.ts\`, \`test/unit/incidents.test.ts\`, \`test/integration/sla-watch.test.ts\`, the \`kill9\` and \`paging\` drills |
| an ingest key only ingests; tenants read their tickets with tenant API tokens (hashed, rate-limited, shed), by public ids; /metrics needs a token or its own address; revoking a key closes its WebSockets | \`test/integration/tickets.test.ts\`, \`test/integration/alerting.test.ts\`, \`test/integration/ws-collector.test.ts\` |
| secrets never reach the log (credentials masked after decoding, link tokens in paths); the data dir is 0700 and its files 0600 | \`test/integration/process.test.ts\` (the built service's own output and files) |
| telemetry text reaches chat, email and postmortems as text: no planted link, image, mention or tag on any provider | \`test/integration/paging-markup.test.ts\` (a receiver per provider reading as its client would), \`test/integration/postmortem.test.ts\` |
| defaults that page for nothing: latency judged per delivery class (\`protocol\`), silences and collapses judged against the audience and planned events, planned events leave delivery targets alone | \`test/unit/shipped-rules.test.ts\` (the shipped rules through the real engine on simulated audiences) |

\`DRILLS=kill9,outage\` runs a subset; \`DRILL_SEED\` changes the simulator's seed. A short kill -9 drill, a short
outage drill, a short fuzz run and a short cardinality drill (one hostile tenant, one round) are part of \`npm test\`
(\`test/integration/drills.test.ts\`).
`;

type Runner = (log: Log) => Promise<DrillResult>;

const DRILLS: Record<string, Runner> = {
  kill9: (log) => drillKill9({ kills: PARAMS.kills, upMs: [PARAMS.killUpMinMs, PARAMS.killUpMaxMs], sessions: PARAMS.killSessions, seed: PARAMS.seed, log }),
  outage: (log) => drillOutage({ outageMs: PARAMS.outageSeconds * 1000, sessions: PARAMS.outageSessions, seed: PARAMS.seed, log }),
  paging: (log) => drillPaging({ outageMs: PARAMS.pagingOutageSeconds * 1000, kill: PARAMS.pagingKill, seed: PARAMS.seed, log }),
  overload: (log) => drillOverload({ factor: PARAMS.overloadFactor, seconds: PARAMS.overloadSeconds, log }),
  cardinality: (log) => drillCardinality({ attackers: PARAMS.cardinalityAttackers, rounds: PARAMS.cardinalityRounds, seed: PARAMS.seed, log }),
  fuzz: (log) => drillFuzz({ cases: PARAMS.fuzzCases, lorisConnections: PARAMS.lorisConnections, lorisMs: PARAMS.lorisSeconds * 1000, seed: PARAMS.seed, log }),
  cluster: (log) => drillCluster({ nodes: PARAMS.clusterNodes, sessions: PARAMS.clusterSessions, gapMs: PARAMS.clusterGapMs, seed: PARAMS.seed, log }),
};

/** A result as markdown: title, verdict, figures, failures, notes. */
export function resultMarkdown(r: DrillResult): string {
  const lines = [`### ${r.name}: ${r.passed ? 'PASSED' : '**FAILED**'} (${ms(r.durationMs)})`, '', r.title, '', figuresTable(r)];
  if (r.failures.length) lines.push('', '**Failures:**', '', ...r.failures.map((f) => `- ${f.replace(/\n/g, ' ')}`));
  if (r.notes.length) lines.push('', 'Notes:', '', ...r.notes.map((n) => `- ${n.replace(/\n/g, ' ')}`));
  return lines.join('\n');
}

const LATEST = '## Latest result of each drill';
const HISTORY = '## History';
const HISTORY_HEAD = ['| run (UTC) | commit | drill | verdict | took | failures |', '| --- | --- | --- | --- | --- | ---: |'];

/** RELIABILITY.md with these results as their drills' latest (the others' kept) and a History line each, newest first. */
export function reliabilityDoc(previous: string, results: readonly DrillResult[], machine: string, params: string): string {
  const at = (h: string) => previous.indexOf(`\n${h}\n`);
  const l = at(LATEST);
  const h = at(HISTORY);
  const latest = new Map<string, string>();
  if (l >= 0) {
    for (const part of previous.slice(l + LATEST.length + 2, h < 0 ? undefined : h).split(/\n(?=### )/)) {
      const name = /^### (\S+):/.exec(part)?.[1];
      if (name) latest.set(name, part.trim());
    }
  }
  const history = h < 0 ? [] : previous.slice(h + HISTORY.length + 2).split('\n').filter((line) => line.startsWith('| ') && !HISTORY_HEAD.includes(line));
  const [when, commit] = machine.split(' · ');
  for (const r of results) {
    const [heading, ...rest] = resultMarkdown(r).split('\n');
    latest.set(r.name, [heading, '', `${machine}. Parameters: ${params}.`, ...rest].join('\n'));
  }
  const rows = results.map((r) => `| ${when!.replace(' UTC', '')} | ${commit!.replace('commit ', '')} | ${r.name} | ${r.passed ? 'passed' : '**FAILED**'} | ${ms(r.durationMs)} | ${r.failures.length} |`);
  const ordered = [...Object.keys(DRILLS).filter((n) => latest.has(n)), ...[...latest.keys()].filter((n) => !(n in DRILLS))];
  return `${HEADER}\n${LATEST}\n\n${ordered.map((n) => latest.get(n)).join('\n\n')}\n\n${HISTORY}\n\n${[...HISTORY_HEAD, ...rows, ...history].join('\n')}\n`;
}

async function main(): Promise<void> {
  const wanted = (env.DRILLS ?? Object.keys(DRILLS).join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = wanted.filter((d) => !(d in DRILLS));
  if (unknown.length) {
    process.stderr.write(`unknown drill(s): ${unknown.join(', ')}; known: ${Object.keys(DRILLS).join(', ')}\n`);
    process.exit(2);
  }
  if (!HAVE_INFLUXD) {
    process.stderr.write(`${NO_INFLUXD_MESSAGE}\nThe drills count what InfluxDB stored: they cannot run without it.\n`);
    process.exit(2);
  }
  if (!existsSync('dist/cli.js')) {
    process.stderr.write('dist/cli.js is missing: run npm run build (npm run drills does)\n');
    process.exit(2);
  }
  // temp dirs of services, InfluxDB and receivers live under one root, removed at the end
  const root = mkdtempSync(join(tmpdir(), 'qoswatch-drills-'));
  process.env.QOSWATCH_TEST_TMP = root;
  const t0 = Date.now();
  const stamp = () => `[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s]`;
  const log: Log = (line) => process.stderr.write(`${stamp()} ${line}\n`);
  const results: DrillResult[] = [];
  try {
    for (const name of wanted) {
      log(`== ${name}`);
      const r = await DRILLS[name]!(log);
      results.push(r);
      process.stdout.write(`\n${resultMarkdown(r)}\n\n`);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const failed = results.filter((r) => !r.passed);
  const params = Object.entries(PARAMS).map(([k, v]) => `${k}=${v}`).join(', ');
  if (env.DRILL_NO_REPORT !== '1') {
    writeFileSync('RELIABILITY.md', reliabilityDoc(existsSync('RELIABILITY.md') ? readFileSync('RELIABILITY.md', 'utf8') : '', results, machineLine(), params));
    log('written to RELIABILITY.md');
  }
  if (failed.length) {
    process.stderr.write(`\n\x1b[31m${failed.length} drill(s) FAILED: ${failed.map((r) => `${r.name} (${r.failures.length} failure(s))`).join(', ')}\x1b[0m\n`);
    process.exit(1);
  }
  process.stderr.write('\nall drills passed\n');
  process.exit(0);
}

await main();

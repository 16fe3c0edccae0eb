import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import pg from 'pg';
import { metricsText } from '../test/helpers/metrics.js';
import { prepareNats, removePrefix, testPrefix } from '../test/helpers/nats.js';
import { preparePostgres } from '../test/helpers/postgres.js';
import { ServiceProcess } from '../test/helpers/service.js';
import { type IngestResult, httpLoad, telemetryTarget } from './ingest.js';
import { fmt, procStats } from './machine.js';
import { manyRegions } from './pools.js';

/** The cluster's telemetry: regions enough that (tenant, region) spreads over every partition. */
const REGIONS = 64;
const PARTITIONS = 16;
const BATCH = 1000;
const LEASE_TTL_MS = 3000;

export interface ClusterRow {
  workers: number;
  /** Each batch's beacons from every region (split into a share per partition), or from one. */
  mixed: boolean;
  load: IngestResult;
  /** Samples the workers aggregated per second during the measure (all partitions). */
  aggregatedPerSec: number;
  /** CPU per 100 k samples: the collector; the workers together; NATS (the machine's server), when found. */
  collectorMsPer100k: number;
  workersMsPer100k: number;
  natsMsPer100k: number | undefined;
  /** The busiest worker's share of a core. */
  busiestWorkerCpu: number;
  /** How long the workers took, once the load stopped, to aggregate everything the collector had acknowledged. */
  drainMs: number;
}

const family = (text: string, name: string) => {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.split(' ').at(-1));
  return sum;
};

/** The machine's nats-server process, whose CPU the collectors' publishes cost too. */
function natsPid(): number | undefined {
  try {
    return Number(execFileSync('pgrep', ['-x', 'nats-server'], { encoding: 'utf8' }).split('\n')[0]) || undefined;
  } catch {
    return undefined;
  }
}

/** A cluster of one collector (and leader) and `workers` worker processes, on a schema and streams of its own. */
async function startCluster(pgUrl: string, natsUrl: string, workers: number): Promise<{ collector: ServiceProcess; workers: ServiceProcess[]; stop(): Promise<void> }> {
  const schema = `bench_${randomBytes(5).toString('hex')}`;
  const prefix = testPrefix();
  const env = {
    QOSWATCH_LOG_LEVEL: 'warn', QOSWATCH_RATE_LIMIT: '1000000/1s', QOSWATCH_MODE: 'cluster', DATABASE_URL: pgUrl, DATABASE_SCHEMA: schema, NATS_URL: natsUrl,
    QOSWATCH_NATS_PREFIX: prefix, QOSWATCH_PARTITIONS: String(PARTITIONS), QOSWATCH_LEASE_TTL: `${LEASE_TTL_MS}ms`, QOSWATCH_RULES_DIR: resolve('alert-rules'),
  };
  const collector = new ServiceProcess({ ...env, QOSWATCH_ROLES: 'collector,leader', QOSWATCH_NODE_ID: 'collector' });
  await collector.start();
  const ws = Array.from({ length: workers }, (_, i) => new ServiceProcess({ ...env, QOSWATCH_ROLES: 'worker', QOSWATCH_NODE_ID: `worker-${i + 1}` }));
  for (const w of ws) await w.start();
  // Every partition owned, and spread: each worker owns what rendezvous hashing gives it.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const owned = await Promise.all(ws.map(async (w) => family(await metricsText(w.url), 'qoswatch_partitions_owned')));
    if (owned.reduce((a, b) => a + b, 0) === PARTITIONS && owned.every((n) => n > 0)) break;
    if (Date.now() > deadline) throw new Error(`partitions not spread over ${workers} workers within 30 s: ${owned.join(', ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    collector,
    workers: ws,
    async stop() {
      await Promise.all([collector, ...ws].filter((s) => s.proc).map((s) => s.stop('SIGKILL')));
      for (const s of [collector, ...ws]) s.cleanup();
      await removePrefix(natsUrl, prefix).catch(() => {});
      const c = new pg.Client({ connectionString: pgUrl });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => c.end());
    },
  };
}

const aggregated = async (ws: readonly ServiceProcess[]) => (await Promise.all(ws.map(async (w) => family(await metricsText(w.url), 'qoswatch_samples_aggregated_total')))).reduce((a, b) => a + b, 0);

async function run(pgUrl: string, natsUrl: string, workers: number, mixed: boolean, seconds: number): Promise<ClusterRow> {
  const c = await startCluster(pgUrl, natsUrl, workers);
  try {
    const warmupMs = 3000;
    const nats = natsPid();
    let before: { agg: number; cpu: number[]; nats: number | undefined } | undefined;
    const snap = async () => ({ agg: await aggregated(c.workers), cpu: c.workers.map((w) => procStats(w.proc!.pid!).cpuSeconds), nats: nats && procStats(nats).cpuSeconds });
    const warm = setTimeout(() => void snap().then((s) => (before = s)), warmupMs);
    const load = await httpLoad(telemetryTarget(c.collector.url, c.collector.proc!.pid!), manyRegions(BATCH, REGIONS, mixed), seconds, { concurrency: 16, warmupMs });
    clearTimeout(warm);
    const after = await snap();
    const b = before!;
    const accepted = load.samplesPerSec * seconds;
    // What the collector acknowledged the workers still have to aggregate: how long they take to catch up.
    const stopped = performance.now();
    let drainMs = 0;
    for (let last = -1; ; ) {
      const now = await aggregated(c.workers);
      if (now === last) break;
      last = now;
      drainMs = performance.now() - stopped;
      await new Promise((r) => setTimeout(r, 250));
    }
    const workerCpu = after.cpu.map((x, i) => x - b.cpu[i]!);
    const per100k = (cpuSeconds: number) => (cpuSeconds * 1000 * 100_000) / Math.max(1, accepted);
    return {
      workers,
      mixed,
      load,
      aggregatedPerSec: (after.agg - b.agg) / seconds,
      collectorMsPer100k: load.cpuMsPer100k,
      workersMsPer100k: per100k(workerCpu.reduce((a, x) => a + x, 0)),
      natsMsPer100k: after.nats !== undefined && b.nats !== undefined ? per100k(after.nats - b.nats) : undefined,
      busiestWorkerCpu: Math.max(...workerCpu) / seconds,
      drainMs,
    };
  } finally {
    await c.stop();
  }
}

/** kill -9 one of two workers and time until the other owns every partition (lease TTL + replay + takeover). */
async function failoverGap(pgUrl: string, natsUrl: string): Promise<{ gapMs: number; partitions: number }> {
  const c = await startCluster(pgUrl, natsUrl, 2);
  try {
    const [victim, survivor] = c.workers as [ServiceProcess, ServiceProcess];
    const moved = PARTITIONS - family(await metricsText(survivor.url), 'qoswatch_partitions_owned');
    const t0 = performance.now();
    await victim.stop('SIGKILL');
    while (family(await metricsText(survivor.url), 'qoswatch_partitions_owned') < PARTITIONS) await new Promise((r) => setTimeout(r, 20));
    return { gapMs: performance.now() - t0, partitions: moved };
  } finally {
    await c.stop();
  }
}

/** The scaling section of BENCHMARKS.md: samples/s and CPU per sample with 1, 2 and 3 workers, and a failover. */
export async function clusterSection(seconds = Number(process.env.BENCH_CLUSTER_SECONDS ?? 15)): Promise<{ md: string; rows: ClusterRow[] }> {
  const heading = '### Cluster mode: one collector, 1–3 workers (PostgreSQL and NATS JetStream on this machine)';
  const [pgUrl, natsUrl] = [await preparePostgres(), await prepareNats()];
  if (!pgUrl || !natsUrl) return { md: `${heading}\n\nSKIPPED: PostgreSQL (127.0.0.1:5432) or NATS with JetStream (127.0.0.1:4222) is not running.`, rows: [] };
  const rows: ClusterRow[] = [];
  for (const [n, mixed] of [[1, false], [2, false], [3, false], [1, true]] as const) {
    console.log(`cluster: 1 collector, ${n} worker(s), ${mixed ? 'batches over every region' : 'a region per batch'}, ${seconds} s…`);
    rows.push(await run(pgUrl, natsUrl, n, mixed, seconds));
  }
  console.log('cluster: failover gap…');
  const gap = await failoverGap(pgUrl, natsUrl);
  const ms = (v: number) => (v < 1000 ? `${fmt(v)} ms` : `${fmt(v / 1000, 1)} s`);
  const table = [
    '| workers | batches | samples/s acknowledged (collector) | samples/s aggregated (workers) | p50 / p99 | CPU per 100 k: collector | workers (all) | nats-server | busiest worker (share of a core) | catch-up after the load |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) =>
      `| ${r.workers} | ${r.mixed ? `every region (${REGIONS})` : 'one region'} | ${fmt(r.load.samplesPerSec)} | ${fmt(r.aggregatedPerSec)} | ${fmt(r.load.p50ms, 1)} / ${fmt(r.load.p99ms, 1)} ms | ${fmt(r.collectorMsPer100k)} ms | ${fmt(r.workersMsPer100k)} ms | ${r.natsMsPer100k === undefined ? '—' : `${fmt(r.natsMsPer100k)} ms`} | ${fmt(r.busiestWorkerCpu * 100)} % | ${ms(r.drainMs)} |`),
  ].join('\n');
  const md =
    `${heading}\n\n${table}\n\n` +
    `Failover gap: kill -9 one of two workers → the other owns all ${PARTITIONS} partitions again (the ${gap.partitions} it took over replayed from their checkpoints) after **${ms(gap.gapMs)}**, with QOSWATCH_LEASE_TTL ${ms(LEASE_TTL_MS)}: the time those partitions evaluated nothing.\n\n` +
    `One collector process (with the leader role) takes HTTP batches of ${BATCH} beacons over ${REGIONS} regions (closed loop, 16 in flight, ${seconds} s after 3 s of warm-up): each batch from one region (as a player's batch is: its session is in one region), stored in JetStream as received; or each from every region, split into a share per partition, each share encoded again. It publishes to JetStream (${PARTITIONS} partitions, one replica) and answers once stored; the worker processes own the partitions by lease and aggregate them with the shipped rules evaluated, without InfluxDB. CPU is each process's user + system time over the measure, per 100 k samples acknowledged. This machine has two cores for everything — collector, workers, nats-server and PostgreSQL — so the figures to read are the CPU per sample of each role (what a core of each buys) and whether the workers keep up, not the total rate: on more cores, workers add their share of the partitions.`;
  return { md, rows };
}

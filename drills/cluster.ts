import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Leases } from '../src/cluster/leases.js';
import { type Nats, openNats } from '../src/cluster/nats.js';
import { partitionOf } from '../src/cluster/partitions.js';
import type { Fault } from '../src/simulator/faults.js';
import { InfluxServer } from '../test/helpers/influxd.js';
import { metric, metricsText, metricValue } from '../test/helpers/metrics.js';
import { prepareNats, removePrefix, testPrefix } from '../test/helpers/nats.js';
import { pagingOnCall } from '../test/helpers/paging.js';
import { preparePostgres } from '../test/helpers/postgres.js';
import { HttpReceiver } from '../test/helpers/receiver.js';
import { ServiceProcess } from '../test/helpers/service.js';
import { SmtpSink } from '../test/helpers/smtp.js';
import { tempDir } from '../test/helpers/tmp.js';
import {
  DRILL_WINDOW_MS, type DrillResult, type Log, Report, SERVICE_ENV, TENANT, compare, fmt, influxEnv, ms, reportComparison, runDrill, sleep, storedPerWindow, until,
} from './common.js';
import { Loader } from './loader.js';
import { INGEST_KEY, PAGING_ENV, allIncidents, fastStallRule, incidentTimeline, onCallFile, reportAlicePages, reportStorm, rulesDir } from './services.js';

export interface ClusterOptions {
  nodes: number;
  partitions: number;
  leaseTtlMs: number;
  /** Simulator sessions (≈ sessions / interval samples per second). */
  sessions: number;
  intervalMs: number;
  /** Time between two faults, and the time a killed node stays down. */
  gapMs: number;
  /** Pause a partition owner (SIGSTOP) for 2 × the lease TTL, then let it go on (SIGCONT): a zombie. */
  zombie: boolean;
  /** Cut every PostgreSQL connection of the nodes at once. */
  postgresCut: boolean;
  /** Stop InfluxDB for this long (0: not at all). */
  influxOutageMs: number;
  seed: number;
  log?: Log;
}

export const CLUSTER_DEFAULTS: ClusterOptions = {
  nodes: 3, partitions: 8, leaseTtlMs: 2000, sessions: 3000, intervalMs: 2000, gapMs: 4000, zombie: true, postgresCut: true, influxOutageMs: 5000, seed: 17,
};

const REGIONS = ['eu-west', 'us-east', 'ap-south', 'sa-east'] as const;
const STORM_REGION = 'us-east';

/** One qoswatch process of the drill's cluster, restarted on the same data dir under the same node id. */
class Node {
  svc: ServiceProcess | undefined;
  paused = false;
  readonly dataDir = tempDir('qoswatch-cluster-drill');
  private readonly outputs: string[] = [];

  constructor(
    readonly id: string,
    private readonly env: Record<string, string>,
  ) {}

  get up(): boolean {
    return this.svc !== undefined && !this.paused;
  }

  get url(): string | undefined {
    return this.up ? this.svc!.url : undefined;
  }

  async start(): Promise<void> {
    this.svc = new ServiceProcess({ ...this.env, QOSWATCH_NODE_ID: this.id }, this.dataDir);
    await this.svc.start();
  }

  async stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<number | string> {
    const svc = this.svc!;
    this.svc = undefined;
    const how = await svc.stop(signal);
    this.outputs.push(svc.output);
    return how;
  }

  signal(sig: 'SIGSTOP' | 'SIGCONT'): void {
    this.svc!.proc!.kill(sig);
    this.paused = sig === 'SIGSTOP';
  }

  /** Everything it logged, over all its runs. */
  output(): string {
    return [...this.outputs, this.svc?.output ?? ''].join('\n');
  }

  /** When it logged taking `partition` over, after `since` (epoch ms). */
  tookOver(partition: number, since: number): number | undefined {
    for (const line of this.output().split('\n')) {
      if (!line.includes('partition taken over')) continue;
      try {
        const e = JSON.parse(line) as { time: number; partition: number };
        if (e.partition === partition && e.time >= since) return e.time;
      } catch {
        /* not JSON */
      }
    }
    return undefined;
  }
}

/**
 * The cluster drill (issue 17): `nodes` qoswatch processes with every role over the machine's PostgreSQL and NATS
 * (a schema and streams of their own), a real InfluxDB 1.x, SMTP and webhook receivers; the simulator's load spread
 * over the nodes, a stall storm in one region. Faults, each after `gapMs`: kill -9 the storm region's partition owner
 * (restarted after `gapMs`), kill -9 the leader, kill -9 a random node, SIGSTOP the storm region's owner for 2 × the
 * lease TTL then SIGCONT (a zombie), every PostgreSQL connection of the nodes cut, InfluxDB stopped and started.
 * Passes when nothing acknowledged is lost or counted twice, the storm region has exactly one incident and alice
 * one opened page per channel, the zombie's stale writes were refused by the fence, and every partition ends with
 * exactly one owner among live nodes.
 */
export async function drillCluster(opts: Partial<ClusterOptions> = {}): Promise<DrillResult> {
  const o = { ...CLUSTER_DEFAULTS, ...opts };
  const log = o.log ?? (() => {});
  const report = new Report('cluster', `${o.nodes} nodes (every role) over PostgreSQL and NATS JetStream, ${o.partitions} partitions, lease TTL ${ms(o.leaseTtlMs)}; ${fmt(o.sessions)} simulated sessions beaconing every ${ms(o.intervalMs)}; a stall storm in ${STORM_REGION}`);
  let influx: InfluxServer | undefined;
  const smtp = new SmtpSink();
  const receiver = new HttpReceiver();
  const nodes: Node[] = [];
  let loader: Loader | undefined;
  let nats: Nats | undefined;
  let pgUrl: string | undefined;
  let natsUrl: string | undefined;
  let prefix: string | undefined;
  const schema = `drill_${randomBytes(5).toString('hex')}`;
  const app = `qoswatch-${schema}`;

  return runDrill(
    report,
    async () => {
      pgUrl = await preparePostgres();
      natsUrl = await prepareNats();
      if (!pgUrl || !natsUrl) throw new Error('the cluster drill needs PostgreSQL (127.0.0.1:5432) and NATS with JetStream (127.0.0.1:4222)');
      influx = await InfluxServer.launch();
      const db = 'drill_cluster';
      await influx.createDb(db);
      await smtp.start();
      await receiver.start();
      const doc = pagingOnCall((p) => receiver.url(p));
      for (const level of doc.escalation_policies[0]!.levels as { ack_timeout: string }[]) level.ack_timeout = '1h';
      prefix = testPrefix();
      const env = {
        ...SERVICE_ENV, ...influxEnv(influx, db), ...PAGING_ENV,
        QOSWATCH_MODE: 'cluster',
        // The application name marks the nodes' connections: the drill cuts those, and no one else's.
        DATABASE_URL: `${pgUrl}?application_name=${app}`,
        DATABASE_SCHEMA: schema,
        NATS_URL: natsUrl,
        QOSWATCH_NATS_PREFIX: prefix,
        QOSWATCH_PARTITIONS: String(o.partitions),
        QOSWATCH_LEASE_TTL: `${o.leaseTtlMs}ms`,
        QOSWATCH_LEADER_CHECK: '500ms',
        QOSWATCH_RULES_DIR: rulesDir([fastStallRule()]),
        QOSWATCH_ONCALL: onCallFile(doc),
        SMTP_URL: smtp.url,
        QOSWATCH_PAGE_TIMEOUT: '3s',
        QOSWATCH_LOG_LEVEL: 'info',
      };
      for (let i = 1; i <= o.nodes; i++) nodes.push(new Node(`node-${i}`, env));
      for (const n of nodes) await n.start();
      nats = await openNats({ url: natsUrl, prefix, partitions: o.partitions, streams: Math.min(4, o.partitions), replicas: 1, leaseTtlMs: o.leaseTtlMs });
      const leases = new Leases(nats.leases, '');
      const stormPartition = partitionOf(TENANT, STORM_REGION, o.partitions);
      const owner = async (p: number) => {
        const id = await leases.holder(p);
        return nodes.find((n) => n.id === id && n.up);
      };
      const spread = () => until(async () => {
        const holders = await Promise.all(Array.from({ length: o.partitions }, (_, p) => leases.holder(p)));
        return holders.every((h) => nodes.some((n) => n.id === h && n.up)) && new Set(holders).size === nodes.filter((n) => n.up).length;
      }, 30_000, 200);
      report.check(await spread(), 'the partitions were not spread over every node within 30 s of the start');

      let turn = 0;
      const live = () => nodes.filter((n) => n.up);
      loader = new Loader({
        url: () => {
          const up = live();
          return up.length ? up[turn++ % up.length]!.url : undefined;
        },
        key: INGEST_KEY, regions: REGIONS, sessions: o.sessions, intervalMs: o.intervalMs, seed: o.seed, batch: 250, maxInFlight: 8, windowMs: DRILL_WINDOW_MS, idempotent: true,
        faults: [{ kind: 'stall_storm', cdn: 'cdn-a', region: STORM_REGION, ratio: 0.6, at: 1000, for: 24 * 3_600_000 }] satisfies Fault[],
      });
      loader.start();
      log(`cluster: load started over ${o.nodes} nodes; the storm region's partition is ${stormPartition}`);
      report.check(await until(async () => (await allIncidents(live()[0]!.url!)).length > 0, 30_000), 'the storm opened no incident within 30 s');
      const incidentAt = Date.now();

      const gaps: number[] = [];
      const killAndRestart = async (what: string, n: Node) => {
        const at = Date.now();
        const owned = await Promise.all(Array.from({ length: o.partitions }, async (_, p) => ((await leases.holder(p)) === n.id ? p : -1)));
        const how = await n.stop('SIGKILL');
        report.check(how === 'SIGKILL', `${n.id} had exited (${how}) before kill -9`);
        log(`cluster: kill -9 ${what} (${n.id}, partitions ${owned.filter((p) => p >= 0).join(', ')})`);
        await sleep(o.gapMs);
        // The time each of its partitions evaluated nothing: from the kill to another node's takeover.
        for (const p of owned.filter((x) => x >= 0)) {
          const taken = nodes.map((m) => m.tookOver(p, at)).filter((t): t is number => t !== undefined);
          if (taken.length) gaps.push(Math.min(...taken) - at);
          else report.check(false, `partition ${p} of the killed ${n.id} was not taken over within ${ms(o.gapMs)}`);
        }
        await n.start();
      };

      const stormOwner = await owner(stormPartition);
      report.check(stormOwner !== undefined, 'the storm region\'s partition has no live owner');
      if (stormOwner) await killAndRestart('the storm region\'s owner', stormOwner);
      await sleep(o.gapMs);
      const leader = await findLeader(live());
      report.check(leader !== undefined, 'no node leads');
      if (leader) await killAndRestart('the leader', leader);
      await sleep(o.gapMs);
      let rng = o.seed;
      const random = nodes[((rng = (Math.imul(rng, 1103515245) + 12345) >>> 0) % nodes.length)]!;
      await killAndRestart('a random node', random);
      await sleep(o.gapMs);

      let zombie: Node | undefined;
      if (o.zombie) {
        await spread();
        zombie = await owner(stormPartition);
        if (zombie) {
          log(`cluster: SIGSTOP ${zombie.id} (owner of the storm region) for ${ms(2 * o.leaseTtlMs)}`);
          zombie.signal('SIGSTOP');
          await sleep(2 * o.leaseTtlMs + 1000);
          zombie.signal('SIGCONT');
          log(`cluster: SIGCONT ${zombie.id}`);
          await sleep(o.gapMs);
        } else report.check(false, 'no live owner of the storm region to pause');
      }
      if (o.postgresCut) {
        const cut = await cutConnections(pgUrl, app);
        log(`cluster: cut ${cut} PostgreSQL connections of the nodes`);
        report.figure('PostgreSQL connections cut (pg_terminate_backend)', cut);
        await sleep(o.gapMs);
      }
      if (o.influxOutageMs > 0) {
        log(`cluster: InfluxDB stopped for ${ms(o.influxOutageMs)}`);
        await influx.stop();
        await sleep(o.influxOutageMs);
        await influx.start();
        await sleep(o.gapMs);
      }

      const loadSeconds = (Date.now() - loader.startedAt) / 1000;
      const offered = loader.offeredRate();
      await loader.stop(60_000);
      log('cluster: load stopped');
      const first = live()[0]!.url!;
      await until(async () => (await metric((await findLeader(live()))?.url ?? first, 'qoswatch_outbox_backlog')) === 0 && smtp.mails.length > 0 && receiver.requests.length > 0, 30_000);

      // Every window closed and written: the owners close them within the grace, and retry InfluxDB each tick.
      const stored = async () => compare(loader!.ledger, await storedPerWindow(influx!, db, loader!.ledger));
      await until(async () => (await stored()).lost === 0, 60_000, 1000);
      const cmp = await stored();

      const owners = await Promise.all(Array.from({ length: o.partitions }, (_, p) => leases.holder(p)));
      const ownedSum = (await Promise.all(live().map(async (n) => metric(n.url!, 'qoswatch_partitions_owned')))).reduce((a, b) => a + b, 0);
      const fenced = zombie?.up ? ((await metric(zombie.url!, 'qoswatch_fence_rejections_total')) ?? 0) : 0;
      const incidents = await allIncidents(first);
      const storm = incidents.filter((i) => i.region === STORM_REGION);
      const timeline = storm[0] ? await incidentTimeline(first, storm[0].id) : [];
      const leaderChanges = (await Promise.all(live().map(async (n) => metricValue(await metricsText(n.url!), 'qoswatch_leader_changes_total{to="leader"}') ?? 0))).reduce((a, b) => a + b, 0);

      // ---- figures
      report.figure('load: simulated samples/s offered, over', `${fmt(offered)} /s over ${fmt(loadSeconds, 1)} s (${REGIONS.length} regions, batches ≤ 250, round robin over the live nodes)`);
      report.figure('HTTP statuses', loader.statuses.text());
      report.figure('requests cut or refused (client side)', loader.errors.text());
      report.check(loader.unsent === 0, `${fmt(loader.unsent)} generated samples were still unsent when the load stopped`);
      report.check(loader.rejectedSamples === 0, `the service rejected ${fmt(loader.rejectedSamples)} simulator samples: ${loader.firstRejection}`);
      reportComparison(report, cmp);
      report.check(cmp.extra === 0, `${fmt(cmp.extra)} samples stored beyond those acknowledged: a batch resent with its Idempotency-Key was stored twice`);
      report.figure('failover gap per partition of a killed node (kill → takeover): median / max', gaps.length ? `${ms(median(gaps))} / ${ms(Math.max(...gaps))} (${gaps.length} partitions)` : 'none measured');
      report.check(gaps.every((g) => g <= o.leaseTtlMs + 5000), `a partition evaluated nothing for more than the lease TTL + 5 s: ${gaps.map(ms).join(', ')}`);
      report.figure('time from the storm\'s start to its incident', ms(incidentAt - loader.startedAt - 1000));
      reportStorm(report, STORM_REGION, incidents, timeline);
      reportAlicePages(report, receiver.requests, smtp);
      report.figure('leader changes (on the nodes alive at the end)', leaderChanges);
      if (o.zombie) {
        report.figure(`stale writes refused by the fence (the paused node, ${zombie?.id ?? '—'})`, fenced);
        report.check(fenced > 0, 'the paused owner woke up and made no write the fence refused (its partitions moved meanwhile: expected at least one)');
      }
      const unowned = owners.map((h, p) => (nodes.some((n) => n.id === h && n.up) ? -1 : p)).filter((p) => p >= 0);
      report.figure('partitions at the end: owned by a live node / owned per the nodes\' own count', `${o.partitions - unowned.length} of ${o.partitions} / ${ownedSum}`);
      report.check(unowned.length === 0 && ownedSum === o.partitions, `partitions without exactly one live owner at the end: ${unowned.join(', ') || '(lease holders fine)'}; the nodes count ${ownedSum} owned`);
      const errors = nodes.flatMap((n) => n.output().split('\n').filter((l) => /"level":(50|60)/.test(l)));
      report.figure('error-level log lines (all processes)', errors.length);
      if (errors.length) report.note(`first error logged: ${errors[0]!.slice(0, 300)}`);

      for (const n of live()) {
        const code = await n.stop('SIGTERM');
        report.check(code === 0, `SIGTERM of ${n.id}: exit ${code} (expected 0)`);
      }
    },
    async () => {
      await loader?.stop(0).catch(() => {});
      // A failure's post-mortem needs the nodes' logs: kept outside the run's temp dir, which goes at its end.
      if (report.failures.length && nodes.length) {
        const logs = mkdtempSync(join(tmpdir(), 'qoswatch-cluster-drill-logs-'));
        for (const n of nodes) writeFileSync(join(logs, `${n.id}.log`), n.output());
        report.note(`the nodes' logs are in ${logs}`);
      }
      for (const n of nodes) {
        if (n.paused) n.signal('SIGCONT');
        if (n.svc) await n.stop('SIGKILL').catch(() => {});
      }
      await nats?.close().catch(() => {});
      if (natsUrl && prefix) await removePrefix(natsUrl, prefix).catch(() => {});
      if (pgUrl) await dropSchema(pgUrl, schema).catch(() => {});
      await receiver.stop();
      await smtp.stop();
      await influx?.destroy();
    },
  );
}

/** The live node whose /metrics says it leads. */
async function findLeader(nodes: readonly Node[]): Promise<Node | undefined> {
  for (const n of nodes) if ((await metric(n.url!, 'qoswatch_leader')) === 1) return n;
  return undefined;
}

/** Cuts every connection of the nodes (by application name), as a PostgreSQL restart or failover would. */
async function cutConnections(url: string, app: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ cut: boolean }>('SELECT pg_terminate_backend(pid) AS cut FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()', [app]);
    return r.rows.filter((x) => x.cut).length;
  } finally {
    await c.end();
  }
}

async function dropSchema(url: string, schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await c.end();
  }
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

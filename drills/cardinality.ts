import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { procStats } from '../bench/machine.js';
import { DIMENSIONS } from '../src/shared/labels.js';
import { sha256 } from '../src/tenants/keys.js';
import { InfluxServer } from '../test/helpers/influxd.js';
import { metricValue, metricsText } from '../test/helpers/metrics.js';
import { tempDir } from '../test/helpers/tmp.js';
import {
  Counter, type DrillResult, type Log, Report, SERVICE_ENV, compare, fmt, influxEnv, keepAlive, mib, ms, post, reportComparison, runDrill, sleep, storedPerWindow,
} from './common.js';
import { Loader } from './loader.js';
import { Fleet } from './services.js';

export interface CardinalityOptions {
  /** Hostile tenants, each with its own ingest key sending the attack at the same time. */
  attackers: number;
  /** Rounds per attacker; each round sends regions × values samples with dimension values never seen before. */
  rounds: number;
  regions: number;
  values: number;
  /** Share of each round also sent again with timestamps spread over the past hour (late points). */
  lateShare: number;
  /** The honest tenant's simulated sessions (beaconing every `intervalMs`). */
  sessions: number;
  intervalMs: number;
  /** InfluxDB is stopped while the attack runs, with the spool this small: the attackers' points must not push the honest tenant's out. */
  spoolMax: string;
  /** NODE_OPTIONS of the service: the Docker image's heap. */
  nodeOptions: string;
  /** Honest load after the attack and the restart, ms. */
  settleMs: number;
  seed: number;
  log?: Log;
}

export const CARDINALITY_DEFAULTS: CardinalityOptions = {
  attackers: 3, rounds: 4, regions: 500, values: 100, lateShare: 0.2, sessions: 3000, intervalMs: 2000, spoolMax: '16MiB',
  nodeOptions: '--max-old-space-size=512 --max-semi-space-size=4', settleMs: 5000, seed: 20,
};

const HONEST = 'acme';
const HONEST_KEY = 'drill-honest-key-0123456789';
const REGIONS = ['eu-west', 'us-east', 'ap-south'] as const;
const attackerId = (i: number) => `evil-${i + 1}`;
const attackerKey = (i: number) => `drill-attacker-key-${i + 1}-0123456789`;
/**
 * The service's default windows, not the 1 s windows of the other drills: what a series costs is its windows (the
 * rules' 2 minutes: 12 of 10 s, or 120 of 1 s), and the budgets' defaults are sized for the default configuration.
 */
const WINDOW_MS = 10_000;
/** Times the attacker sends a batch refused with 429. */
const ATTEMPTS = 5;
/** The session interval the attack claims: the longest the sample contract accepts (1 h). */
const CLAIMED_INTERVAL_MS = 3_600_000;

/** The config file: the honest tenant and the hostile ones, each with its own key (budgets are the defaults). */
function configFile(attackers: number): string {
  const tenants = [
    { id: HONEST, ingest_keys: [{ id: 'player', sha256: sha256(HONEST_KEY) }] },
    ...Array.from({ length: attackers }, (_, i) => ({ id: attackerId(i), ingest_keys: [{ id: 'player', sha256: sha256(attackerKey(i)) }] })),
  ];
  const path = join(tempDir('qoswatch-drill-config'), 'qoswatch.yaml');
  writeFileSync(path, stringify({ default_tenant: HONEST, tenants }));
  return path;
}

/**
 * One round of the cardinality product (issue 14): every region × value, each sample carrying that value in all five
 * dimensions, a fresh session claiming a 1 h interval and every metric (so every window holds sketches). Values are
 * new each round. A share is sent again with timestamps spread over the past hour, each one its own window.
 */
function attackBodies(attacker: number, round: number, o: CardinalityOptions, now: number): string[] {
  const samples: object[] = [];
  const total = o.regions * o.values;
  const late = Math.floor(total * o.lateShare);
  for (let i = 0; i < total + late; i++) {
    const k = i % total;
    const region = `r-${k % o.regions}`;
    const v = Math.floor(k / o.regions);
    const dims = Object.fromEntries(DIMENSIONS.map((d) => [d, `${d}-${round}-${v}`]));
    const ts = i < total ? now - 1000 : now - 600_000 - ((i * 7919) % 3_000_000);
    samples.push({
      ts, interval_ms: CLAIMED_INTERVAL_MS, region, session: `a${attacker}-${round}-${i}`, dims,
      latency_ms: 500 + (i % 977), rtt_ms: 20 + (i % 181), startup_ms: 300 + (i % 613), packets_lost: i % 7, packets_expected: 1000, play_ms: 9000, stall_ms: i % 900, stall_count: i % 3,
    });
  }
  const out: string[] = [];
  for (let i = 0; i < samples.length; i += 5000) out.push(JSON.stringify({ samples: samples.slice(i, i + 5000) }));
  return out;
}

/** A labelled figure from /metrics (0 when absent). */
const labelled = (text: string, name: string, labels: string) => metricValue(text, `${name}{${labels}}`) ?? 0;

/**
 * The cardinality attack of issue 14 against the Docker image's heap: hostile tenants (their public ingest keys)
 * send every region × every dimension value with fresh values each round, sessions claiming a 1 h interval, and
 * late samples over the past hour, while an honest tenant beacons and InfluxDB is down with a small spool; then
 * the service is killed (-9) and must come back (the journal replay holds the attack too). The service must stay
 * up, hold every tenant within its budgets, and store every sample it acknowledged from the honest tenant.
 */
export async function drillCardinality(opts: Partial<CardinalityOptions> = {}): Promise<DrillResult> {
  const o = { ...CARDINALITY_DEFAULTS, ...opts };
  const log = o.log ?? (() => {});
  const perRound = o.regions * o.values;
  const report = new Report(
    'cardinality',
    `${o.attackers} hostile tenant(s) × ${o.rounds} round(s) of ${fmt(o.regions)} regions × ${fmt(o.values)} values × ${DIMENSIONS.length} dimensions (${fmt(perRound)} samples a round, + ${fmt(o.lateShare * 100)} % late, sessions claiming a 1 h interval) against NODE_OPTIONS="${o.nodeOptions}", while an honest tenant beacons and InfluxDB is down with a ${o.spoolMax} spool; then kill -9 and restart`,
  );
  let influx: InfluxServer | undefined;
  let fleet: Fleet | undefined;
  let loader: Loader | undefined;
  let sampling = false;
  let sampler: Promise<void> | undefined;

  return runDrill(
    report,
    async () => {
      influx = await InfluxServer.launch();
      const db = 'drill_cardinality';
      await influx.createDb(db);
      fleet = new Fleet(
        {
          ...SERVICE_ENV, ...influxEnv(influx, db), QOSWATCH_WINDOW: `${WINDOW_MS}ms`, QOSWATCH_WINDOW_GRACE: '15s',
          QOSWATCH_CONFIG: configFile(o.attackers), QOSWATCH_SPOOL_MAX: o.spoolMax, NODE_OPTIONS: o.nodeOptions, QOSWATCH_LOG_LEVEL: 'warn',
        },
        log,
      );
      await fleet.start();
      const f = fleet;
      loader = new Loader({ url: () => f.url, key: HONEST_KEY, regions: REGIONS, sessions: o.sessions, intervalMs: o.intervalMs, seed: o.seed, batch: 250, maxInFlight: 8, windowMs: WINDOW_MS });
      loader.start();

      // RSS from /proc and the series, sessions and heap from /metrics, every 500 ms, of whichever process runs
      const peaks = { rss: 0, heap: 0, series: 0, attackerSeries: 0, attackerSessions: 0 };
      let died = '';
      sampling = true;
      sampler = (async () => {
        while (sampling) {
          const svc = f.current;
          try {
            if (svc?.proc?.pid) peaks.rss = Math.max(peaks.rss, procStats(svc.proc.pid).rssMiB);
            const text = svc ? await metricsText(svc.url) : '';
            peaks.heap = Math.max(peaks.heap, metricValue(text, 'nodejs_heap_size_used_bytes') ?? 0);
            peaks.series = Math.max(peaks.series, metricValue(text, 'qoswatch_window_series') ?? 0);
            for (let i = 0; i < o.attackers; i++) {
              peaks.attackerSeries = Math.max(peaks.attackerSeries, labelled(text, 'qoswatch_tenant_series', `tenant="${attackerId(i)}"`));
              peaks.attackerSessions = Math.max(peaks.attackerSessions, labelled(text, 'qoswatch_tenant_live_sessions', `tenant="${attackerId(i)}"`));
            }
          } catch {
            if (svc && !died && svc.proc && (svc.proc.exitCode !== null || svc.proc.signalCode !== null)) died = f.tail(12);
          }
          await sleep(500);
        }
      })();
      await sleep(2000);

      // ---- the attack, InfluxDB down
      await influx.stop();
      const statuses = new Counter();
      const errors = new Counter();
      let attackAccepted = 0;
      let attackSent = 0;
      const agent = keepAlive(4 * o.attackers);
      const t0 = Date.now();
      await Promise.all(
        Array.from({ length: o.attackers }, async (_, a) => {
          for (let round = 0; round < o.rounds; round++) {
            for (const body of attackBodies(a, round, o, Date.now())) {
              attackSent += (JSON.parse(body) as { samples: unknown[] }).samples.length;
              // a persistent attacker: a refused batch goes again after its Retry-After, a few times
              for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
                const url = f.url;
                if (!url) return;
                const out = await post(`${url}/v1/telemetry`, body, { 'content-type': 'application/json', authorization: `Bearer ${attackerKey(a)}` }, agent, 60_000);
                if (out.kind === 'error') {
                  errors.add(out.code);
                  if (!f.alive()) return;
                  break;
                }
                statuses.add(out.status === 429 ? `429 ${(JSON.parse(out.body) as { error: string }).error}` : out.status);
                if (out.status === 202) attackAccepted += (JSON.parse(out.body) as { accepted: number }).accepted;
                if (out.status !== 429) break;
                await sleep(Number(out.headers['retry-after'] ?? 1) * 1000);
              }
            }
          }
        }),
      );
      agent.destroy();
      const attackMs = Date.now() - t0;
      log(`cardinality: attack sent ${fmt(attackSent)} samples in ${ms(attackMs)}: ${statuses.text()}`);
      // windows close and the gauges of the claimed 1 h sessions are sampled for a while
      await sleep(4000);
      const aliveAfterAttack = fleet.alive();
      const during = aliveAfterAttack ? await metricsText(fleet.url!) : '';

      // ---- kill -9 and restart on the same data dir: the journal replay takes the attack again
      let restartMs: number | undefined;
      try {
        restartMs = aliveAfterAttack ? await fleet.kill9AndRestart() : undefined;
      } catch (err) {
        report.fail(`the service did not come back after kill -9: ${String(err).slice(0, 600)}`);
      }
      await influx.start();
      await sleep(o.settleMs);
      const aliveAtEnd = fleet.alive();
      const afterRestart = aliveAtEnd ? await metricsText(fleet.url!) : '';
      await loader.stop(60_000);
      sampling = false;
      await sampler;

      // ---- ship every window, then count the honest tenant's samples
      const { metrics: final } = aliveAtEnd ? await fleet.stopAndDrain(report, 'attack') : { metrics: '' };
      // counters start afresh in each process: the one attacked, the one restarted, the one that drained the spool
      const texts = [during, afterRestart, final];
      const cmp = compare(loader.ledger, await storedPerWindow(influx, db, loader.ledger, HONEST));

      // ---- figures and checks
      const sumOver = (text: string, name: string, tenant: string) =>
        text.split('\n').filter((l) => l.startsWith(`${name}{`) && l.includes(`tenant="${tenant}"`)).reduce((s, l) => s + Number(l.split(' ').at(-1)), 0);
      const total = (name: string, tenant: string) => texts.reduce((s, text) => s + sumOver(text, name, tenant), 0);
      const byAttackers = (name: string) => Array.from({ length: o.attackers }, (_, i) => total(name, attackerId(i))).reduce((a, b) => a + b, 0);
      const tenantBudget = (budget: string) => metricValue(during, `qoswatch_tenant_budget{tenant="${attackerId(0)}",budget="${budget}"}`);
      const seriesBudget = tenantBudget('series');
      const sessionsBudget = tenantBudget('sessions');
      const globalSeries = metricValue(during, 'qoswatch_budget{budget="series"}');
      report.figure('attack: samples sent / acknowledged', `${fmt(attackSent)} / ${fmt(attackAccepted)} in ${ms(attackMs)}`);
      report.figure('attack: HTTP statuses (a 429 is sent again after Retry-After, up to 5 times)', statuses.text());
      report.figure('attack: client errors', errors.text());
      report.figure('service alive after the attack / after kill -9 and restart', `${aliveAfterAttack ? 'yes' : '**no**'} / ${aliveAtEnd ? 'yes' : '**no**'}`);
      report.figure('restart: kill -9 → /healthz answering', restartMs === undefined ? '—' : ms(restartMs));
      report.figure('peak RSS / peak JS heap used', `${fmt(peaks.rss)} MiB / ${mib(peaks.heap)}`);
      report.figure('peak series held (all tenants) / global budget', `${fmt(peaks.series)} / ${globalSeries === undefined ? '—' : fmt(globalSeries)}`);
      report.figure('peak series of one hostile tenant / tenant budget', `${fmt(peaks.attackerSeries)} / ${seriesBudget === undefined ? '—' : fmt(seriesBudget)}`);
      report.figure('peak live sessions of one hostile tenant / tenant budget', `${fmt(peaks.attackerSessions)} / ${sessionsBudget === undefined ? '—' : fmt(sessionsBudget)}`);
      report.figure('hostile tenants, attacked process: budget excess by budget and action', metricLines(during, 'qoswatch_tenant_budget_exceeded_total', (l) => !l.includes(`tenant="${HONEST}"`)));
      report.figure('hostile tenants: spool points dropped', fmt(byAttackers('qoswatch_tenant_spool_dropped_points_total')));
      const honestExcess = total('qoswatch_tenant_budget_exceeded_total', HONEST);
      const honestDropped = total('qoswatch_tenant_spool_dropped_points_total', HONEST);
      report.figure(`honest tenant (${HONEST}): budget excess / spool points dropped`, `${fmt(honestExcess)} / ${fmt(honestDropped)}`);
      if (honestExcess) {
        report.figure('honest tenant: budget excess by process, budget and action', texts.map((t) => metricLines(t, 'qoswatch_tenant_budget_exceeded_total', (l) => l.includes(`tenant="${HONEST}"`))).join(' ‖ '));
      }
      report.figure(`honest tenant: HTTP statuses`, loader.statuses.text());
      reportComparison(report, cmp);

      if (died) report.fail(`the service died during the drill:\n${died}`);
      report.check(aliveAfterAttack, `the service did not survive the attack: ${fleet.tail(12)}`);
      report.check(aliveAtEnd, `the service was not up after the restart: ${fleet.tail(12)}`);
      report.check(seriesBudget !== undefined && peaks.attackerSeries <= seriesBudget + 1, `a hostile tenant held ${fmt(peaks.attackerSeries)} series, over its budget of ${seriesBudget ?? '(no budget in /metrics)'} (+1 for its region "other")`);
      report.check(globalSeries !== undefined && peaks.series <= globalSeries + o.attackers + 1, `${fmt(peaks.series)} series held, over the global budget of ${globalSeries ?? '(no budget in /metrics)'}`);
      report.check(sessionsBudget !== undefined && peaks.attackerSessions <= sessionsBudget, `a hostile tenant had ${fmt(peaks.attackerSessions)} live sessions, over its budget of ${sessionsBudget ?? '(no budget in /metrics)'}`);
      report.check(byAttackers('qoswatch_tenant_budget_exceeded_total') > 0, 'no budget excess of the hostile tenants was counted in /metrics');
      report.check(honestExcess === 0 && honestDropped === 0, `the honest tenant paid for the attack: ${fmt(honestExcess)} samples over a budget, ${fmt(honestDropped)} spool points dropped`);
      report.check(loader.rejectedSamples === 0, `the service rejected ${fmt(loader.rejectedSamples)} of the honest tenant's samples: ${loader.firstRejection}`);
      const bad = [...statuses.counts.keys()].filter((s) => !s.startsWith('202') && !s.startsWith('429'));
      report.check(bad.length === 0, `the attack got statuses other than 202 and 429: ${statuses.text()}`);
    },
    async () => {
      sampling = false;
      await sampler;
      await loader?.stop(0).catch(() => {});
      await fleet?.destroy();
      await influx?.destroy();
    },
  );
}

/** "name{labels} value" lines of a metric family picked by `keep`, without the name, joined. */
function metricLines(text: string, name: string, keep: (line: string) => boolean): string {
  const lines = text.split('\n').filter((l) => l.startsWith(`${name}{`) && keep(l)).map((l) => l.slice(name.length));
  return lines.length ? lines.join(' · ') : '—';
}

import { metric } from '../test/helpers/metrics.js';
import { InfluxServer } from '../test/helpers/influxd.js';
import { pagingOnCall } from '../test/helpers/paging.js';
import { HttpReceiver } from '../test/helpers/receiver.js';
import { SmtpSink } from '../test/helpers/smtp.js';
import type { Fault } from '../src/simulator/faults.js';
import {
  DRILL_WINDOW_MS, type DrillResult, type Log, Report, SERVICE_ENV, compare, fmt, influxEnv, ms, reportComparison, runDrill, sleep, spoolDrained, storedPerWindow, until,
} from './common.js';
import { Loader } from './loader.js';
import {
  Fleet, INGEST_KEY, PAGING_ENV, allIncidents, fastStallRule, incidentTimeline, onCallFile, reportAlicePages, reportRestarts, reportStorm, rulesDir,
} from './services.js';

export interface Kill9Options {
  /** kill -9 this many times. */
  kills: number;
  /** Uptime before each kill, ms: uniformly in [min, max]. */
  upMs: readonly [number, number];
  /** Simulator sessions (≈ sessions / interval samples per second, plus edge nodes). */
  sessions: number;
  intervalMs: number;
  /** Load after the last restart before the drill stops it, ms. */
  settleMs: number;
  seed: number;
  log?: Log;
}

export const KILL9_DEFAULTS: Kill9Options = { kills: 20, upMs: [2000, 5000], sessions: 6000, intervalMs: 2000, settleMs: 5000, seed: 20 };

const REGIONS = ['eu-west', 'us-east', 'ap-south'] as const;
const STORM_REGION = 'us-east';

/**
 * kill -9 under load, `kills` times: the simulator's beacons go to the service over HTTP the whole time (batches
 * cut by a kill are sent again after the restart); a stall storm starts in one region about a third of the way
 * in. At the end every acknowledged sample must be in InfluxDB (per region and window), the storm region must have
 * exactly one incident, and alice exactly one `opened` page per channel (email, ops-hook).
 */
export async function drillKill9(opts: Partial<Kill9Options> = {}): Promise<DrillResult> {
  const o = { ...KILL9_DEFAULTS, ...opts };
  const log = o.log ?? (() => {});
  const report = new Report('kill9', `kill -9 under load, ${o.kills} times (uptime ${ms(o.upMs[0])}–${ms(o.upMs[1])}), ${fmt(o.sessions)} simulated sessions beaconing every ${ms(o.intervalMs)}`);
  let influx: InfluxServer | undefined;
  const smtp = new SmtpSink();
  const receiver = new HttpReceiver();
  let fleet: Fleet | undefined;
  let loader: Loader | undefined;

  return runDrill(
    report,
    async () => {
      influx = await InfluxServer.launch();
      const db = 'drill_kill9';
      await influx.createDb(db);
      await smtp.start();
      await receiver.start();
      // alice is on call (email + ops-hook, both at once for P1); level 2 (bob) only after an hour without an ack
      const doc = pagingOnCall((p) => receiver.url(p));
      for (const level of doc.escalation_policies[0]!.levels as { ack_timeout: string }[]) level.ack_timeout = '1h';
      fleet = new Fleet(
        {
          ...SERVICE_ENV, ...influxEnv(influx, db), ...PAGING_ENV,
          QOSWATCH_RULES_DIR: rulesDir([fastStallRule()]),
          QOSWATCH_ONCALL: onCallFile(doc),
          SMTP_URL: smtp.url,
          // A page cut by a kill is sent again once the killed run's claim (3 × this) has run out: within the wait below.
          QOSWATCH_PAGE_TIMEOUT: '3s',
          QOSWATCH_LOG_LEVEL: 'info',
        },
        log,
      );
      await fleet.start();

      const expectedRun = o.kills * ((o.upMs[0] + o.upMs[1]) / 2 + 1000);
      const stormAt = Math.max(1000, Math.round(expectedRun / 3));
      const faults: Fault[] = [{ kind: 'stall_storm', cdn: 'cdn-a', region: STORM_REGION, ratio: 0.6, at: stormAt, for: 24 * 3_600_000 }];
      const f = fleet;
      loader = new Loader({ url: () => f.url, key: INGEST_KEY, regions: REGIONS, sessions: o.sessions, intervalMs: o.intervalMs, seed: o.seed, faults, batch: 250, maxInFlight: 8, windowMs: DRILL_WINDOW_MS });
      loader.start();
      log(`kill9: load started, stall storm in ${STORM_REGION} at +${ms(stormAt)}`);

      let rng = o.seed;
      const random = () => ((rng = (Math.imul(rng, 1103515245) + 12345) >>> 0) / 2 ** 32);
      let incidentSeenBeforeKill = -1;
      let killedMidRequest = 0;
      for (let i = 1; i <= o.kills; i++) {
        await sleep(o.upMs[0] + random() * (o.upMs[1] - o.upMs[0]));
        if (incidentSeenBeforeKill < 0 && (await allIncidents(fleet.url!)).length > 0) incidentSeenBeforeKill = i;
        // kill while a request is in flight when one comes within half a second (a crash mid-request is the hard case)
        const deadline = Date.now() + 500;
        while (loader.inFlight === 0 && Date.now() < deadline) await sleep(1);
        if (loader.inFlight > 0) killedMidRequest++;
        const took = await fleet.kill9AndRestart();
        log(`kill9: kill ${i}/${o.kills}, back in ${ms(took)}; acknowledged ${fmt(loader.acceptedSamples)}, in doubt ${fmt(loader.inDoubtSamples)}`);
      }
      await sleep(o.settleMs);
      const loadSeconds = (Date.now() - loader.startedAt) / 1000;
      const offered = loader.offeredRate();
      await loader.stop(60_000);
      log('kill9: load stopped');

      // pages: wait for the outbox to empty and the pages to arrive
      const url = fleet.url!;
      await until(async () => (await metric(url, 'qoswatch_outbox_backlog')) === 0 && smtp.mails.length > 0 && receiver.requests.length > 0, 30_000);

      const term1 = await fleet.stop();
      report.check(term1 === 0, `SIGTERM after the kills: exit ${term1} (expected 0)`);
      // a last start drains whatever the shutdown left in the spool; then count
      await fleet.start();
      const drainMs = await spoolDrained(fleet.url!, 120_000);
      report.check(drainMs !== undefined, 'the spool did not drain within 2 min of the last start');
      const incidents = await allIncidents(fleet.url!);
      const storm = incidents.filter((i) => i.region === STORM_REGION);
      const timeline = storm[0] ? await incidentTimeline(fleet.url!, storm[0].id) : [];
      const spoolDropped = await metric(fleet.url!, 'qoswatch_spool_dropped_points_total');
      const rejectedPoints = await metric(fleet.url!, 'qoswatch_influx_points_rejected_total');
      const term2 = await fleet.stop();
      report.check(term2 === 0, `final SIGTERM: exit ${term2} (expected 0)`);

      // ---- figures
      report.figure('kills (kill -9) / with a telemetry request in flight', `${o.kills} / ${killedMidRequest}`);
      report.figure('load: simulated samples/s offered, over', `${fmt(offered)} /s over ${fmt(loadSeconds, 1)} s (${REGIONS.length} regions, batches ≤ 250)`);
      reportRestarts(report, fleet);
      report.figure('HTTP statuses', loader.statuses.text());
      report.figure('requests cut or refused (client side)', loader.errors.text());
      report.figure('samples generated / shed / never sent', `${fmt(loader.generated)} / ${fmt(loader.shed)} / ${fmt(loader.unsent)}`);
      report.check(loader.unsent === 0, `${fmt(loader.unsent)} generated samples were still unsent when the load stopped (the service never took them)`);
      report.check(loader.rejectedSamples === 0, `the service rejected ${fmt(loader.rejectedSamples)} simulator samples: ${loader.firstRejection}`);
      const cmp = compare(loader.ledger, await storedPerWindow(influx, db, loader.ledger));
      reportComparison(report, cmp);
      report.figure('spool points dropped / refused by InfluxDB', `${fmt(spoolDropped)} / ${fmt(rejectedPoints)}`);
      report.check(spoolDropped === 0 && rejectedPoints === 0, `points lost on the way to InfluxDB: ${spoolDropped} dropped from the spool, ${rejectedPoints} refused`);

      reportStorm(report, STORM_REGION, incidents, timeline);
      report.figure('kills after the incident opened', incidentSeenBeforeKill < 0 ? '0 (it opened after the last kill)' : `${o.kills - incidentSeenBeforeKill + 1}`);
      const { hook, mail } = reportAlicePages(report, receiver.requests, smtp);
      report.figure('pages re-sent after a restart (service log)', fleet.pagesResent);
      if (hook.answered2xx > 1 || mail.messages > 1) {
        report.note(`an opened page reached a receiver more than once with the same idempotency key (ops-hook ${hook.answered2xx}×, email ${mail.messages}×): a kill between the delivery and its record; receivers honouring Idempotency-Key / Message-ID see it once (README, Paging)`);
      }
      const bobPaged = receiver.requests.filter((r) => r.body.includes('U-bob')).length;
      report.check(bobPaged === 0, `bob (level 2, after a 1 h ack timeout) was paged ${bobPaged} time(s)`);
      const errors = fleet.errorLines();
      report.figure('error-level log lines (all processes)', errors.length);
      if (errors.length) report.note(`first error logged: ${errors[0]!.slice(0, 300)}`);
    },
    async () => {
      await loader?.stop(0).catch(() => {});
      await fleet?.destroy();
      await receiver.stop();
      await smtp.stop();
      await influx?.destroy();
    },
  );
}

import type { Fault } from '../src/simulator/faults.js';
import { WEBHOOK_SECRET } from '../test/helpers/paging.js';
import { HttpReceiver, type ReceivedRequest, json, webhookSignatureValid } from '../test/helpers/receiver.js';
import { SmtpSink } from '../test/helpers/smtp.js';
import { DRILL_WINDOW_MS, type DrillResult, type Log, Report, SERVICE_ENV, fmt, ms, runDrill, sleep, until } from './common.js';
import { Loader } from './loader.js';
import { Fleet, INGEST_KEY, PAGING_ENV, allIncidents, countMails, countPages, fastStallRule, incidentTimeline, onCallFile, rulesDir } from './services.js';

export interface PagingOptions {
  /** How long SMTP and two chat endpoints stay broken, ms, from the service's start. */
  outageMs: number;
  /** kill -9 the service once while pages are waiting for their retries. */
  kill: boolean;
  seed: number;
  log?: Log;
}

export const PAGING_DEFAULTS: PagingOptions = { outageMs: 20_000, kill: true, seed: 20 };

const OPS = '/hooks/ops';
const SRE = '/hooks/sre';
const WECOM = '/cgi-bin/webhook/send';
const CHANNELS = ['email', 'team-wecom', 'ops-hook', 'sre-hook'] as const;
const P2_REGION = 'eu-west';
const P1_REGION = 'us-east';

const WECOM_OK = '{"errcode":0,"errmsg":"ok"}';
const WECOM_RATE_LIMITED = '{"errcode":45009,"errmsg":"api freq out of limit"}';

/**
 * Paging while delivery is broken: SMTP is down (its port closed), the generic webhook `ops-hook` answers 500, the
 * WeCom robot answers HTTP 200 with a body-level error (errcode 45009, rate limited: retryable), and only `sre-hook`
 * works. alice's channels, in order: email, team-wecom, ops-hook, sre-hook. A P2 incident pages the first channel
 * and falls back channel by channel to sre-hook; a P1 incident pages all four at once. The service is killed once
 * while the failed pages wait for their retries; then everything recovers. Every page must arrive exactly once:
 * at once through sre-hook, the others after the recovery.
 */
export async function drillPaging(opts: Partial<PagingOptions> = {}): Promise<DrillResult> {
  const o = { ...PAGING_DEFAULTS, ...opts };
  const log = o.log ?? (() => {});
  const report = new Report('paging', `SMTP down, a chat webhook answering 500 and a WeCom robot answering errcode 45009 for ${ms(o.outageMs)}${o.kill ? ', kill -9 in the middle' : ''}; a P2 and a P1 incident`);
  const smtp = new SmtpSink();
  const ops = new HttpReceiver();
  const sre = new HttpReceiver();
  const wecom = new HttpReceiver();
  let fleet: Fleet | undefined;
  let loader: Loader | undefined;

  return runDrill(
    report,
    async () => {
      await smtp.start();
      await smtp.stop(); // SMTP down: nothing listens on its port until the recovery
      for (const r of [ops, sre, wecom]) await r.start();
      ops.otherwise = { status: 500, body: 'internal error' };
      wecom.otherwise = { status: 200, body: WECOM_RATE_LIMITED };

      const doc = {
        people: [{ id: 'alice', name: 'Alice', email: 'alice@example.com', chat: { webhook: 'U-alice', wecom: 'alice.w' }, notify: [...CHANNELS] }],
        channels: [
          { id: 'ops-hook', provider: 'webhook', url: ops.url(OPS), secret: WEBHOOK_SECRET },
          { id: 'sre-hook', provider: 'webhook', url: sre.url(SRE), secret: WEBHOOK_SECRET },
          { id: 'team-wecom', provider: 'wecom', url: wecom.url(`${WECOM}?key=wecom-key-0123456789`) },
        ],
        schedules: [{ id: 'primary', layers: [{ id: 'all', timezone: 'UTC', rotation: 'daily', handoff: '00:00', start: '2020-01-01', members: ['alice'] }] }],
        escalation_policies: [{ id: 'main', levels: [{ targets: [{ schedule: 'primary' }], ack_timeout: '1h' }], repeat: 0 }],
        default_policy: 'main',
      };
      const rules = rulesDir([
        fastStallRule({ id: 'drill-stall-p2', filter: { region: P2_REGION }, thresholds: { P2: '> 0.05' } }),
        fastStallRule({ id: 'drill-stall-p1', filter: { region: P1_REGION }, thresholds: { P1: '> 0.2' } }),
      ]);
      fleet = new Fleet({ ...SERVICE_ENV, ...PAGING_ENV, QOSWATCH_RULES_DIR: rules, QOSWATCH_ONCALL: onCallFile(doc), SMTP_URL: smtp.url, QOSWATCH_PAGE_TIMEOUT: '3s', QOSWATCH_LOG_LEVEL: 'warn' }, log);
      const startedAt = Date.now();
      await fleet.start();
      const faults: Fault[] = [
        { kind: 'stall_storm', cdn: 'cdn-a', region: P2_REGION, ratio: 0.25, at: 1000, for: 3_600_000 },
        { kind: 'stall_storm', cdn: 'cdn-a', region: P1_REGION, ratio: 0.8, at: 1000, for: 3_600_000 },
      ];
      const f = fleet;
      loader = new Loader({ url: () => f.url, key: INGEST_KEY, regions: [P2_REGION, P1_REGION, 'ap-south'], sessions: 600, intervalMs: 1000, seed: o.seed, faults, batch: 250, maxInFlight: 4, windowMs: DRILL_WINDOW_MS });
      loader.start();

      const sreOpened = () => sre.requests.filter((r) => r.answered?.status === 200 && json(r).kind === 'opened').length;
      const fallbackOk = await until(() => sreOpened() >= 2, 30_000);
      report.check(fallbackOk, `the working channel (sre-hook) did not get both opened pages within 30 s (got ${sreOpened()})`);
      log(`paging: both incidents paged through sre-hook at +${ms(Date.now() - startedAt)}`);
      if (o.kill) {
        await sleep(2000);
        const took = await fleet.kill9AndRestart();
        log(`paging: killed -9 and restarted in ${ms(took)}`);
      }
      const recoverAt = startedAt + o.outageMs;
      if (Date.now() > recoverAt) report.note(`the outage lasted longer than asked (${ms(Date.now() - startedAt)}): the fallbacks and the restart took that long`);
      await sleep(recoverAt - Date.now());
      await smtp.start(smtp.port);
      ops.otherwise = { status: 200, body: 'ok' };
      wecom.otherwise = { status: 200, body: WECOM_OK };
      const recoveredAt = Date.now();
      log(`paging: SMTP, ops-hook and WeCom recovered at +${ms(recoveredAt - startedAt)}`);

      const incidents = (await allIncidents(fleet.url!)).sort((a, b) => a.id - b.id);
      const expectedPages = incidents.length * CHANNELS.length;
      const delivered = async () => {
        let n = 0;
        for (const inc of incidents) n += (await incidentTimeline(fleet!.url!, inc.id)).filter((e) => e.kind === 'page_delivered' && e.data?.kind === 'opened').length;
        return n;
      };
      // the retry budget (8 attempts, 1 s doubling, capped) runs out about 1–2 min after the first failure
      const allDelivered = await until(async () => (await delivered()) >= expectedPages, 180_000, 500);
      await sleep(3000); // anything sent twice would arrive by now
      const allIncidentsNow = await allIncidents(fleet.url!);
      let retries = 0;
      let failedForGood = 0;
      for (const inc of incidents) {
        for (const e of await incidentTimeline(fleet.url!, inc.id)) {
          if (e.kind !== 'page_failed') continue;
          if (e.data?.retrying) retries++;
          else failedForGood++;
        }
      }
      await loader.stop(10_000);

      report.figure('incidents', incidents.map((i) => `#${i.id} ${i.region} ${i.priority}`).join(', ') || 'none');
      const p2 = incidents.find((i) => i.region === P2_REGION);
      const p1 = incidents.find((i) => i.region === P1_REGION);
      report.check(incidents.length === 2 && p2?.priority === 'P2' && p1?.priority === 'P1', `expected one P2 incident in ${P2_REGION} and one P1 in ${P1_REGION}, got ${JSON.stringify(incidents.map((i) => [i.id, i.region, i.priority]))}`);
      report.check(allIncidentsNow.length === incidents.length, `incidents changed while paging: ${allIncidentsNow.length} now`);
      report.check(allDelivered, `not every opened page was delivered within 3 min of the recovery: ${await delivered()} of ${expectedPages}`);
      report.figure('page attempts that failed and were retried / failed for good', `${fmt(retries)} / ${fmt(failedForGood)}`);
      report.check(failedForGood === 0, `${failedForGood} page(s) failed for good (retry budget exhausted or a permanent error)`);
      report.figure('pages re-sent after the restart (service log)', fleet.pagesResent);

      for (const inc of [p2, p1]) {
        if (!inc) continue;
        const tl = await incidentTimeline(fleet.url!, inc.id);
        const openedAt = Date.parse(inc.opened_at);
        const deliveredAt = new Map<string, number[]>();
        for (const e of tl) if (e.kind === 'page_delivered' && e.data?.kind === 'opened') deliveredAt.set(e.data.channel, [...(deliveredAt.get(e.data.channel) ?? []), Date.parse(e.at)]);
        const fallbacks = tl.filter((e) => e.kind === 'page_fallback').map((e) => `${e.data?.from}→${e.data?.to}`);
        const label = `${inc.priority} #${inc.id}`;
        if (inc.priority === 'P2') {
          report.figure(`${label}: fallbacks`, fallbacks.join(', ') || 'none');
          report.check(fallbacks.includes('email→team-wecom') && fallbacks.includes('team-wecom→ops-hook') && fallbacks.includes('ops-hook→sre-hook'), `${label}: expected the fallback chain email→team-wecom→ops-hook→sre-hook, got ${fallbacks.join(', ') || 'none'}`);
        }
        const sreAt = deliveredAt.get('sre-hook')?.[0];
        report.figure(`${label}: opened → delivered via sre-hook (working fallback)`, sreAt === undefined ? 'never' : ms(sreAt - openedAt));
        report.check(sreAt !== undefined && sreAt < recoveredAt, `${label}: the page was not delivered through the working channel before the recovery`);
        const late = (['email', 'team-wecom', 'ops-hook'] as const).map((c) => [c, deliveredAt.get(c)?.[0]] as const);
        report.figure(`${label}: delivered after the recovery (email, WeCom, ops-hook)`, late.map(([c, t]) => `${c} ${t === undefined ? 'never' : `+${ms(t - recoveredAt)}`}`).join(', '));
        for (const [c, t] of late) report.check(t !== undefined && t >= recoveredAt, `${label}: ${c} ${t === undefined ? 'never delivered' : 'delivered before the recovery (it was down!)'}`);
        for (const c of CHANNELS) {
          const n = deliveredAt.get(c)?.length ?? 0;
          report.check(n === 1, `${label}: ${n} page_delivered entries for ${c} (expected 1)`);
        }

        // what the receivers saw, counted as a receiver honouring Idempotency-Key / Message-ID does, and raw
        const ofInc = (rs: readonly ReceivedRequest[]) => rs.filter((r) => json(r).kind === 'opened' && json(r).incident?.id === inc.id);
        const opsC = countPages(ofInc(ops.requests));
        const sreC = countPages(ofInc(sre.requests));
        const wecomReqs = wecom.requests.filter((r) => (json(r).markdown?.content ?? '').includes(`${inc.priority} ${inc.region}`) && !/acknowledged|mitigated|resolved/.test(json(r).markdown?.content ?? ''));
        const wecomOk = wecomReqs.filter((r) => r.answered?.body === WECOM_OK).length;
        const mail = countMails(smtp, 'alice@example.com', 'opened', inc.id);
        report.figure(`${label}: ops-hook requests / delivered (by key) · sre-hook requests / delivered`, `${opsC.requests} / ${opsC.deliveredOnce} · ${sreC.requests} / ${sreC.deliveredOnce}`);
        report.figure(`${label}: WeCom requests / accepted (errcode 0) · emails / Message-IDs`, `${wecomReqs.length} / ${wecomOk} · ${mail.messages} / ${mail.messageIds}`);
        report.check(opsC.deliveredOnce === 1 && opsC.keys === 1, `${label}: ops-hook ${JSON.stringify(opsC)} (expected one key, delivered once)`);
        report.check(sreC.deliveredOnce === 1 && sreC.keys === 1 && sreC.answered2xx === 1, `${label}: sre-hook ${JSON.stringify(sreC)} (expected exactly one delivery: it never failed)`);
        // WeCom has no idempotency key: a second accepted message is a duplicate people see
        report.check(wecomOk === 1, `${label}: WeCom accepted ${wecomOk} opened messages (expected exactly 1; WeCom has no idempotency key)`);
        report.check(mail.messageIds === 1 && mail.messages === 1, `${label}: ${mail.messages} emails with ${mail.messageIds} Message-IDs (expected 1 and 1)`);
        const unsigned = [...ofInc(ops.requests), ...ofInc(sre.requests)].filter((r) => !webhookSignatureValid(r, WEBHOOK_SECRET)).length;
        report.check(unsigned === 0, `${label}: ${unsigned} webhook requests with a bad signature`);
      }
      const errors = fleet.errorLines();
      report.figure('error-level log lines', errors.length);
      if (errors.length) report.note(`first error logged: ${errors[0]!.slice(0, 300)}`);
    },
    async () => {
      await loader?.stop(0).catch(() => {});
      await fleet?.destroy();
      for (const r of [ops, sre, wecom]) await r.stop();
      await smtp.stop();
    },
  );
}

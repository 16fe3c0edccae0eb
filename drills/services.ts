import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { type RuleDef, api, writeRules } from '../test/helpers/alerting.js';
import { INGEST_KEY } from '../test/helpers/app.js';
import { type OnCallDoc, LINK_SECRET, OPS_HOOK, PUBLIC_URL } from '../test/helpers/paging.js';
import { type ReceivedRequest, acceptedOnce, header, json } from '../test/helpers/receiver.js';
import { ServiceProcess } from '../test/helpers/service.js';
import type { SmtpSink } from '../test/helpers/smtp.js';
import { tempDir } from '../test/helpers/tmp.js';
import { metricsText } from '../test/helpers/metrics.js';
import { type Log, type Report, fmt, ms, sleep, spoolDrained } from './common.js';

export { INGEST_KEY };

/**
 * The service as a real process for drills (test/helpers/service.ts), with the bookkeeping drills need across
 * restarts: how long each start took and what it logged about replays and re-sent pages.
 */
export class Fleet {
  /** The service now answering (undefined while it is down). */
  current: ServiceProcess | undefined;
  readonly dataDir = tempDir('qoswatch-drill');
  readonly restartMs: number[] = [];
  readonly replays: { rows: number; samples: number }[] = [];
  pagesResent = 0;
  private readonly all: ServiceProcess[] = [];

  constructor(
    private readonly env: Record<string, string>,
    private readonly log: Log = () => {},
  ) {}

  get url(): string | undefined {
    return this.current?.url;
  }

  async start(): Promise<ServiceProcess> {
    const svc = new ServiceProcess(this.env, this.dataDir);
    this.all.push(svc);
    await svc.start();
    this.current = svc;
    return svc;
  }

  /** kill -9 and start again on the same data dir; returns ms from the kill to /healthz answering. */
  async kill9AndRestart(): Promise<number> {
    const svc = this.current!;
    this.current = undefined;
    const t0 = Date.now();
    const how = await svc.stop('SIGKILL');
    if (how !== 'SIGKILL') throw new Error(`the service had already exited (${how}) before kill -9: ${svc.output.slice(-2000)}`);
    this.read(svc);
    await this.start();
    const took = Date.now() - t0;
    this.restartMs.push(took);
    return took;
  }

  /**
   * Ships every window before counting: SIGTERM (exit 0 checked, unless the drill found the service dead), a last
   * start that drains what the shutdown left in the spool, its /metrics, a last SIGTERM (checked too).
   */
  async stopAndDrain(report: Report, what: string, running = true): Promise<{ drainMs: number | undefined; metrics: string }> {
    const term = running ? await this.stop() : 'dead';
    report.check(term === 0, `SIGTERM after the ${what}: exit ${term} (expected 0)`);
    const last = await this.start();
    const drainMs = await spoolDrained(last.url, 120_000);
    report.check(drainMs !== undefined, 'the spool did not drain within 2 min of the last start');
    const metrics = await metricsText(last.url);
    const final = await this.stop();
    report.check(final === 0, `final SIGTERM: exit ${final} (expected 0)`);
    return { drainMs, metrics };
  }

  /** SIGTERM; returns the exit code (0 expected). */
  async stop(): Promise<number | string> {
    const svc = this.current;
    this.current = undefined;
    if (!svc) return 'not running';
    const code = await svc.stop('SIGTERM');
    this.read(svc);
    return code;
  }

  /** Is the current process still alive? */
  alive(): boolean {
    const p = this.current?.proc;
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  /** Kills whatever still runs (cleanup). */
  async destroy(): Promise<void> {
    await Promise.allSettled(this.all.filter((s) => s.proc).map((s) => s.stop('SIGKILL')));
    this.current = undefined;
  }

  /** The last lines of the current (or last) process's output, for failure messages. */
  tail(n = 20): string {
    const svc = this.current ?? this.all.at(-1);
    return (svc?.output ?? '').trim().split('\n').slice(-n).join('\n');
  }

  private read(svc: ServiceProcess): void {
    for (const line of svc.output.split('\n')) {
      if (line.includes('replayed the telemetry journal')) {
        try {
          const e = JSON.parse(line) as { rows: number; samples: number };
          this.replays.push({ rows: e.rows, samples: e.samples });
        } catch {
          /* not JSON */
        }
      }
      if (line.includes('pages interrupted by a restart')) {
        try {
          this.pagesResent += (JSON.parse(line) as { pages?: number }).pages ?? 1;
        } catch {
          this.pagesResent++;
        }
      }
    }
    const errors = svc.output.split('\n').filter((l) => /"level":(50|60)/.test(l));
    for (const e of errors.slice(0, 3)) this.log(`service error log: ${e.slice(0, 400)}`);
  }

  /** Error-level lines the processes logged (level 50/60). */
  errorLines(): string[] {
    return this.all.flatMap((s) => s.output.split('\n').filter((l) => /"level":(50|60)/.test(l)));
  }
}

/** A stall-ratio rule that fires at once over the last 3 one-second windows and holds for an hour once firing. */
export function fastStallRule(over: RuleDef = {}): RuleDef {
  return { id: 'drill-stall', description: 'stall ratio per region (drill)', metric: 'stall_ratio', window: '3s', thresholds: { P1: '> 0.1' }, for: '0s', clear_for: '1h', min_sessions: 10, ...over };
}

export const rulesDir = (rules: RuleDef[]): string => writeRules(rules);

/** Writes an on-call document; returns its path. */
export function onCallFile(doc: OnCallDoc): string {
  const path = join(tempDir('qoswatch-drill-oncall'), 'oncall.yaml');
  writeFileSync(path, stringify(doc));
  return path;
}

export const PAGING_ENV = { QOSWATCH_PUBLIC_URL: PUBLIC_URL, QOSWATCH_LINK_SECRET: LINK_SECRET };

/** Incidents through the admin API (all of them, newest first). */
export async function allIncidents(url: string): Promise<any[]> {
  const r = await api(url, 'GET', '/v1/incidents?limit=200');
  if (r.status !== 200) throw new Error(`GET /v1/incidents answered ${r.status}`);
  return r.body.incidents;
}

export async function incidentTimeline(url: string, id: number): Promise<{ kind: string; at: string; data?: Record<string, any> }[]> {
  const r = await api(url, 'GET', `/v1/incidents/${id}`);
  if (r.status !== 200) throw new Error(`GET /v1/incidents/${id} answered ${r.status}`);
  return r.body.timeline;
}

/** What a receiver saw of one page (recipient, channel, kind): raw requests, keys, deliveries a key-honouring receiver counts. */
export interface PageCount {
  requests: number;
  cut: number;
  answered2xx: number;
  keys: number;
  deliveredOnce: number;
}

export function countPages(requests: readonly ReceivedRequest[], accepted?: (r: ReceivedRequest) => boolean): PageCount {
  return {
    requests: requests.length,
    cut: requests.filter((r) => r.cut).length,
    answered2xx: requests.filter((r) => r.answered !== undefined && r.answered.status >= 200 && r.answered.status < 300).length,
    keys: new Set(requests.map((r) => header(r, 'idempotency-key'))).size,
    deliveredOnce: acceptedOnce(requests, accepted).length,
  };
}

/** Emails of a kind ("opened") to an address: raw messages and distinct Message-IDs. */
export function countMails(smtp: SmtpSink, to: string, kind: string, incidentId?: number): { messages: number; messageIds: number } {
  const mails = smtp.mails.filter((m) => [m.to].flat().some((a) => a?.text.includes(to)) && (m.subject ?? '').includes(`${incidentId === undefined ? '' : `#${incidentId} `}${kind})`));
  return { messages: mails.length, messageIds: new Set(mails.map((m) => m.messageId)).size };
}

/** Opened pages to the ops-hook for one recipient mention. */
export const opsHookOpened = (requests: readonly ReceivedRequest[], mention: string) => requests.filter((r) => r.path === OPS_HOOK && json(r).kind === 'opened' && json(r).mention === mention);

/** Restart figures of a fleet into a report. */
export function reportRestarts(report: Report, fleet: Fleet): void {
  const sorted = [...fleet.restartMs].sort((a, b) => a - b);
  if (sorted.length) {
    report.figure('restart: kill -9 → /healthz answering, median / max', `${ms(sorted[Math.floor(sorted.length / 2)]!)} / ${ms(sorted.at(-1)!)}`);
  }
  if (fleet.replays.length) {
    const rows = fleet.replays.map((r) => r.rows).sort((a, b) => a - b);
    const samples = fleet.replays.map((r) => r.samples).sort((a, b) => a - b);
    report.figure('journal replay at start: rows, median / max', `${fmt(rows[Math.floor(rows.length / 2)]!)} / ${fmt(rows.at(-1)!)}`);
    report.figure('journal replay at start: samples re-aggregated, median / max', `${fmt(samples[Math.floor(samples.length / 2)]!)} / ${fmt(samples.at(-1)!)}`);
  }
}

export { sleep };

/** The storm checks every drill with a stall storm makes: one incident there, none elsewhere, opened once. */
export function reportStorm(report: Report, region: string, incidents: readonly any[], timeline: readonly { kind: string }[]): void {
  const storm = incidents.filter((i) => i.region === region);
  const others = incidents.filter((i) => i.region !== region);
  report.figure(`incidents in ${region} (stall storm) / elsewhere`, `${storm.length} / ${others.length}`);
  report.check(storm.length === 1, `expected exactly one incident in ${region}, found ${storm.length}: ${JSON.stringify(storm.map((i) => ({ id: i.id, state: i.state, opened_at: i.opened_at })))}`);
  report.check(others.length === 0, `incidents in healthy regions: ${JSON.stringify(others.map((i) => ({ id: i.id, region: i.region })))}`);
  const kinds = timeline.map((e) => e.kind);
  const opened = kinds.filter((k) => k === 'opened').length;
  const reopened = kinds.filter((k) => k === 'reopened').length;
  report.figure('timeline: opened / reopened / mitigated entries', `${opened} / ${reopened} / ${kinds.filter((k) => k === 'mitigated').length}`);
  if (storm.length) report.check(opened === 1 && reopened === 0, `the incident's timeline has ${opened} opened and ${reopened} reopened entries (expected 1 and 0)`);
}

/** alice's opened page, counted per channel: exactly one delivery by key (ops-hook) and by Message-ID (email). */
export function reportAlicePages(report: Report, requests: readonly ReceivedRequest[], smtp: SmtpSink): { hook: PageCount; mail: { messages: number; messageIds: number } } {
  const hook = countPages(opsHookOpened(requests, 'U-alice'));
  const mail = countMails(smtp, 'alice@example.com', 'opened');
  report.figure('opened page to alice on ops-hook: requests / cut by a kill / answered 2xx / idempotency keys / delivered (key-deduplicated)', `${hook.requests} / ${hook.cut} / ${hook.answered2xx} / ${hook.keys} / ${hook.deliveredOnce}`);
  report.figure('opened page to alice by email: messages / Message-IDs', `${mail.messages} / ${mail.messageIds}`);
  report.check(hook.deliveredOnce === 1 && hook.keys === 1, `ops-hook: expected exactly one opened page to alice (one key, delivered once), got ${JSON.stringify(hook)}`);
  report.check(mail.messageIds === 1, `email: expected exactly one opened page to alice (one Message-ID), got ${JSON.stringify(mail)}`);
  return { hook, mail };
}

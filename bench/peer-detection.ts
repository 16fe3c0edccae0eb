import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import { join } from 'node:path';
import { type ParsedMail, simpleParser } from 'mailparser';
import pg from 'pg';
import { INGEST_KEY } from '../test/helpers/app.js';
import { prepareNats, removePrefix, testPrefix } from '../test/helpers/nats.js';
import { type OnCallDoc, writeOnCall } from '../test/helpers/paging.js';
import { freePort, waitFor } from '../test/helpers/ports.js';
import { preparePostgres } from '../test/helpers/postgres.js';
import { HttpReceiver, type ReceivedRequest } from '../test/helpers/receiver.js';
import { CLI, ServiceProcess } from '../test/helpers/service.js';
import { tempDir } from '../test/helpers/tmp.js';
import { fmt, percentile } from './machine.js';
import { retryOn429 } from './retry.js';

/**
 * Benchmark 1 of the peer issue: detection-to-page latency, qoswatch against VictoriaMetrics + vmalert + Prometheus
 * Alertmanager, with the same rule and the same input stream, each paging a webhook and an SMTP server on loopback.
 *
 * The stream: per trial a fresh region with VIEWERS viewers, each sending one beacon per second for the second that
 * just ended (`ts` = start of its interval, `interval_ms` 1000). Healthy beacons stall 1 % (10 of 1000 ms); from t0
 * every beacon stalls 60 %, so the first breaching beacon alone lifts the 5 s ratio of sums to ≈ 12.8 % (> 5 %)
 * whatever the phase of the windows, and the breach lasts until both pages have arrived (a real rebuffering
 * incident does not stop after one beacon — and a peer evaluating a 5 s range once a minute only sees 5 s of each
 * minute). t0 is taken just before the first breaching batch is sent; a page's time is when the receiver has read
 * the whole request (webhook) or the final "." of the message (SMTP), on this process's monotonic clock.
 *
 * qoswatch gets the beacons as `POST /v1/telemetry` JSON; VictoriaMetrics gets the very same beacons as InfluxDB line
 * protocol (`POST /write?precision=ms`, one point per beacon at its `ts`, the viewer as a label so beacons of one
 * second do not collide in one series): `qos_play_ms`, `qos_stall_ms`, `qos_stall_count`. They are per-interval
 * amounts (gauges holding a delta), not cumulative counters, so the peer's rule is a ratio of `sum_over_time` sums —
 * `increase()` would read them wrong.
 */

export const VIEWERS = 10;
const HEALTHY = { play_ms: 990, stall_ms: 10, stall_count: 1 };
const BREACHING = { play_ms: 400, stall_ms: 600, stall_count: 1 };

/** qoswatch's rule: stall ratio over the last 5 s above 5 %, fires at once, no sample guards. */
export const QOSWATCH_RULE = `rules:
  - id: stall-5s
    description: stall ratio over 5 s above 5 %
    metric: stall_ratio
    window: 5s
    thresholds: { P1: "> 0.05" }
    for: 0s
    clear_for: 5s
    min_samples: 0
    min_sessions: 0
`;

/**
 * Every trial is an incident of its own, paged on its own, as Alertmanager grouped by region pages each region: no
 * storm grouping of one tenant's incidents (trials overlap), no open-incident or page budget across a long run.
 */
export const ONE_PAGE_PER_INCIDENT = { QOSWATCH_STORM_THRESHOLD: '10000', QOSWATCH_TENANT_MAX_INCIDENTS: '100000', QOSWATCH_TENANT_PAGE_BUDGET: '1000000/1s' };

/** qoswatch's settings besides the rule: 1 s aggregation windows, so the 5 s rule reads 5 of them like `[5s]` does. */
export const QOSWATCH_ENV = {
  QOSWATCH_WINDOW: '1s',
  // The default (1/1s per chat endpoint, for Slack) would queue pages of overlapping trials behind each other's
  // "mitigated" notices; Alertmanager has no such throttle in front of its webhook.
  QOSWATCH_CHAT_RATE: '50/1s',
  QOSWATCH_LOG_LEVEL: 'warn',
  ...ONE_PAGE_PER_INCIDENT,
};


/** The peer's rule (vmalert), the same ratio of sums over 5 s per region. */
export const VMALERT_RULE = `groups:
  - name: qos
    rules:
      - alert: StallRatioHigh
        expr: >-
          sum by (region) (sum_over_time(qos_stall_ms[5s]))
          / (sum by (region) (sum_over_time(qos_play_ms[5s])) + sum by (region) (sum_over_time(qos_stall_ms[5s])))
          > 0.05
        for: 0s
        labels: { severity: P1 }
        annotations: { summary: "stall ratio {{ $value }} in {{ $labels.region }}" }
`;

export type PeerMode = 'tuned' | 'defaults';

/** Alertmanager's configuration; `tuned` adds the timing overrides, `defaults` keeps group_wait 30s, group_interval 5m. */
export function alertmanagerYaml(mode: PeerMode, hookUrl: string, smtpPort: number): string {
  return `global:
  smtp_smarthost: 127.0.0.1:${smtpPort}
  smtp_from: alertmanager@localhost
  smtp_hello: localhost
  smtp_require_tls: false
route:
  receiver: oncall
  group_by: [alertname, region]
${mode === 'tuned' ? '  group_wait: 0s\n  group_interval: 1s\n' : ''}receivers:
  - name: oncall
    webhook_configs:
      - url: ${hookUrl}
    email_configs:
      - to: oncall@example.com
        headers: { Subject: 'peer {{ .Status }} {{ .GroupLabels.region }}' }
`;
}

/** Command-line flags of the peer processes (besides ports, data dirs and file paths). */
export const PEER_FLAGS: Record<PeerMode, { vm: string[]; vmalert: string[] }> = {
  tuned: { vm: ['-search.latencyOffset=1s'], vmalert: ['-evaluationInterval=1s'] },
  defaults: { vm: [], vmalert: [] },
};

const BINARIES = { vm: 'victoria-metrics', vmalert: 'vmalert', alertmanager: 'prometheus-alertmanager' } as const;

function which(bin: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export interface PeerDetectionRow {
  system: string;
  channel: 'webhook' | 'email';
  /** Trials run. */
  trials: number;
  /** Latencies of the trials whose page arrived, sorted (ms). */
  ms: number[];
  p50: number;
  /** 30 trials have no p99: the 90th percentile is the highest one they estimate. */
  p90: number;
  max: number;
  /** Set when the system was not measured. */
  skipped?: string;
  /** Trials with no page before their timeout, or with a page before t0 (a false alarm). */
  failures: string[];
  /** About the run, e.g. "vmalert evaluated at :46 of every minute". */
  note?: string;
}

export interface PeerDetectionOptions {
  /** Concurrent trials of the peer with its defaults (default: `trials`). */
  defaultsTrials?: number;
  /** Which systems to run (default all three; `cluster`: qoswatch as 3 nodes over PostgreSQL and NATS). */
  runs?: readonly ('qoswatch' | 'cluster' | PeerMode)[];
  /** Progress lines (default console.log). */
  log?: (line: string) => void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Beacon {
  ts: number;
  interval_ms: number;
  region: string;
  session: string;
  play_ms: number;
  stall_ms: number;
  stall_count: number;
}

/** First arrival per region, on the monotonic clock; waiters resolve as soon as it is recorded. */
class Arrivals {
  private readonly at = new Map<string, number>();
  private readonly waiters = new Map<string, ((t: number) => void)[]>();

  record(region: string, t: number): void {
    if (this.at.has(region)) return;
    this.at.set(region, t);
    for (const w of this.waiters.get(region) ?? []) w(t);
    this.waiters.delete(region);
  }

  wait(region: string): Promise<number> {
    const t = this.at.get(region);
    if (t !== undefined) return Promise.resolve(t);
    return new Promise((r) => this.waiters.set(region, [...(this.waiters.get(region) ?? []), r]));
  }
}

/** Calls `fn` the moment an item is pushed onto `list`: HttpReceiver pushes a request when its body has been read. */
function onPush<T>(list: T[], fn: (item: T, at: number) => void): void {
  const push = list.push.bind(list);
  list.push = (...items: T[]) => {
    const at = performance.now();
    for (const item of items) fn(item, at);
    return push(...items);
  };
}

/** A system under test: where the beacons go, and how its pages name the region they are about. */
interface System {
  label: string;
  send(beacons: readonly Beacon[]): Promise<void>;
  hookRegion(r: ReceivedRequest): string | undefined;
  mailRegion(m: ParsedMail): string | undefined;
  /** What the reader needs to know about this run (read after the trials), e.g. vmalert's evaluation phase. */
  note?(): Promise<string | undefined>;
  stop(): Promise<void>;
}

/**
 * A minimal SMTP server on loopback that greets at once and takes each message's arrival time when its final "."
 * is read (before answering 250). Not the tests' SmtpSink: the smtp-server package behind it waits a fixed 100 ms
 * after every connect before its greeting (an early-talker check), which would add 100 ms to every email of both
 * systems (qoswatch and Alertmanager each open a connection per message) and measure the sink, not the system.
 * No AUTH, no STARTTLS (both systems deliver in plain text to it, as configured).
 */
class LoopbackSmtp {
  port = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly onMessage: (raw: string, at: number) => void) {}

  async start(): Promise<void> {
    const server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      socket.setNoDelay(true);
      let buf = '';
      let data: string[] | undefined;
      const reply = (line: string) => socket.write(`${line}\r\n`);
      socket.on('data', (chunk: Buffer) => {
        buf += chunk.toString('latin1');
        for (let nl = buf.indexOf('\r\n'); nl >= 0; nl = buf.indexOf('\r\n')) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 2);
          if (data) {
            if (line === '.') {
              const at = performance.now();
              const raw = data.join('\r\n');
              data = undefined;
              reply('250 OK: queued');
              this.onMessage(raw, at);
            } else data.push(line.startsWith('..') ? line.slice(1) : line);
            continue;
          }
          const verb = line.slice(0, 4).toUpperCase();
          if (verb === 'EHLO') reply('250-bench.localhost\r\n250-8BITMIME\r\n250 SMTPUTF8');
          else if (verb === 'HELO') reply('250 bench.localhost');
          else if (verb === 'MAIL' || verb === 'RCPT' || verb === 'RSET' || verb === 'NOOP') reply('250 OK');
          else if (verb === 'DATA') {
            data = [];
            reply('354 End data with <CR><LF>.<CR><LF>');
          } else if (verb === 'QUIT') {
            reply('221 Bye');
            socket.end();
          } else reply('502 Command not implemented');
        }
      });
      reply('220 bench.localhost ESMTP');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    this.server = server;
    this.port = (server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (s) await new Promise((r) => s.close(r));
  }
}

/** Loopback webhook receiver and SMTP server of one run, with first-arrival times per region. */
interface Receivers {
  http: HttpReceiver;
  smtp: LoopbackSmtp;
  hooks: Arrivals;
  mails: Arrivals;
  bind(sys: Pick<System, 'hookRegion' | 'mailRegion'>): void;
  stop(): Promise<void>;
}

async function receivers(): Promise<Receivers> {
  const hooks = new Arrivals();
  const mails = new Arrivals();
  let sys: Pick<System, 'hookRegion' | 'mailRegion'> | undefined;
  const http = new HttpReceiver();
  // Parsed after the arrival time was taken, so parsing is not counted.
  const smtp = new LoopbackSmtp((raw, at) =>
    void simpleParser(Buffer.from(raw, 'latin1')).then((m) => {
      const region = sys?.mailRegion(m);
      if (region) mails.record(region, at);
    }),
  );
  await http.start();
  await smtp.start();
  onPush(http.requests, (r, at) => {
    const region = sys?.hookRegion(r);
    if (region) hooks.record(region, at);
  });
  return {
    http, smtp, hooks, mails,
    bind: (s) => (sys = s),
    async stop() {
      await http.stop();
      await smtp.stop();
    },
  };
}

const parseJson = (body: string): any => {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
};

/** Batches answered 429 (a busy turn) and sent again: each system's share is reported with the run's notes. */
let retried = 0;

/** An HTTP POST that must answer 2xx (a 429 is sent again after its Retry-After); keep-alive (undici) for both systems alike. */
async function post(url: string, body: string, headers: Record<string, string>): Promise<void> {
  const res = await retryOn429(() => fetch(url, { method: 'POST', headers, body }), () => retried++);
  const text = await res.text();
  if (res.status < 200 || res.status > 299) throw new Error(`POST ${url} answered ${res.status}: ${text.slice(0, 300)}`);
}

// ---------------------------------------------------------------------------------------------------------------
// qoswatch: the built service as its own process.

const QW_HOOK = '/hooks/oncall';

/** One person on call around the clock, paged by the signed generic webhook and by email at once (P1). */
function oncallDoc(hookUrl: string): OnCallDoc {
  return {
    people: [{ id: 'oncall', name: 'On Call', email: 'oncall@example.com', chat: { webhook: 'U-oncall' }, notify: ['email', 'hook'] }],
    channels: [{ id: 'hook', provider: 'webhook', url: hookUrl, secret: 'bench-webhook-secret-0123456789' }],
    schedules: [{ id: 'primary', layers: [{ id: 'all', timezone: 'UTC', rotation: 'daily', handoff: '00:00', start: '2020-01-01', members: ['oncall'] }] }],
    escalation_policies: [{ id: 'page', levels: [{ targets: [{ schedule: 'primary' }], ack_timeout: '1h' }] }],
    default_policy: 'page',
  };
}

/**
 * qoswatch as one process, or (`cluster`) as three processes with every role over the machine's PostgreSQL and NATS
 * (a schema and streams of their own), the beacons sent to them in turn.
 */
async function startQoswatch(rx: Receivers, cluster?: { pgUrl: string; natsUrl: string }): Promise<System> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm run bench does)`);
  const rules = tempDir('bench-peer-rules');
  writeFileSync(join(rules, 'rules.yaml'), QOSWATCH_RULE);
  const oncall = writeOnCall(oncallDoc(rx.http.url(QW_HOOK)));
  const env = { ...QOSWATCH_ENV, QOSWATCH_RULES_DIR: rules, QOSWATCH_ONCALL: oncall, SMTP_URL: `smtp://127.0.0.1:${rx.smtp.port}` };
  const schema = `bench_${randomBytes(5).toString('hex')}`;
  const prefix = testPrefix();
  const nodes = cluster
    ? [1, 2, 3].map((i) => new ServiceProcess({ ...env, QOSWATCH_MODE: 'cluster', DATABASE_URL: cluster.pgUrl, DATABASE_SCHEMA: schema, NATS_URL: cluster.natsUrl, QOSWATCH_NATS_PREFIX: prefix, QOSWATCH_NODE_ID: `node-${i}` }))
    : [new ServiceProcess(env)];
  for (const n of nodes) await n.start();
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${INGEST_KEY}` };
  let turn = 0;
  return {
    label: cluster ? 'qoswatch cluster (3 nodes)' : 'qoswatch',
    send: async (beacons) => {
      const node = nodes[turn++ % nodes.length]!;
      try {
        await post(`${node.url}/v1/telemetry`, JSON.stringify({ samples: beacons }), headers);
      } catch (err) {
        // What the node logged about it, for the failure's message.
        const logged = node.output.split('\n').filter((l) => /"level":(40|50|60)/.test(l)).slice(-3).join('\n');
        throw new Error(`${err instanceof Error ? err.message : String(err)}\n${logged}`);
      }
    },
    hookRegion(r) {
      const b = r.path === QW_HOOK ? parseJson(r.body) : undefined;
      return b?.kind === 'opened' ? (b.incident?.region ?? undefined) : undefined;
    },
    // "[P1] <region>: stall_ratio … (incident #12 opened)"
    mailRegion: (m) => /^\[P\d\] (\S+): .*\bopened\)$/.exec(m.subject ?? '')?.[1],
    async stop() {
      for (const n of nodes) {
        await n.stop('SIGTERM');
        n.cleanup();
      }
      for (const d of [rules, join(oncall, '..')]) rmSync(d, { recursive: true, force: true });
      if (cluster) {
        await removePrefix(cluster.natsUrl, prefix).catch(() => {});
        const c = new pg.Client({ connectionString: cluster.pgUrl });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => c.end());
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The peer: VictoriaMetrics (storage and query) + vmalert (rules) + Alertmanager (grouping and delivery).

/** Child processes still running; killed if this process exits before stopping them (an exception, Ctrl-C). */
const live = new Set<ChildProcess>();
const killLive = () => {
  for (const p of live) p.kill('SIGKILL');
};

class Child {
  readonly proc: ChildProcess;
  private out = '';

  constructor(
    readonly name: string,
    bin: string,
    args: string[],
  ) {
    this.proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(this.proc);
    const keep = (d: Buffer) => (this.out = (this.out + String(d)).slice(-3000));
    this.proc.stdout!.on('data', keep);
    this.proc.stderr!.on('data', keep);
    this.proc.once('exit', () => live.delete(this.proc));
  }

  /** Waits until `url` answers 200 (and the process is still running). */
  async ready(url: string): Promise<void> {
    await waitFor(`${this.name} to answer ${url}`, async () => {
      if (this.proc.exitCode !== null) throw new Error(`${this.name} exited with ${this.proc.exitCode}: ${this.out}`);
      return (await fetch(url)).ok || undefined;
    });
  }

  get output(): string {
    return this.out;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** Why the peer cannot run here (a binary missing), or undefined. */
export function peerMissing(): string | undefined {
  const missing = Object.values(BINARIES).filter((b) => !which(b));
  return missing.length ? `${missing.join(', ')} not installed (bench/setup installs the Debian packages victoria-metrics and prometheus-alertmanager)` : undefined;
}

async function startPeer(mode: PeerMode, rx: Receivers): Promise<System> {
  const dir = tempDir(`bench-peer-${mode}`);
  const [vmPort, vmalertPort, amPort] = [await freePort(), await freePort(), await freePort()];
  const amHook = '/hooks/alertmanager';
  writeFileSync(join(dir, 'rules.yml'), VMALERT_RULE);
  writeFileSync(join(dir, 'alertmanager.yml'), alertmanagerYaml(mode, rx.http.url(amHook), rx.smtp.port));
  for (const d of ['vm', 'am']) mkdirSync(join(dir, d));
  const children: Child[] = [];
  const stop = async () => {
    for (const c of children.reverse()) await c.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const vm = new Child('victoria-metrics', which(BINARIES.vm)!, [
      `-storageDataPath=${join(dir, 'vm')}`, '-retentionPeriod=1d', `-httpListenAddr=127.0.0.1:${vmPort}`, '-loggerLevel=WARN',
      ...PEER_FLAGS[mode].vm,
    ]);
    children.push(vm);
    const am = new Child('alertmanager', which(BINARIES.alertmanager)!, [
      `--config.file=${join(dir, 'alertmanager.yml')}`, `--storage.path=${join(dir, 'am')}`, `--web.listen-address=127.0.0.1:${amPort}`,
      '--cluster.listen-address=', '--log.level=warn',
    ]);
    children.push(am);
    await vm.ready(`http://127.0.0.1:${vmPort}/health`);
    await am.ready(`http://127.0.0.1:${amPort}/-/ready`);
    const vmalert = new Child('vmalert', which(BINARIES.vmalert)!, [
      `-rule=${join(dir, 'rules.yml')}`, `-datasource.url=http://127.0.0.1:${vmPort}`, `-notifier.url=http://127.0.0.1:${amPort}`,
      `-httpListenAddr=127.0.0.1:${vmalertPort}`, '-loggerLevel=WARN', ...PEER_FLAGS[mode].vmalert,
    ]);
    children.push(vmalert);
    await vmalert.ready(`http://127.0.0.1:${vmalertPort}/health`);
  } catch (err) {
    await stop();
    throw err;
  }
  const url = `http://127.0.0.1:${vmPort}/write?precision=ms`;
  const headers = { 'content-type': 'text/plain' };
  return {
    label: `VictoriaMetrics + vmalert + Alertmanager, ${mode === 'tuned' ? 'tuned' : 'defaults'}`,
    send: (beacons) =>
      post(
        url,
        beacons.map((b) => `qos,region=${b.region},session=${b.session} play_ms=${b.play_ms},stall_ms=${b.stall_ms},stall_count=${b.stall_count} ${b.ts}`).join('\n'),
        headers,
      ),
    hookRegion(r) {
      const b = r.path === amHook ? parseJson(r.body) : undefined;
      return b?.status === 'firing' ? (b.groupLabels?.region ?? undefined) : undefined;
    },
    mailRegion: (m) => /^peer firing (\S+)$/.exec(m.subject ?? '')?.[1],
    /**
     * vmalert starts its group at a phase of its own within the evaluation interval and aligns each query's `time`
     * to the interval: with a 1 min interval that phase decides how old the data it reads is, so it is reported.
     */
    async note() {
      const r = (await (await fetch(`http://127.0.0.1:${vmalertPort}/api/v1/rules`)).json()) as { data?: { groups?: { interval: number; lastEvaluation: string }[] } };
      const g = r.data?.groups?.[0];
      if (!g) return undefined;
      const phase = (Date.parse(g.lastEvaluation) % (g.interval * 1000)) / 1000;
      return `vmalert evaluated every ${g.interval} s, ${fmt(phase, 1)} s past each multiple of ${g.interval} s`;
    },
    stop: () => stop(),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Trials.

interface TrialResult {
  hook?: number;
  mail?: number;
  failures: string[];
}

interface Schedule {
  /** When trial i starts its healthy stream, from the start of the run (ms). */
  startAt(i: number): number;
  /** Healthy seconds before the breach. */
  prerollTicks: number;
  /** How long after t0 a page may take before the trial counts as failed. */
  timeoutMs: number;
}

/**
 * One trial: VIEWERS viewers of `region` beacon every second (the previous second's play and stall time); after
 * `prerollTicks` healthy seconds the beacons breach, t0 is taken just before that first breaching batch is sent, and
 * they keep breaching until the webhook page and the email have both arrived (or the timeout).
 */
async function trial(sys: System, rx: Receivers, region: string, s: Schedule): Promise<TrialResult> {
  let t0 = Number.NaN;
  let done = false;
  const hook = rx.hooks.wait(region);
  const mail = rx.mails.wait(region);
  const both = Promise.all([hook, mail]).then(() => {
    done = true;
  });
  const start = performance.now();
  for (let k = 0; !done; k++) {
    const breach = k >= s.prerollTicks;
    if (breach && k === s.prerollTicks) t0 = performance.now();
    if (breach && performance.now() - t0 > s.timeoutMs) break;
    const ts = Date.now() - 1000;
    const m = breach ? BREACHING : HEALTHY;
    const beacons = Array.from({ length: VIEWERS }, (_, v) => ({ ts, interval_ms: 1000, region, session: `${region}-v${v}`, ...m }));
    await sys.send(beacons);
    await Promise.race([sleep(Math.max(0, start + (k + 1) * 1000 - performance.now())), both]);
  }
  const r: TrialResult = { failures: [] };
  const settle = async (p: Promise<number>, what: string): Promise<number | undefined> => {
    const at = await Promise.race([p, sleep(0).then(() => undefined)]);
    if (at === undefined) r.failures.push(`${region}: no ${what} within ${s.timeoutMs / 1000} s of the breach`);
    else if (Number.isNaN(t0) || at < t0) r.failures.push(`${region}: ${what} before the breach (false alarm)`);
    else return at - t0;
    return undefined;
  };
  const h = await settle(hook, 'webhook page');
  const e = await settle(mail, 'email');
  if (h !== undefined) r.hook = h;
  if (e !== undefined) r.mail = e;
  return r;
}

async function runTrials(sys: System, rx: Receivers, prefix: string, n: number, s: Schedule, log: (l: string) => void): Promise<PeerDetectionRow[]> {
  rx.bind(sys);
  const retried0 = retried;
  let finished = 0;
  const results = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      await sleep(s.startAt(i));
      const r = await trial(sys, rx, `${prefix}-${i}`, s);
      finished++;
      const show = (x: number | undefined) => (x === undefined ? 'none' : dur(x));
      log(`  ${sys.label}: trial ${i + 1}/${n} (${finished} done) webhook ${show(r.hook)}, email ${show(r.mail)}${r.failures.length ? ` — ${r.failures.join('; ')}` : ''}`);
      return r;
    }),
  );
  const refused = retried - retried0;
  const note = [await sys.note?.(), refused ? `${refused} beacon batches answered 429 and were sent again` : undefined].filter(Boolean).join('; ');
  const row = (channel: 'webhook' | 'email', xs: number[]): PeerDetectionRow => {
    xs.sort((a, b) => a - b);
    const r: PeerDetectionRow = { system: sys.label, channel, trials: n, ms: xs, p50: percentile(xs, 0.5), p90: percentile(xs, 0.9), max: xs.at(-1) ?? Number.NaN, failures: results.flatMap((r) => r.failures) };
    if (note) r.note = note;
    return r;
  };
  return [
    row('webhook', results.flatMap((r) => (r.hook === undefined ? [] : [r.hook]))),
    row('email', results.flatMap((r) => (r.mail === undefined ? [] : [r.mail]))),
  ];
}

/** Trials of qoswatch and of the tuned peer: one every 2 s at a random phase, each in its own region. */
const quickSchedule = (prerollTicks: number): Schedule => ({
  startAt: (i) => i * 2000 + Math.random() * 1000,
  prerollTicks,
  timeoutMs: 30_000,
});

/**
 * The peer with its defaults needs one to two minutes per trial (30 s latency offset, a 1 min evaluation interval,
 * 30 s group_wait): the trials run concurrently, one region each, spread evenly over one evaluation interval so their
 * breaches fall at every phase of vmalert's minute.
 */
const defaultsSchedule = (n: number): Schedule => ({
  startAt: (i) => (i + Math.random()) * (60_000 / n),
  // The healthy stream covers the 5 s range 30 s back (the latency offset) before the breach.
  prerollTicks: 36,
  timeoutMs: 5 * 60_000,
});

const dur = (ms: number) => (ms < 1000 ? `${fmt(ms, 1)} ms` : `${fmt(ms / 1000, 2)} s`);

/**
 * Runs qoswatch, the tuned peer and the peer with its defaults (each skipped with a message when it cannot run) and
 * returns the rows and a markdown table. `trials` applies to qoswatch and the tuned peer (≥ 30 for the report).
 */
export async function benchPeerDetection(trials: number, o: PeerDetectionOptions = {}): Promise<{ table: string; rows: PeerDetectionRow[] }> {
  const log = o.log ?? ((l: string) => console.log(l));
  const runs = o.runs ?? ['qoswatch', 'tuned', 'defaults'];
  const rows: PeerDetectionRow[] = [];
  const skip = (system: string, why: string) => {
    console.warn(`SKIPPED ${system}: ${why}`);
    for (const channel of ['webhook', 'email'] as const) rows.push({ system, channel, trials: 0, ms: [], p50: NaN, p90: NaN, max: NaN, skipped: why, failures: [] });
  };
  const onSignal = () => process.exit(130);
  process.on('exit', killLive);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    for (const run of runs) {
      const rx = await receivers();
      let sys: System | undefined;
      try {
        if (run === 'qoswatch') {
          log(`detection to page: qoswatch, ${trials} trials…`);
          sys = await startQoswatch(rx);
          rows.push(...(await runTrials(sys, rx, 'qw', trials, quickSchedule(6), log)));
        } else if (run === 'cluster') {
          const [pgUrl, natsUrl] = [await preparePostgres(), await prepareNats()];
          if (!pgUrl || !natsUrl) {
            skip('qoswatch cluster (3 nodes)', 'PostgreSQL or NATS with JetStream is not running here');
            continue;
          }
          log(`detection to page: qoswatch cluster (3 nodes), ${trials} trials…`);
          sys = await startQoswatch(rx, { pgUrl, natsUrl });
          rows.push(...(await runTrials(sys, rx, 'qc', trials, quickSchedule(6), log)));
        } else {
          const label = `VictoriaMetrics + vmalert + Alertmanager, ${run}`;
          const missing = peerMissing();
          if (missing) {
            skip(label, missing);
            continue;
          }
          const n = run === 'tuned' ? trials : (o.defaultsTrials ?? trials);
          log(`detection to page: ${label}, ${n} trials${run === 'defaults' ? ' (concurrent; a few minutes)' : ''}…`);
          sys = await startPeer(run, rx);
          rows.push(...(await runTrials(sys, rx, run === 'tuned' ? 'pt' : 'pd', n, run === 'tuned' ? quickSchedule(7) : defaultsSchedule(n), log)));
        }
      } finally {
        await sys?.stop();
        await rx.stop();
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', killLive);
    killLive();
  }
  return { table: peerDetectionTable(rows), rows };
}

export function peerDetectionTable(rows: readonly PeerDetectionRow[]): string {
  const base = (channel: string) => rows.find((r) => r.system === 'qoswatch' && r.channel === channel && !r.skipped && r.ms.length);
  const ratio = (x: number, b: number | undefined) => (b === undefined || !Number.isFinite(x) ? '—' : `× ${fmt(x / b, x / b < 10 ? 1 : 0)}`);
  const head =
    '| system | channel | trials (paged) | p50 | p90 | max | p50 / qoswatch p50 | p90 / qoswatch p90 |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |';
  const lines = rows.map((r) => {
    if (r.skipped) return `| ${r.system} | ${r.channel} | skipped: ${r.skipped} | — | — | — | — | — |`;
    const b = base(r.channel);
    const paged = r.ms.length === r.trials ? `${r.trials}` : `${r.trials} (${r.ms.length})`;
    const cell = (x: number) => (Number.isFinite(x) ? dur(x) : '—');
    const isBase = r.system === 'qoswatch';
    return `| ${r.system} | ${r.channel} | ${paged} | ${cell(r.p50)} | ${cell(r.p90)} | ${cell(r.max)} | ${isBase ? '1' : ratio(r.p50, b?.p50)} | ${isBase ? '1' : ratio(r.p90, b?.p90)} |`;
  });
  return [head, ...lines].join('\n');
}

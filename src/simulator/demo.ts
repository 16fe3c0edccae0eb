/**
 * `npm run demo`: the whole loop in one command, on loopback. Starts the built service (dist/cli.js serve) with a
 * temp data dir, 1 s aggregation windows, the demo rules (scenarios/demo-rules) and an on-call file paging one
 * person by email — to an SMTP catcher in this process — and by a signed generic webhook — to an HTTP receiver in
 * this process; plays scenarios/demo.yaml through the simulator; acknowledges the first incident through the link
 * in its page, as the person on call would; then prints the faults injected, the incident timelines, and every
 * page received with its delay from the start of the fault behind it.
 *
 * The SMTP catcher uses the `smtp-server` and `mailparser` packages, which are dev dependencies: `npm install`
 * installs them (an install with --omit=dev cannot run the demo). Exit 0 when at least one incident was opened.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { type Fault, describeFault, loadScenario } from './faults.js';
import { type RunSummary, pause, runSimulation, scenarioLength } from './send.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = join(ROOT, 'dist/cli.js');
const SCENARIO = join(ROOT, 'scenarios/demo.yaml');
const RULES = join(ROOT, 'scenarios/demo-rules');
const WEBHOOK_PATH = '/hooks/ops';
const PERSON = { id: 'dana', name: 'Dana', email: 'dana@example.com', handle: 'dana' };

const out = (line = '') => process.stdout.write(`${line}\n`);

interface Page {
  at: number;
  channel: 'email' | 'webhook';
  to: string;
  kind: string;
  incident: number | undefined;
  region: string | undefined;
  text: string;
  /** webhook: the signature checked out. */
  signed?: boolean;
  ackLink?: string;
}

interface Incident {
  id: number;
  region?: string;
  title: string;
  state: string;
  priority: string;
  opened_at: string;
  acknowledged_at?: string;
  mitigated_at?: string;
}

interface TimelineEntry {
  at: string;
  actor: string;
  kind: string;
  data?: Record<string, any>;
}

// ---------------------------------------------------------------------------------------------------------------
// Loopback receivers

async function startSmtp(onMail: (p: Page) => void): Promise<{ port: number; close(): Promise<void> }> {
  let SMTPServer: typeof import('smtp-server').SMTPServer;
  let simpleParser: typeof import('mailparser').simpleParser;
  try {
    ({ SMTPServer } = await import('smtp-server'));
    ({ simpleParser } = await import('mailparser'));
  } catch {
    throw new Error('the demo needs the dev dependencies smtp-server and mailparser: run `npm install` (not --omit=dev)');
  }
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth: (auth, _s, cb) => cb(null, { user: auth.username }),
    onData: (stream, _s, cb) => {
      simpleParser(stream).then(
        (m) => {
          const subject = m.subject ?? '';
          const to = [m.to].flat().map((a) => a?.text ?? '').join(', ');
          const inc = /incident #(\d+) ([\w ]+)\)/.exec(subject);
          onMail({ at: Date.now(), channel: 'email', to, kind: inc?.[2]?.trim() ?? '?', incident: inc ? Number(inc[1]) : undefined, region: /^\[P\d\] ([^:]+):/.exec(subject)?.[1], text: subject });
          cb();
        },
        (err: Error) => cb(err),
      );
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function startWebhook(secret: string, onPage: (p: Page) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      // verify as a receiver must: X-Signature = sha256=hex(HMAC(secret, "<X-Timestamp>.<raw body>"))
      const ts = String(req.headers['x-timestamp'] ?? '');
      const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`);
      const given = Buffer.from(String(req.headers['x-signature'] ?? ''));
      const signed = given.length === expected.length && timingSafeEqual(given, expected);
      try {
        const doc = JSON.parse(body);
        onPage({
          at: Date.now(), channel: 'webhook', to: `@${doc.mention ?? '?'}`, kind: doc.kind, incident: doc.incident?.id, region: doc.incident?.region,
          text: String(doc.incident?.title ?? ''), signed, ackLink: doc.links?.ack,
        });
      } catch {
        /* not a page */
      }
      res.writeHead(signed ? 200 : 401, { 'content-type': 'text/plain' }).end(signed ? 'ok' : 'bad signature');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${WEBHOOK_PATH}`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolvePort(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting

let t0 = Date.now();
/** Seconds since the simulation started, as "+0:12.3". */
const rel = (ms: number) => {
  const s = (ms - t0) / 1000;
  const sign = s < 0 ? '-' : '+';
  const a = Math.abs(s);
  return `${sign}${Math.floor(a / 60)}:${(a % 60).toFixed(1).padStart(4, '0')}`;
};
const wall = (ms: number) => new Date(ms).toISOString().slice(11, 23);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/**
 * Live lines come from several sources (simulator events, pages as they arrive, incident polls) slightly out of
 * order; they are held for a moment and printed in time order.
 */
const HOLD_MS = 1200;
let held: { at: number; line: string }[] = [];
const flushLive = (all = false) => {
  const now = Date.now();
  held.sort((a, b) => a.at - b.at);
  const ready = all ? held : held.filter((h) => h.at <= now - HOLD_MS);
  held = all ? [] : held.filter((h) => h.at > now - HOLD_MS);
  for (const h of ready) out(h.line);
};
const say = (at: number, tag: string, text: string) => held.push({ at, line: `  ${rel(at)}  ${tag.padEnd(9)} ${text}` });

function entryText(e: TimelineEntry): string {
  const d = e.data ?? {};
  switch (e.kind) {
    case 'opened':
    case 'alert_fired':
    case 'reopened':
      return `${d.rule} ${d.priority}: ${d.summary ?? ''}`;
    case 'alert_cleared':
      return `${d.rule}${d.summary ? `: ${d.summary}` : ''}`;
    case 'alert_priority_changed':
      return `${d.rule} ${d.previous} → ${d.priority}`;
    case 'priority_changed':
      return `${d.previous ?? '?'} → ${d.priority ?? '?'}`;
    case 'paged':
    case 'escalated':
      return `level ${typeof d.level === 'number' ? d.level + 1 : '?'}: ${[...[d.people ?? []].flat(), ...[d.channels ?? []].flat()].join(', ')} (${d.pages ?? '?'} pages)`;
    case 'page_delivered':
    case 'page_failed':
    case 'page_fallback':
      return `${d.kind ?? ''} → ${d.recipient ?? ''} by ${d.channel ?? ''}${d.error ? ` (${d.error})` : ''}`;
    default: {
      const parts = Object.entries(d).filter(([, v]) => typeof v !== 'object').map(([k, v]) => `${k}=${v}`);
      return parts.join(' ');
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm run demo does)`);
  const scenario = loadScenario(SCENARIO);
  const faults: Fault[] = scenario.faults;
  const durationMs = scenarioLength(scenario.duration, faults)!;

  out(`qoswatch demo — the service, the simulator, incidents and pages, all on loopback (about ${Math.round(durationMs / 1000)} s)`);
  out();
  out(`Scenario ${SCENARIO.slice(ROOT.length + 1)}: ${scenario.description ?? ''}`);
  faults.forEach((f, i) => out(`  fault #${i + 1} at +${secs(f.at)} for ${secs(f.for)}: ${describeFault(f)}`));

  const work = mkdtempSync(join(tmpdir(), 'qoswatch-demo-'));
  const secret = randomBytes(16).toString('hex');
  const ingestKey = `demo-ingest-${randomBytes(12).toString('hex')}`;
  const adminToken = `demo-admin-${randomBytes(12).toString('hex')}`;
  const pages: Page[] = [];
  const faultStarts = new Map<number, number>(); // fault index → wall ms of its start
  const faultEnds = new Map<number, number>();
  const seenIncidents = new Map<number, string>(); // id → state printed
  let acked = false;
  let service: ChildProcess | undefined;
  const logPath = join(work, 'service.log');
  let keep = false;
  const logChunks: Buffer[] = [];
  const serviceLog = () => Buffer.concat(logChunks).toString('utf8');

  /** The fault behind an incident in `region` at `at`: the latest one started in that region (or anywhere) before. */
  const faultFor = (region: string | undefined, at: number): { index: number; start: number } | undefined => {
    let best: { index: number; start: number } | undefined;
    for (const [index, start] of faultStarts) {
      const f = faults[index]!;
      if (start <= at && (f.region === undefined || f.region === region) && (!best || start > best.start)) best = { index, start };
    }
    return best;
  };
  const delayText = (p: { region?: string | undefined; at: number }) => {
    const f = faultFor(p.region, p.at);
    if (!f) return 'no fault before it';
    const end = faultEnds.get(f.index);
    return `${secs(p.at - f.start)} after fault #${f.index + 1} started${end !== undefined && end <= p.at ? `, ${secs(p.at - end)} after it ended` : ''}`;
  };

  const smtp = await startSmtp((p) => {
    pages.push(p);
    say(p.at, 'page', `email to ${p.to}: "${p.text}" (${delayText(p)})`);
  });
  let baseUrl = '';
  const webhook = await startWebhook(secret, (p) => {
    pages.push(p);
    say(p.at, 'page', `webhook ${p.to}${p.signed ? ' (signature ok)' : ' (BAD SIGNATURE)'}: ${p.kind} "${p.text}" (${delayText(p)})`);
    // Dana acknowledges the first incident from the link in its first page, a few seconds later
    if (!acked && p.kind === 'opened' && p.ackLink) {
      acked = true;
      const link = p.ackLink;
      setTimeout(() => {
        fetch(link, { method: 'POST' }).then(
          (r) => say(Date.now(), 'ack', `${PERSON.name} acknowledges incident #${p.incident} through the link in the page → HTTP ${r.status}`),
          (err: Error) => say(Date.now(), 'ack', `acknowledging failed: ${err.message}`),
        );
      }, 4000);
    }
  });

  const onCall = {
    people: [{ id: PERSON.id, name: PERSON.name, email: PERSON.email, chat: { webhook: PERSON.handle }, notify: ['email', 'ops-webhook'] }],
    channels: [{ id: 'ops-webhook', provider: 'webhook', url: webhook.url, secret }],
    schedules: [{ id: 'primary', layers: [{ id: 'all', timezone: 'UTC', rotation: 'daily', handoff: '00:00', start: '2020-01-01', members: [PERSON.id] }] }],
    escalation_policies: [{ id: 'main', levels: [{ targets: [{ schedule: 'primary' }], ack_timeout: '5m' }] }],
    default_policy: 'main',
  };
  writeFileSync(join(work, 'oncall.yaml'), stringify(onCall));

  const cleanup = async () => {
    if (service && service.exitCode === null) {
      const s = service;
      const exited = new Promise<void>((r) => s.once('exit', () => r()));
      s.kill('SIGTERM');
      const killer = setTimeout(() => s.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
    await Promise.allSettled([smtp.close(), webhook.close()]);
    if (!keep) rmSync(work, { recursive: true, force: true });
  };
  const onSigint = () => {
    flushLive(true);
    out('\ninterrupted');
    void cleanup().then(() => process.exit(130));
  };
  process.once('SIGINT', onSigint);

  try {
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    service = spawn(process.execPath, [CLI, 'serve'], {
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        HOST: '127.0.0.1',
        QOSWATCH_DATA_DIR: join(work, 'data'),
        QOSWATCH_INGEST_KEY: ingestKey,
        QOSWATCH_ADMIN_TOKEN: adminToken,
        QOSWATCH_WINDOW: '1s',
        QOSWATCH_WINDOW_GRACE: '5s',
        QOSWATCH_RULES_DIR: RULES,
        QOSWATCH_ONCALL: join(work, 'oncall.yaml'),
        SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
        MAIL_FROM: 'qoswatch demo <qoswatch@localhost>',
        QOSWATCH_PUBLIC_URL: baseUrl,
        QOSWATCH_LOG_LEVEL: 'warn',
        QOSWATCH_SELF_METRICS_INTERVAL: '0s',
        QOSWATCH_SHUTDOWN_TIMEOUT: '2s',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    service.stdout!.on('data', (d: Buffer) => logChunks.push(d));
    service.stderr!.on('data', (d: Buffer) => logChunks.push(d));
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (service.exitCode !== null) throw new Error(`the service exited with code ${service.exitCode}:\n${serviceLog().slice(-3000)}`);
      const ok = await fetch(`${baseUrl}/healthz`).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`the service did not start within 20 s:\n${serviceLog().slice(-3000)}`);
      await pause(100);
    }
    out();
    out(`Service: node dist/cli.js serve on ${baseUrl} (pid ${service.pid}), temp data dir ${work} (removed at the end)`);
    out(`  1 s aggregation windows, rules from ${RULES.slice(ROOT.length + 1)}/, on call: ${PERSON.name} <${PERSON.email}>, paged by email`);
    out(`  (SMTP catcher on 127.0.0.1:${smtp.port}) and by a signed webhook (receiver on ${webhook.url})`);
    out();
    out('Live (time since the simulation started):');

    const api = async (path: string, init: RequestInit = {}) => {
      const r = await fetch(`${baseUrl}${path}`, { ...init, headers: { authorization: `Bearer ${adminToken}`, ...(init.headers ?? {}) } });
      if (!r.ok) throw new Error(`${path}: HTTP ${r.status} ${await r.text()}`);
      return r.json() as Promise<any>;
    };
    const listIncidents = async (): Promise<Incident[]> => ((await api('/v1/incidents?limit=100')).incidents as Incident[]).sort((a, b) => a.id - b.id);

    // watch incidents while the scenario plays
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        try {
          for (const inc of await listIncidents()) {
            if (seenIncidents.get(inc.id) === inc.state) continue;
            const at = Date.parse(inc.state === 'open' ? inc.opened_at : inc.state === 'acknowledged' ? inc.acknowledged_at! : inc.state === 'mitigated' ? inc.mitigated_at! : inc.opened_at);
            const what = seenIncidents.has(inc.id) ? inc.state : `opened ${inc.priority}${inc.state !== 'open' ? ` (now ${inc.state})` : ''}`;
            say(at, 'incident', `#${inc.id} ${inc.region ?? '*'} ${what}: ${inc.title}${seenIncidents.has(inc.id) ? '' : ` (${delayText({ region: inc.region, at })})`}`);
            seenIncidents.set(inc.id, inc.state);
          }
        } catch {
          /* the next poll will tell */
        }
        await pause(500);
      }
    })();

    const flusher = setInterval(() => flushLive(), 250);
    t0 = Date.now();
    const summary: RunSummary = await runSimulation({
      url: baseUrl,
      targets: [{ tenant: 'demo', key: ingestKey }],
      transport: 'http',
      rate: 5000,
      batch: 500,
      durationMs,
      speed: 1,
      intervalMs: scenario.interval ?? 5000,
      seed: scenario.seed ?? 1,
      sessions: scenario.sessions ?? 600,
      regions: scenario.regions ?? ['eu-west', 'us-east', 'ap-south'],
      ...(scenario.diurnal ? { diurnal: scenario.diurnal } : {}),
      faults,
      onEvent: (e) => {
        if (e.type === 'started') {
          t0 = e.wallMs;
          say(e.wallMs, 'simulator', `${e.expectedSessions} viewers live in ${(scenario.regions ?? []).join(', ')} with edge nodes, ~${e.samplesPerSecond} samples/s over HTTP`);
        } else if (e.type === 'fault') {
          if (e.event.type === 'start') faultStarts.set(e.event.index, e.wallMs);
          if (e.event.type === 'end') faultEnds.set(e.event.index, e.wallMs);
          say(e.wallMs, 'fault', `${e.event.type === 'start' ? 'START' : e.event.type === 'end' ? 'END  ' : e.event.type} #${e.event.index + 1} ${e.event.text}`);
        } else say(e.wallMs, 'warning', e.message);
      },
    });
    say(Date.now(), 'simulator', `scenario over: ${summary.accepted} of ${summary.sent} samples accepted`);
    // the last pages (mitigation) may still be on their way
    await pause(2000);
    watching = false;
    await watcher;
    clearInterval(flusher);
    flushLive(true);

    // ---- the report
    const incidents = await listIncidents();
    const details = await Promise.all(incidents.map((i) => api(`/v1/incidents/${i.id}`) as Promise<Incident & { timeline: TimelineEntry[]; alerts: any[] }>));

    out();
    out('Injected faults (wall-clock UTC):');
    const logs = [...summary.faults].sort((a, b) => a.wallMs - b.wallMs);
    for (const l of logs) out(`  ${wall(l.wallMs)}  ${rel(l.wallMs)}  ${l.event.type.padEnd(5)}  #${l.event.index + 1} ${l.event.text}`);

    out();
    out(`Incidents (${incidents.length}):`);
    for (const d of details) {
      const f = faultFor(d.region, Date.parse(d.opened_at));
      out(`  #${d.id} ${d.priority} ${d.region ?? '*'} — ${d.title}`);
      out(
        `     state ${d.state}; opened ${rel(Date.parse(d.opened_at))}${f ? ` (${secs(Date.parse(d.opened_at) - f.start)} after fault #${f.index + 1} started)` : ''}` +
          `${d.acknowledged_at ? `, acknowledged ${rel(Date.parse(d.acknowledged_at))}` : ''}${d.mitigated_at ? `, mitigated ${rel(Date.parse(d.mitigated_at))}` : ''}`,
      );
      for (const e of d.timeline) out(`     ${rel(Date.parse(e.at))}  ${e.kind.padEnd(22)} ${e.actor.padEnd(9)} ${entryText(e)}`);
    }

    out();
    out(`Pages received (${pages.length}): delay from the start of the fault behind the incident`);
    out(`  ${'received'.padEnd(9)} ${'delay'.padStart(7)}  ${'channel'.padEnd(8)} ${'to'.padEnd(17)} ${'kind'.padEnd(13)} subject / title`);
    for (const p of [...pages].sort((a, b) => a.at - b.at)) {
      const f = faultFor(p.region, p.at);
      out(`  ${rel(p.at).padEnd(9)} ${(f ? secs(p.at - f.start) : '—').padStart(7)}  ${p.channel.padEnd(8)} ${p.to.padEnd(17)} ${p.kind.padEnd(13)} ${p.text}`);
    }
    out('  (an opening page waits for: the beacon interval — viewers report the interval that just ended — then the');
    out("  rule's window filling past the threshold, then its `for`; a mitigation for the faulty samples to leave the");
    out('  window, then `clear_for`. See scenarios/demo-rules/demo.yaml.)');

    out();
    out('Simulator:');
    out(`  ${summary.sent} samples sent in ${summary.requests} requests over ${secs(summary.elapsedMs)}: accepted ${summary.accepted}, rejected ${summary.rejected}, retried ${summary.retried}, failed ${summary.failed}; ${summary.rate.toFixed(0)} samples/s`);

    out();
    const regions = new Set(incidents.map((i) => i.region));
    faults.forEach((f, i) => {
      const hit = f.region === undefined ? incidents.length > 0 : regions.has(f.region);
      out(`  ${hit ? 'ok     ' : 'MISSING'} fault #${i + 1} (${describeFault(f)}) → ${hit ? `incident in ${f.region ?? 'some region'}` : 'no incident in its region'}`);
    });
    if (incidents.length === 0) {
      keep = true;
      out(`\nNo incident was opened. Service log: ${logPath}`);
      writeFileSync(logPath, serviceLog());
      return 1;
    }
    out();
    out('Next: `npm start` runs the service for real; `node dist/cli.js simulate --help` drives it with your own scenarios.');
    return 0;
  } catch (err) {
    flushLive(true);
    keep = true;
    out(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}`);
    writeFileSync(logPath, serviceLog());
    out(`(kept ${work} for a look; the service's output is in ${logPath})`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);

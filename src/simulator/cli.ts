import { parseArgs } from 'node:util';
import { formatDuration, parseDuration } from '../util/units.js';
import { type Fault, type FaultEvent, type Scenario, ScenarioError, faultsEnd, loadScenario, parseFaultFlag } from './faults.js';
import type { Diurnal } from './model.js';
import { type RunEvent, type RunOptions, type RunSummary, SendError, type TenantTarget, runSimulation, scenarioLength } from './send.js';

export const SIMULATE_HELP = `qoswatch simulate — realistic live-stream telemetry, with faults injected on a timeline

Usage: qoswatch simulate [options]

  --url URL            the service (default http://localhost:8080)
  --key KEY            ingest key (default: QOSWATCH_INGEST_KEY); repeat it for several tenants, one key each
  --tenants N          tenants to simulate (default: one per --key); more tenants than keys are created as
                       sim-2, sim-3, … with a key each through the admin API (needs --admin-token or
                       QOSWATCH_ADMIN_TOKEN; the keys are revoked at the end)
  --admin-token TOKEN  admin token, only for --tenants
  --regions LIST       comma-separated regions (default eu-west,us-east,ap-south)
  --cdns LIST          comma-separated CDNs (default cdn-a,cdn-b,cdn-c with 50/30/20 % of viewers)
  --sessions N         live sessions per tenant at the daily peak (default 2000)
  --peak-hour H        local hour of the daily peak (default 21); --trough R: audience at the trough as a share
  --trough R           of the peak (default 0.25; 1 = flat)
  --interval D         beacon interval of every session and node (default 10s)
  --rate N|max         samples per second at most (default 5000); max: as fast as the service accepts
  --transport T        http (POST /v1/telemetry, default) or ws (GET /v1/telemetry/ws)
  --batch N            samples per request or frame at most (default 500, at most 5000)
  --duration D         scenario length (default: the scenario's, else 30s after the last fault, else until Ctrl-C)
  --speed N            run the scenario clock N times faster than real time (sample timestamps stay real)
  --scenario FILE      YAML scenario: settings and faults (see scenarios/README.md); flags override it
  --fault SPEC         add a fault, e.g. stall_storm:cdn=cdn-b,region=eu-west,ratio=0.2,at=30s,for=60s
                       kinds: outage (region), stall_storm (cdn[, region], ratio), packet_loss (isp[, region],
                       loss), latency_creep (region, to), concurrency_collapse (region, drop), flapping (region[,
                       cdn], ratio, period); every fault has at= and for=
  --seed N             seed of the population (default 1): the same seed gives the same telemetry
  -h, --help           this help

Prints a line when each fault starts and ends (wall-clock time), and a summary. Exit 0 when every sample sent
was accepted, 1 when some were rejected or could not be delivered (or the run failed), 2 for bad options.
`;

/** A bad option; the message names it. */
export class UsageError extends Error {}

export interface SimulateConfig {
  url: string;
  keys: string[];
  tenants: number;
  adminToken: string | undefined;
  scenario: Scenario | undefined;
  scenarioPath: string | undefined;
  run: Omit<RunOptions, 'targets' | 'url' | 'signal' | 'onEvent'>;
}

const OPTIONS = {
  url: { type: 'string' },
  key: { type: 'string', multiple: true },
  tenants: { type: 'string' },
  'admin-token': { type: 'string' },
  regions: { type: 'string' },
  cdns: { type: 'string' },
  sessions: { type: 'string' },
  'peak-hour': { type: 'string' },
  trough: { type: 'string' },
  interval: { type: 'string' },
  rate: { type: 'string' },
  transport: { type: 'string' },
  batch: { type: 'string' },
  duration: { type: 'string' },
  speed: { type: 'string' },
  scenario: { type: 'string' },
  fault: { type: 'string', multiple: true },
  seed: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function int(flag: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text.trim())) throw new UsageError(`--${flag}: "${text}" is not a whole number`);
  const n = Number(text);
  if (n < min || n > max) throw new UsageError(`--${flag}: must be from ${min} to ${max}, got ${text}`);
  return n;
}

function num(flag: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = /^\s*\d*\.?\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(n)) throw new UsageError(`--${flag}: "${text}" is not a number`);
  if (n < min || n > max) throw new UsageError(`--${flag}: must be from ${min} to ${max}, got ${text}`);
  return n;
}

function duration(flag: string, text: string | undefined, minMs: number, maxMs: number): number | undefined {
  if (text === undefined) return undefined;
  const ms = /^\s*\d+(\.\d+)?\s*(ms|s|m|h)\s*$/.test(text) ? parseDuration(text) : undefined;
  if (ms === undefined) throw new UsageError(`--${flag}: "${text}" is not a duration (use e.g. 500ms, 10s, 2m, 1h)`);
  if (ms < minMs || ms > maxMs) throw new UsageError(`--${flag}: must be from ${formatDuration(minMs)} to ${formatDuration(maxMs)}, got ${text}`);
  return ms;
}

function list(flag: string, text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const items = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new UsageError(`--${flag}: give at least one name`);
  const bad = items.find((s) => s.length > 64 || /[\x00-\x1f\x7f\\]/.test(s));
  if (bad !== undefined) throw new UsageError(`--${flag}: "${bad}" is not a valid name (1-64 characters, no control characters or backslashes)`);
  if (new Set(items).size !== items.length) throw new UsageError(`--${flag}: a name is listed twice`);
  return items;
}

/** Parses `qoswatch simulate` arguments (flags over the scenario file over defaults); throws UsageError naming the flag. */
export function parseSimulateArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): SimulateConfig | 'help' {
  let values;
  try {
    ({ values } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: false, strict: true }));
  } catch (err) {
    // node's messages name the flag: "Unknown option '--sesions'", "Option '--url <value>' argument missing"
    throw new UsageError((err as Error).message.split('. To specify')[0]!);
  }
  if (values.help) return 'help';

  let scenario: Scenario | undefined;
  if (values.scenario !== undefined) {
    try {
      scenario = loadScenario(values.scenario);
    } catch (err) {
      if (err instanceof ScenarioError) throw new UsageError(`--scenario ${err.message}`);
      throw err;
    }
  }
  const flagFaults: Fault[] = [];
  for (const f of values.fault ?? []) {
    try {
      flagFaults.push(parseFaultFlag(f));
    } catch (err) {
      if (err instanceof ScenarioError) throw new UsageError(err.message);
      throw err;
    }
  }

  const url = values.url ?? 'http://localhost:8080';
  let parsedUrl: URL | undefined;
  try {
    parsedUrl = new URL(url);
  } catch {
    parsedUrl = undefined;
  }
  if (!parsedUrl || !/^https?:$/.test(parsedUrl.protocol)) throw new UsageError(`--url: "${url}" is not an http(s) URL (e.g. http://localhost:8080)`);

  const keys = values.key ?? (env.QOSWATCH_INGEST_KEY ? [env.QOSWATCH_INGEST_KEY] : []);
  if (keys.length === 0) throw new UsageError('--key: no ingest key (give --key or set QOSWATCH_INGEST_KEY; the service prints one at its first start)');
  const emptyKey = keys.find((k) => k.trim() === '');
  if (emptyKey !== undefined) throw new UsageError('--key: an ingest key is empty');
  const tenants = int('tenants', values.tenants, 1, 1000) ?? keys.length;
  const adminToken = values['admin-token'] ?? env.QOSWATCH_ADMIN_TOKEN;
  if (tenants < keys.length) throw new UsageError(`--tenants: ${tenants} is fewer than the ${keys.length} keys given (one key per tenant)`);
  if (tenants > keys.length && !adminToken) {
    throw new UsageError(`--tenants: ${tenants} tenants need ${tenants} ingest keys (${keys.length} given): repeat --key, or give --admin-token (or QOSWATCH_ADMIN_TOKEN) to create the others`);
  }

  const transport = values.transport ?? 'http';
  if (transport !== 'http' && transport !== 'ws') throw new UsageError(`--transport: must be http or ws, got "${transport}"`);
  const rate = values.rate === undefined ? 5000 : values.rate.trim() === 'max' ? undefined : num('rate', values.rate, 1, 10_000_000);
  const interval = duration('interval', values.interval, 100, 3_600_000) ?? scenario?.interval ?? 10_000;
  const speed = num('speed', values.speed, 0.01, 10_000) ?? 1;
  if (interval / speed < 100) throw new UsageError(`--speed: ${speed}× makes the ${formatDuration(interval)} beacon interval shorter than 100ms in real time (the service's minimum interval_ms); lower --speed or raise --interval`);
  const faults = [...(scenario?.faults ?? []), ...flagFaults];
  const explicitDuration = duration('duration', values.duration, 1000, 30 * 86_400_000) ?? scenario?.duration;
  const durationMs = scenarioLength(explicitDuration, faults);
  const peakHour = num('peak-hour', values['peak-hour'], 0, 24);
  const trough = num('trough', values.trough, 0, 1);
  let diurnal: Diurnal | undefined = scenario?.diurnal;
  if (peakHour !== undefined || trough !== undefined) diurnal = { peakHour: peakHour ?? diurnal?.peakHour ?? 21, trough: trough ?? diurnal?.trough ?? 0.25 };
  const cdns = list('cdns', values.cdns) ?? scenario?.cdns;

  return {
    url: url.replace(/\/+$/, ''),
    keys,
    tenants,
    adminToken,
    scenario,
    scenarioPath: values.scenario,
    run: {
      transport,
      rate,
      batch: int('batch', values.batch, 1, 5000) ?? 500,
      durationMs,
      speed,
      intervalMs: interval,
      seed: int('seed', values.seed, 0, 2 ** 32 - 1) ?? scenario?.seed ?? 1,
      sessions: int('sessions', values.sessions, 0, 10_000_000) ?? scenario?.sessions ?? 2000,
      regions: list('regions', values.regions) ?? scenario?.regions ?? ['eu-west', 'us-east', 'ap-south'],
      ...(cdns ? { cdns } : {}),
      ...(diurnal ? { diurnal } : {}),
      faults,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Printing

/** "+1:05" — a scenario offset. */
export const clock = (ms: number): string => {
  const s = Math.round(ms / 1000);
  return `+${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

export function faultLine(e: FaultEvent, wallMs: number): string {
  const what = { start: 'fault start', end: 'fault end  ', on: 'flap on    ', off: 'flap off   ' }[e.type];
  return `${new Date(wallMs).toISOString()}  ${clock(e.at)}  ${what}  #${e.index + 1} ${e.text}`;
}

export function summaryLines(s: RunSummary): string[] {
  const secs = s.elapsedMs / 1000;
  const lines = [
    `summary: ${s.sent} samples sent in ${s.requests} ${s.requests === 1 ? 'request' : 'requests'} over ${secs.toFixed(1)}s — accepted ${s.accepted}, rejected ${s.rejected}, retried ${s.retried}, failed ${s.failed}${s.unsent ? `, ${s.unsent} generated but never sent` : ''}; ${s.rate.toFixed(1)} samples/s accepted`,
  ];
  if (s.firstRejection) lines.push(`  first rejection: ${s.firstRejection}`);
  return lines;
}

// ---------------------------------------------------------------------------------------------------------------
// Tenants beyond the given keys (admin API)

interface CreatedKey {
  tenant: string;
  id: string;
}

async function admin(url: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed };
}

async function createTenants(cfg: SimulateConfig, out: (line: string) => void): Promise<{ targets: TenantTarget[]; created: CreatedKey[] }> {
  const targets: TenantTarget[] = cfg.keys.map((key, i) => ({ tenant: `t${i + 1}`, key }));
  const created: CreatedKey[] = [];
  for (let i = cfg.keys.length + 1; i <= cfg.tenants; i++) {
    const tenant = `sim-${i}`;
    const put = await admin(cfg.url, cfg.adminToken!, 'PUT', `/v1/admin/tenants/${tenant}?by=qoswatch-simulate`, { name: `Simulated tenant ${i}` });
    if (put.status !== 200 && put.status !== 201 && put.status !== 409) throw new SendError(`creating tenant ${tenant}: PUT /v1/admin/tenants/${tenant} answered ${put.status} ${JSON.stringify(put.body)}`);
    const key = await admin(cfg.url, cfg.adminToken!, 'POST', `/v1/admin/tenants/${tenant}/keys`, { name: 'qoswatch simulate' });
    if (key.status !== 201) throw new SendError(`creating a key for ${tenant}: answered ${key.status} ${JSON.stringify(key.body)}`);
    created.push({ tenant, id: key.body.id });
    targets.push({ tenant: `t${i}`, key: key.body.key });
  }
  if (created.length) out(`created ${created.length} tenant key(s) through the admin API: ${created.map((c) => c.tenant).join(', ')}`);
  return { targets, created };
}

// ---------------------------------------------------------------------------------------------------------------

/** `qoswatch simulate …`: returns the exit code. */
export async function simulateCommand(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  let cfg: SimulateConfig | 'help';
  try {
    cfg = parseSimulateArgs(argv, env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`qoswatch simulate: ${err.message}\n(qoswatch simulate --help lists the options)\n`);
    return 2;
  }
  if (cfg === 'help') {
    process.stdout.write(SIMULATE_HELP);
    return 0;
  }
  const r = cfg.run;
  const abort = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts > 1) process.exit(130);
    out('stopping (Ctrl-C again to quit at once)…');
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  let created: CreatedKey[] = [];
  try {
    try {
      await fetch(`${cfg.url}/healthz`, { signal: AbortSignal.timeout(5000) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new SendError(`cannot reach ${cfg.url} (${cause?.code ?? cause?.message ?? (err as Error).message}): is the service running? (npm start)`);
    }
    const t = await createTenants(cfg, out);
    created = t.created;
    const scenarioName = cfg.scenario?.name ?? cfg.scenarioPath;
    out(
      `qoswatch simulate → ${cfg.url} over ${r.transport}: ${t.targets.length} tenant(s), regions ${r.regions.join(',')}, ${r.sessions} sessions per tenant at the peak, ` +
        `beacons every ${formatDuration(r.intervalMs)}, rate ${r.rate === undefined ? 'max' : `≤ ${r.rate}/s`}, batches ≤ ${r.batch}, seed ${r.seed}` +
        `${r.speed !== 1 ? `, speed ${r.speed}×` : ''}`,
    );
    out(
      `${scenarioName ? `scenario ${scenarioName}: ` : ''}${r.faults.length} fault(s), ` +
        (r.durationMs === undefined ? 'running until Ctrl-C' : `${formatDuration(r.durationMs)} of scenario time${r.speed !== 1 ? ` (${formatDuration(Math.round(r.durationMs / r.speed))} real)` : ''}`) +
        (r.faults.length && r.durationMs !== undefined && faultsEnd(r.faults) > r.durationMs ? ' — some faults end after the run does' : ''),
    );
    const summary = await runSimulation({
      ...r,
      url: cfg.url,
      targets: t.targets,
      signal: abort.signal,
      onEvent: (e: RunEvent) => {
        if (e.type === 'started') out(`${new Date(e.wallMs).toISOString()}  +0:00  started      ${e.expectedSessions} live sessions now, ~${e.samplesPerSecond} samples/s`);
        else if (e.type === 'fault') out(faultLine(e.event, e.wallMs));
        else out(`${new Date(e.wallMs).toISOString()}  warning: ${e.message}`);
      },
    });
    for (const line of summaryLines(summary)) out(line);
    return summary.rejected > 0 || summary.failed > 0 ? 1 : 0;
  } catch (err) {
    if (!(err instanceof SendError)) throw err;
    const partial = (err as SendError & { summary?: RunSummary }).summary;
    if (partial) for (const line of summaryLines(partial)) out(line);
    process.stderr.write(`qoswatch simulate: ${err.message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    for (const c of created) {
      await admin(cfg.url, cfg.adminToken!, 'DELETE', `/v1/admin/tenants/${c.tenant}/keys/${c.id}`).catch(() => undefined);
    }
  }
}

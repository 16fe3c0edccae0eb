import { type IncomingHttpHeaders, Agent, request } from 'node:http';
import type { InfluxServer } from '../test/helpers/influxd.js';
import { metric } from '../test/helpers/metrics.js';

/**
 * What every drill shares: the result shape, a report builder, a small HTTP client that tells a refused
 * connection (nothing sent) from a request cut mid-way (outcome unknown), the (region, window) ledger of accepted
 * samples and the comparison with what InfluxDB stored.
 */

// ---------------------------------------------------------------------------------------------------------------
// Results

export interface DrillResult {
  /** Short id, as in DRILLS=kill9,outage,… */
  name: string;
  /** One line: what was done, with its parameters. */
  title: string;
  passed: boolean;
  /** Rows of label → value, in order. */
  figures: [string, string][];
  /** Why the drill failed (empty when it passed). */
  failures: string[];
  /** Things worth knowing that are not failures. */
  notes: string[];
  durationMs: number;
}

export type Log = (line: string) => void;

/** Collects figures, failures and notes while a drill runs. */
export class Report {
  readonly figures: [string, string][] = [];
  readonly failures: string[] = [];
  readonly notes: string[] = [];
  private readonly started = Date.now();

  constructor(
    readonly name: string,
    readonly title: string,
  ) {}

  figure(label: string, value: string | number): void {
    this.figures.push([label, typeof value === 'number' ? fmt(value) : value]);
  }

  /** Records a failure when `ok` is false; returns `ok`. */
  check(ok: boolean, reason: string): boolean {
    if (!ok) this.failures.push(reason);
    return ok;
  }

  fail(reason: string): void {
    this.failures.push(reason);
  }

  note(text: string): void {
    this.notes.push(text);
  }

  result(): DrillResult {
    return { name: this.name, title: this.title, passed: this.failures.length === 0, figures: this.figures, failures: this.failures, notes: this.notes, durationMs: Date.now() - this.started };
  }
}

/** Runs a drill body; an exception is a failure of the drill (with its message), never a crash of the runner. */
export async function runDrill(report: Report, body: () => Promise<void>, cleanup: () => Promise<unknown>): Promise<DrillResult> {
  try {
    await body();
  } catch (err) {
    report.fail(`the drill stopped with an error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  } finally {
    try {
      await cleanup();
    } catch (err) {
      report.note(`cleanup: ${String(err)}`);
    }
  }
  return report.result();
}

export const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : String(n);
export const ms = (v: number): string => (v >= 10_000 ? `${fmt(v / 1000, 1)} s` : `${fmt(v)} ms`);
export const mib = (bytes: number): string => `${fmt(bytes / 1024 ** 2, 1)} MiB`;
export const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, t)));

/** The markdown table of a result's figures. */
export function figuresTable(r: DrillResult): string {
  return ['| figure | value |', '| --- | ---: |', ...r.figures.map(([k, v]) => `| ${k} | ${v.replace(/\|/g, '\\|')} |`)].join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// Service settings shared by the drills

/**
 * 1 s windows with 3 s of grace: windows close (and are counted) quickly, and a drill of a few minutes exercises
 * hundreds of windows. Everything else is the service's default unless a drill says otherwise.
 */
export const DRILL_WINDOW_MS = 1000;
export const SERVICE_ENV: Record<string, string> = {
  QOSWATCH_WINDOW: '1s',
  QOSWATCH_WINDOW_GRACE: '3s',
  QOSWATCH_FLUSH_INTERVAL: '250ms',
  QOSWATCH_SHUTDOWN_TIMEOUT: '5s',
};

/** The tenant of QOSWATCH_INGEST_KEY (the default tenant). */
export const TENANT = 'default';

export function influxEnv(influx: InfluxServer, db: string): Record<string, string> {
  return { INFLUX_URL: influx.url, INFLUX_API: 'v1', INFLUX_DB: db, INFLUX_TIMEOUT: '2s' };
}

/** Samples of a gauge in /metrics (0 when absent). */
export const gauge = (url: string, name: string): Promise<number> => metric(url, name);

/** Waits until `fn` is true (polling); false on timeout. */
export async function until(fn: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await fn()) return true;
    } catch {
      /* not yet */
    }
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
}

/** Waits for the spool to be empty (every point InfluxDB has taken); returns how long it took, or undefined. */
export async function spoolDrained(url: string, timeoutMs: number): Promise<number | undefined> {
  const t0 = Date.now();
  return (await until(async () => (await gauge(url, 'qoswatch_spool_depth_points')) === 0, timeoutMs)) ? Date.now() - t0 : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP without surprises

export type PostOutcome =
  | { kind: 'response'; status: number; headers: IncomingHttpHeaders; body: string; ms: number }
  /** `sent: false` — the connection was refused: the service never saw the request. Anything else may have reached it. */
  | { kind: 'error'; code: string; sent: boolean; ms: number };

/** POSTs a body; never throws. `timeoutMs` cuts a request that gets no answer (its outcome is then unknown). */
export function post(url: string, body: string | Buffer, headers: Record<string, string>, agent: Agent | undefined, timeoutMs = 30_000): Promise<PostOutcome> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (o: PostOutcome) => {
      if (done) return;
      done = true;
      resolve(o);
    };
    const req = request(url, { method: 'POST', agent, headers: { 'content-length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => finish({ kind: 'response', status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - t0 }));
      res.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'error', code: err.code ?? err.message, sent: true, ms: performance.now() - t0 }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('no answer'), { code: 'TIMEOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'error', code: err.code ?? err.message, sent: err.code !== 'ECONNREFUSED', ms: performance.now() - t0 }));
    req.end(body);
  });
}

export const keepAlive = (maxSockets: number): Agent => new Agent({ keepAlive: true, maxSockets });

/** Counts of anything by a label. */
export class Counter {
  readonly counts = new Map<string, number>();
  add(label: string | number, n = 1): void {
    this.counts.set(String(label), (this.counts.get(String(label)) ?? 0) + n);
  }
  get(label: string | number): number {
    return this.counts.get(String(label)) ?? 0;
  }
  total(): number {
    let t = 0;
    for (const v of this.counts.values()) t += v;
    return t;
  }
  /** "202: 1,234 · 429: 5", sorted by label. */
  text(): string {
    if (this.counts.size === 0) return '—';
    return [...this.counts.entries()].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })).map(([k, v]) => `${k}: ${fmt(v)}`).join(' · ');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Counting: accepted (by the client) against stored (in InfluxDB), per (region, window)

const keyOf = (region: string, window: number) => `${region}\u0000${window}`;
const splitKey = (k: string): [string, number] => {
  const i = k.indexOf('\u0000');
  return [k.slice(0, i), Number(k.slice(i + 1))];
};

/**
 * Per (region, window): samples the service acknowledged (202 `accepted`, WebSocket ack) and samples of requests
 * whose outcome is unknown (cut by a crash: they may have been journaled, and were sent again).
 */
export class Ledger {
  readonly accepted = new Map<string, number>();
  readonly inDoubt = new Map<string, number>();

  constructor(readonly windowMs: number) {}

  key(region: string, ts: number): string {
    return keyOf(region, Math.floor(ts / this.windowMs));
  }

  addAccepted(key: string, n = 1): void {
    this.accepted.set(key, (this.accepted.get(key) ?? 0) + n);
  }

  addInDoubt(key: string, n = 1): void {
    this.inDoubt.set(key, (this.inDoubt.get(key) ?? 0) + n);
  }

  totalAccepted(): number {
    let t = 0;
    for (const v of this.accepted.values()) t += v;
    return t;
  }

  totalInDoubt(): number {
    let t = 0;
    for (const v of this.inDoubt.values()) t += v;
    return t;
  }

  regions(): string[] {
    return [...new Set([...this.accepted.keys(), ...this.inDoubt.keys()].map((k) => splitKey(k)[0]))];
  }

  /** First and last window start (epoch ms) with anything in it. */
  span(): [number, number] {
    const ws = [...this.accepted.keys(), ...this.inDoubt.keys()].map((k) => splitKey(k)[1]);
    return [Math.min(...ws) * this.windowMs, (Math.max(...ws) + 1) * this.windowMs];
  }
}

interface QueryAnswer {
  results?: { series?: { name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }[]; error?: string; partial?: boolean }[];
  error?: string;
}

/** InfluxQL through /query; throws on an error or a truncated (partial) answer, which would make counts wrong. */
export async function influxQuery(influx: InfluxServer, db: string, q: string): Promise<NonNullable<NonNullable<QueryAnswer['results']>[number]['series']>> {
  const u = new URL('/query', influx.url);
  u.searchParams.set('q', q);
  u.searchParams.set('db', db);
  u.searchParams.set('epoch', 'ms');
  const res = await fetch(u, { method: 'POST' });
  const body = (await res.json()) as QueryAnswer;
  const r = body.results?.[0];
  const err = body.error ?? r?.error;
  if (err) throw new Error(`InfluxQL error for "${q}": ${err}`);
  if (r?.partial) throw new Error(`InfluxDB truncated its answer to "${q}" (partial): counts would be wrong`);
  return r?.series ?? [];
}

const quoteTag = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * Σ `samples` of qos_region per (region, window) for the tenant, late points included (they carry a nanosecond
 * offset inside their window and add to it). One query per region, over the ledger's span ± a margin.
 */
export async function storedPerWindow(influx: InfluxServer, db: string, ledger: Ledger, tenant = TENANT): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const [from, to] = ledger.span();
  const w = ledger.windowMs;
  for (const region of ledger.regions()) {
    const series = await influxQuery(
      influx,
      db,
      `SELECT sum("samples") FROM "qos_region" WHERE "tenant" = ${quoteTag(tenant)} AND "region" = ${quoteTag(region)} AND time >= ${from - 3_600_000}ms AND time < ${to + 3_600_000}ms GROUP BY time(${w}ms) fill(none)`,
    );
    for (const s of series) for (const [t, v] of s.values) if (typeof v === 'number' && v !== 0) out.set(keyOf(region, Math.floor(Number(t) / w)), v);
  }
  return out;
}

/** Σ `samples` of qos_region for the tenant over all time. */
export async function storedTotal(influx: InfluxServer, db: string, tenant = TENANT): Promise<number> {
  const series = await influxQuery(influx, db, `SELECT sum("samples") FROM "qos_region" WHERE "tenant" = ${quoteTag(tenant)}`);
  return Number(series[0]?.values[0]?.[1] ?? 0);
}

export interface Comparison {
  windows: number;
  accepted: number;
  inDoubt: number;
  stored: number;
  /** Σ over windows of max(0, accepted − stored): acknowledged samples InfluxDB does not have. */
  lost: number;
  lostWindows: number;
  /** Σ max(0, stored − accepted): stored beyond what was acknowledged (a cut request that had been journaled, then resent). */
  extra: number;
  /** Σ max(0, stored − accepted − inDoubt): more than any cut request explains — counted twice. */
  unexplained: number;
  unexplainedWindows: number;
  /** A few windows that went wrong, for the failure message. */
  examples: string[];
}

/** Compares the ledger with what InfluxDB stored, window by window. */
export function compare(ledger: Ledger, stored: Map<string, number>): Comparison {
  const c: Comparison = { windows: 0, accepted: 0, inDoubt: 0, stored: 0, lost: 0, lostWindows: 0, extra: 0, unexplained: 0, unexplainedWindows: 0, examples: [] };
  const keys = new Set([...ledger.accepted.keys(), ...ledger.inDoubt.keys(), ...stored.keys()]);
  for (const k of keys) {
    const a = ledger.accepted.get(k) ?? 0;
    const d = ledger.inDoubt.get(k) ?? 0;
    const s = stored.get(k) ?? 0;
    c.windows++;
    c.accepted += a;
    c.inDoubt += d;
    c.stored += s;
    const [region, window] = splitKey(k);
    const where = `${region} @ ${new Date(window * ledger.windowMs).toISOString()}`;
    if (s < a) {
      c.lost += a - s;
      c.lostWindows++;
      if (c.examples.length < 5) c.examples.push(`${where}: accepted ${a}, stored ${s}`);
    }
    if (s > a) c.extra += s - a;
    if (s > a + d) {
      c.unexplained += s - a - d;
      c.unexplainedWindows++;
      if (c.examples.length < 5) c.examples.push(`${where}: accepted ${a} (+ ${d} in doubt), stored ${s}`);
    }
  }
  return c;
}

/** Puts a comparison's figures and failures into a report. */
export function reportComparison(report: Report, c: Comparison): void {
  report.figure('windows compared (region × window)', c.windows);
  report.figure('samples acknowledged (202 accepted)', c.accepted);
  report.figure('samples in doubt (request cut by a crash, then resent)', c.inDoubt);
  report.figure('samples stored in InfluxDB (Σ qos_region.samples)', c.stored);
  report.figure('**lost** (acknowledged, not stored)', c.lost);
  report.figure('stored beyond acknowledged (≤ in doubt is expected)', c.extra);
  report.check(c.lost === 0, `LOST DATA: ${fmt(c.lost)} acknowledged samples are missing from InfluxDB in ${c.lostWindows} window(s), e.g. ${c.examples.join('; ')}`);
  report.check(c.unexplained === 0, `COUNTED TWICE: ${fmt(c.unexplained)} samples stored beyond acknowledged + in doubt in ${c.unexplainedWindows} window(s), e.g. ${c.examples.join('; ')}`);
}

import WebSocket from 'ws';
import { VERSION } from '../app.js';
import type { Sample } from '../telemetry/sample-schema.js';
import { type Fault, type FaultEvent, apply, events as faultEvents, faultsEnd } from './faults.js';
import { type Diurnal, Population, compress } from './model.js';

/**
 * The simulator's I/O: runs populations on a (possibly compressed) scenario clock, injects the faults, and sends
 * the beacons to a qoswatch service over HTTP batches or a WebSocket, paced to a target rate, honouring 429
 * Retry-After, counting what was accepted, rejected and retried.
 */

export const SDK = `qoswatch-simulator/${VERSION}`;

export interface TenantTarget {
  /** A label (session id prefix, messages); the service knows the tenant from the key. */
  tenant: string;
  key: string;
}

export interface RunOptions {
  /** Base URL of the service, e.g. http://localhost:8080. */
  url: string;
  /** One population per entry, each sent with its own ingest key. */
  targets: readonly TenantTarget[];
  transport: 'http' | 'ws';
  /** Samples per second at most (token bucket); undefined: as fast as the service accepts. */
  rate: number | undefined;
  /** Samples per request or frame at most. */
  batch: number;
  /** Scenario length, ms of scenario time; undefined: until `signal` aborts. */
  durationMs: number | undefined;
  /** Scenario clock speed (1 = real time). Sample `ts` is always real time. */
  speed: number;
  /** Beacon interval, ms of scenario time. */
  intervalMs: number;
  seed: number;
  /** Live sessions per tenant at the diurnal peak. */
  sessions: number;
  regions: readonly string[];
  cdns?: readonly string[];
  diurnal?: Diurnal;
  faults: readonly Fault[];
  /** Requests (HTTP) or unacked frames (WebSocket) in flight at most (default 8 / 16). */
  maxInFlight?: number;
  signal?: AbortSignal;
  onEvent?: (e: RunEvent) => void;
}

export type RunEvent =
  | { type: 'started'; wallMs: number; expectedSessions: number; samplesPerSecond: number }
  | { type: 'fault'; wallMs: number; event: FaultEvent }
  | { type: 'warning'; wallMs: number; message: string };

export interface FaultLog {
  event: FaultEvent;
  /** Wall-clock time the scenario clock reached the event. */
  wallMs: number;
}

export interface RunSummary {
  startedAt: number;
  elapsedMs: number;
  /** Samples the populations produced after faults. */
  generated: number;
  /** Samples sent (a retried batch counts once) and the service's verdicts on them. */
  sent: number;
  accepted: number;
  rejected: number;
  /** Samples sent again (429, 503, connection lost) — included once in `sent`. */
  retried: number;
  /** Samples sent but given up on (attempts exhausted, the run cancelled while they waited). */
  failed: number;
  /** Samples generated but never sent (the run stopped or failed first). */
  unsent: number;
  requests: number;
  /** accepted / elapsed seconds. */
  rate: number;
  /** The first rejection's reason, to show what is wrong. */
  firstRejection: string | undefined;
  faults: FaultLog[];
}

/** The run cannot go on (the key was refused, the URL is wrong). */
export class SendError extends Error {}

// ---------------------------------------------------------------------------------------------------------------
// Pacing

/**
 * A token bucket in samples (time is an argument): a batch may go when the bucket is not in debt, and takes its
 * size from it (going into debt), so batches larger than a second's worth still average out to `rate`.
 */
export class Pacer {
  private tokens: number;
  private last: number | undefined;

  constructor(
    private readonly rate: number | undefined,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  /** Ms to wait before `n` samples may go (0: now); call `take` when they go. */
  wait(now: number): number {
    if (this.rate === undefined) return 0;
    this.refill(now);
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.rate) * 1000);
  }

  take(n: number, now: number): void {
    if (this.rate === undefined) return;
    this.refill(now);
    this.tokens -= n;
  }

  private refill(now: number): void {
    if (this.last !== undefined) this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate!);
    this.last = now;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Transports

interface Outcome {
  accepted: number;
  rejected: number;
  retried: number;
  failed: number;
  requests: number;
  rejection?: string;
}

interface Transport {
  /** Sends one batch (stamping is done by the caller), retrying as needed; resolves with the verdict. */
  send(samples: readonly Sample[]): Promise<Outcome>;
  close(): Promise<void>;
}

/** Resolves after `ms`, or at once when `signal` aborts (the timer is cleared either way). */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
  });
}

const MAX_ATTEMPTS = 8;
const backoff = (attempt: number) => Math.min(5000, 200 * 2 ** attempt) * (0.5 + Math.random() / 2);

function rejectionText(body: unknown): string | undefined {
  const r = (body as { rejected?: { index: number; errors: { path: string; message: string }[] }[] })?.rejected?.[0];
  if (!r) return undefined;
  return `sample ${r.index}: ${r.errors.map((e) => `${e.path || '(sample)'}: ${e.message}`).join('; ')}`;
}

class HttpTransport implements Transport {
  private readonly endpoint: string;

  constructor(
    url: string,
    private readonly key: string,
    private readonly signal: AbortSignal,
  ) {
    this.endpoint = `${url.replace(/\/+$/, '')}/v1/telemetry`;
  }

  /** Told to wait (429 Retry-After): no request of this key goes before then. */
  private holdUntil = 0;

  async send(samples: readonly Sample[]): Promise<Outcome> {
    const body = JSON.stringify({ sdk: SDK, samples });
    const out: Outcome = { accepted: 0, rejected: 0, retried: 0, failed: 0, requests: 0 };
    // a rate limit (429) is waited out as long as the run lasts; other failures (5xx, network) MAX_ATTEMPTS times
    let failures = 0;
    for (let attempt = 0; !this.signal.aborted; attempt++) {
      if (this.holdUntil > Date.now()) await pause(this.holdUntil - Date.now() + Math.random() * 50, this.signal);
      if (this.signal.aborted) break;
      if (attempt > 0) out.retried += samples.length;
      let wait: number;
      try {
        out.requests++;
        const res = await fetch(this.endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${this.key}` },
          body,
          signal: AbortSignal.any([this.signal, AbortSignal.timeout(30_000)]),
        });
        const text = await res.text();
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        if (res.status === 202) {
          const b = parsed as { accepted: number; rejected: unknown[] };
          out.accepted = b.accepted;
          out.rejected = b.rejected.length;
          out.rejection = rejectionText(b);
          return out;
        }
        const message = (parsed as { message?: string } | undefined)?.message ?? text.slice(0, 200);
        if (res.status === 401) throw new SendError(`the service refused the ingest key (401): ${message}`);
        if (res.status === 404) throw new SendError(`${this.endpoint} answered 404: is this a qoswatch service?`);
        if (res.status !== 429 && res.status < 500) {
          // the batch itself is wrong (400, 413, 415): resending cannot help
          out.rejected = samples.length;
          out.rejection = `HTTP ${res.status}: ${message}`;
          return out;
        }
        const retryAfter = Number(res.headers.get('retry-after'));
        if (res.status !== 429) failures++;
        wait = Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(30_000, retryAfter * 1000) : backoff(failures);
        if (res.status === 429) this.holdUntil = Math.max(this.holdUntil, Date.now() + wait);
      } catch (err) {
        if (err instanceof SendError) throw err;
        failures++;
        wait = backoff(failures);
      }
      if (failures >= MAX_ATTEMPTS) break;
      await pause(wait, this.signal);
    }
    out.failed = samples.length;
    return out;
  }

  async close(): Promise<void> {}
}

interface Frame {
  seq: number;
  text: string;
  count: number;
  sentOnce: boolean;
  /** Failures other than a rate limit (unavailable). */
  failures: number;
  /** A timer will send it (after a hold): a reconnect must not send it too. */
  waiting: boolean;
  out: Outcome;
  resolve: (o: Outcome) => void;
  reject: (err: Error) => void;
}

/**
 * One WebSocket to GET /v1/telemetry/ws: frames `{seq, samples}`, one ack per frame. Rate-limited or unavailable
 * frames are resent after the server's hint; a lost connection reconnects with backoff and resends the unacked
 * frames; 1008 (key refused) ends the run.
 */
class WsTransport implements Transport {
  private ws: WebSocket | undefined;
  private seq = 0;
  private readonly pending = new Map<number, Frame>();
  private closing = false;
  private fatal: SendError | undefined;
  private reconnects = 0;
  private readonly wsUrl: string;
  private opened: Promise<void> | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Told to wait (too_many_requests): no frame goes before then. */
  private holdUntil = 0;

  constructor(
    url: string,
    private readonly key: string,
  ) {
    this.wsUrl = `${url.replace(/\/+$/, '').replace(/^http/, 'ws')}/v1/telemetry/ws`;
  }

  /** Opens the connection (waits for it); rejects when the first connection cannot be made at all. */
  open(): Promise<void> {
    this.opened ??= new Promise<void>((resolve, reject) => this.connect(resolve, reject));
    return this.opened;
  }

  private connect(onOpen?: () => void, onFail?: (err: Error) => void): void {
    const ws = new WebSocket(this.wsUrl, { headers: { authorization: `Bearer ${this.key}` }, perMessageDeflate: false });
    this.ws = ws;
    ws.on('open', () => {
      this.reconnects = 0;
      onOpen?.();
      for (const f of this.pending.values()) if (!f.waiting) this.transmit(f);
    });
    ws.on('message', (data) => this.onMessage(String(data)));
    ws.on('unexpected-response', (_req, res) => {
      const err = new SendError(res.statusCode === 401 ? 'the service refused the ingest key (401)' : `${this.wsUrl}: the upgrade was answered ${res.statusCode}`);
      this.fail(err);
      onFail?.(err);
      ws.terminate();
    });
    ws.on('error', (err) => {
      if (onFail && ws.readyState !== WebSocket.OPEN && !this.fatal) {
        onFail(new SendError(`cannot connect to ${this.wsUrl}: ${err.message}`));
        onFail = undefined;
      }
    });
    ws.on('close', (code, reason) => {
      if (this.ws !== ws) return;
      if (code === 1008) {
        this.fail(new SendError(`the service closed the WebSocket: ${String(reason) || 'unknown or revoked ingest key'} (1008)`));
        return;
      }
      if (this.closing || this.fatal) return;
      // 1013 (overloaded), 1001 (restart), a dropped connection: come back with backoff, resend what is unacked
      const delay = backoff(Math.min(this.reconnects++, 5)) + (code === 1013 ? 1000 : 0);
      this.later(delay, () => {
        if (!this.closing && !this.fatal) this.connect();
      });
    });
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private retryLater(f: Frame, ms: number): void {
    f.waiting = true;
    this.later(ms + Math.random() * 20, () => {
      f.waiting = false;
      if (this.pending.has(f.seq)) this.transmit(f);
    });
  }

  private fail(err: SendError): void {
    if (this.fatal) return;
    this.fatal = err;
    for (const f of this.pending.values()) f.reject(err);
    this.pending.clear();
  }

  private transmit(f: Frame): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return; // sent on (re)connect
    const hold = this.holdUntil - Date.now();
    if (hold > 0) return this.retryLater(f, hold);
    if (f.sentOnce) f.out.retried += f.count;
    f.sentOnce = true;
    f.out.requests++;
    ws.send(f.text);
  }

  private onMessage(text: string): void {
    let msg: { seq?: number | null; accepted?: number; rejected?: unknown[]; error?: string; message?: string; retry_after_ms?: number };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    const f = typeof msg.seq === 'number' ? this.pending.get(msg.seq) : undefined;
    if (!f) return;
    if (msg.error === 'too_many_requests' || msg.error === 'over_budget' || msg.error === 'unavailable') {
      // a rate limit or a spent budget is waited out as long as the run lasts (the connection holds its frames until then)
      if (msg.error === 'unavailable' && ++f.failures >= MAX_ATTEMPTS) return this.settle(f, { failed: f.count });
      const wait = Math.min(30_000, msg.retry_after_ms !== undefined ? Math.max(1, msg.retry_after_ms) : backoff(f.failures));
      if (msg.error !== 'unavailable') this.holdUntil = Math.max(this.holdUntil, Date.now() + wait);
      this.retryLater(f, wait);
      return;
    }
    if (msg.error !== undefined) return this.settle(f, { rejected: f.count, rejection: `${msg.error}: ${msg.message ?? ''}` });
    this.settle(f, { accepted: msg.accepted ?? 0, rejected: msg.rejected?.length ?? 0, rejection: rejectionText(msg) });
  }

  private settle(f: Frame, o: Partial<Outcome>): void {
    this.pending.delete(f.seq);
    f.resolve({ ...f.out, ...o });
  }

  async send(samples: readonly Sample[]): Promise<Outcome> {
    if (this.fatal) throw this.fatal;
    await this.open();
    if (this.fatal) throw this.fatal;
    const seq = ++this.seq;
    return new Promise<Outcome>((resolve, reject) => {
      const f: Frame = { seq, text: JSON.stringify({ seq, samples }), count: samples.length, sentOnce: false, failures: 0, waiting: false, out: { accepted: 0, rejected: 0, retried: 0, failed: 0, requests: 0 }, resolve, reject };
      this.pending.set(seq, f);
      this.transmit(f);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const f of this.pending.values()) f.resolve({ ...f.out, failed: f.count });
    this.pending.clear();
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 2000);
      ws.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000, 'simulation over');
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The run

interface Queued {
  target: number;
  samples: Sample[];
  /** Real time (epoch ms) before which the batch is not sent. */
  notBefore: number;
}

/** How long after the scenario ends the run waits for batches still queued or in flight. */
const DRAIN_MS = 15_000;

/**
 * Runs the simulation: every interval (of scenario time) each population produces its beacons, the faults in
 * effect are applied, and the beacons are spread over the next interval in batches, stamped with the real time
 * they are sent (`ts` = send time − interval: the interval they measure just ended). Resolves with the counts
 * when the scenario ends (or `signal` aborts) and everything queued was answered.
 */
export async function runSimulation(o: RunOptions): Promise<RunSummary> {
  if (o.targets.length === 0) throw new SendError('no ingest key: give --key or set QOSWATCH_INGEST_KEY');
  // `halt` stops generating: the caller's signal, or a fatal send error
  const halt = new AbortController();
  const onAbort = () => halt.abort();
  // `cancel` stops what is in flight (retries, requests): after the drain timeout
  const cancel = new AbortController();
  if (o.signal?.aborted) halt.abort();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const emit = (e: RunEvent) => o.onEvent?.(e);
  const realInterval = o.intervalMs / o.speed;
  const populations = o.targets.map(
    (t, i) =>
      new Population({
        seed: (o.seed + Math.imul(i, 0x9e3779b1)) >>> 0, tenant: o.targets.length > 1 ? t.tenant : 's', regions: o.regions, sessions: o.sessions, intervalMs: o.intervalMs,
        ...(o.diurnal ? { diurnal: o.diurnal } : {}),
        ...(o.cdns ? { cdns: o.cdns.map((name, _j, all) => ({ name, share: 1 / all.length })) } : {}),
      }),
  );
  const transports: Transport[] = o.targets.map((t) => (o.transport === 'ws' ? new WsTransport(o.url, t.key) : new HttpTransport(o.url, t.key, cancel.signal)));
  try {
    if (o.transport === 'ws') await Promise.all(transports.map((t) => (t as WsTransport).open()));
  } catch (err) {
    await Promise.all(transports.map((t) => t.close()));
    o.signal?.removeEventListener('abort', onAbort);
    throw err;
  }

  const startedAt = Date.now();
  const summary: RunSummary = { startedAt, elapsedMs: 0, generated: 0, sent: 0, accepted: 0, rejected: 0, retried: 0, failed: 0, unsent: 0, requests: 0, rate: 0, firstRejection: undefined, faults: [] };
  const expected = populations.reduce((a, p) => a + p.expected(startedAt), 0);
  emit({ type: 'started', wallMs: startedAt, expectedSessions: expected, samplesPerSecond: Math.round(expected / (realInterval / 1000)) });

  // fault events, reported when the scenario clock reaches them
  const timers: NodeJS.Timeout[] = [];
  for (const e of faultEvents(o.faults)) {
    if (o.durationMs !== undefined && e.at > o.durationMs) continue;
    timers.push(
      setTimeout(() => {
        const log = { event: e, wallMs: Date.now() };
        summary.faults.push(log);
        emit({ type: 'fault', ...log });
      }, startedAt + e.at / o.speed - Date.now()),
    );
  }

  const queue: Queued[] = [];
  let waking = new AbortController();
  const poke = () => waking.abort();
  let generating = true;
  let fatal: Error | undefined;
  const maxInFlight = o.maxInFlight ?? (o.transport === 'ws' ? 16 : 8);
  const inFlight = new Set<Promise<void>>();
  const pacer = new Pacer(o.rate, Math.max(o.batch, o.rate ?? 0));
  let warnedLag = false;

  // the sender: takes batches when due, paced and bounded in flight
  const sender = (async () => {
    while (!fatal) {
      if (waking.signal.aborted) waking = new AbortController();
      const next = queue[0];
      if (!next) {
        if (!generating) break;
        await pause(60_000, waking.signal);
        continue;
      }
      const now = Date.now();
      const wait = Math.max(next.notBefore - now, pacer.wait(now));
      if (wait > 0) {
        await pause(wait, waking.signal);
        continue;
      }
      if (inFlight.size >= maxInFlight) {
        await Promise.race(inFlight);
        continue;
      }
      queue.shift();
      if (!warnedLag && now - next.notBefore > 2 * realInterval && next.notBefore > 0) {
        warnedLag = true;
        emit({ type: 'warning', wallMs: now, message: `sending is ${((now - next.notBefore) / 1000).toFixed(1)}s behind the beacons: the service or --rate cannot keep up` });
      }
      for (const s of next.samples) s.ts = Math.round(now - (s.interval_ms ?? realInterval));
      pacer.take(next.samples.length, now);
      summary.sent += next.samples.length;
      const p = transports[next.target]!.send(next.samples).then(
        (r) => {
          summary.accepted += r.accepted;
          summary.rejected += r.rejected;
          summary.retried += r.retried;
          summary.failed += r.failed;
          summary.requests += r.requests;
          summary.firstRejection ??= r.rejection;
        },
        (err: unknown) => {
          summary.failed += next.samples.length;
          fatal ??= err instanceof Error ? err : new Error(String(err));
          halt.abort();
          poke();
        },
      );
      const tracked: Promise<void> = p.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    }
    await Promise.allSettled(inFlight);
  })();

  // the generator: one interval of beacons per tick of the scenario clock
  try {
    for (let k = 0; !halt.signal.aborted; k++) {
      const scenarioT = k * o.intervalMs;
      if (o.durationMs !== undefined && scenarioT > o.durationMs) {
        // no tick left: the run still lasts its whole duration (the last fault events happen on time)
        await pause(startedAt + o.durationMs / o.speed + 1 - Date.now(), halt.signal);
        break;
      }
      const tickAt = startedAt + k * realInterval;
      await pause(tickAt - Date.now(), halt.signal);
      if (halt.signal.aborted) break;
      populations.forEach((pop, target) => {
        // the beacons at this tick measure the interval that just ended: faults in effect at its start apply
        const samples = compress(apply(o.faults, scenarioT - o.intervalMs, pop.beacons(startedAt + scenarioT)), o.speed);
        summary.generated += samples.length;
        // spread over the interval (viewers beacon at different phases), at least one batch a second
        const chunks = Math.min(samples.length, Math.max(Math.ceil(samples.length / o.batch), Math.ceil(realInterval / 1000)));
        for (let c = 0; c < chunks; c++) {
          const part = samples.slice(Math.floor((c * samples.length) / chunks), Math.floor(((c + 1) * samples.length) / chunks));
          if (part.length) queue.push({ target, samples: part, notBefore: tickAt + (c * realInterval) / chunks });
        }
      });
      queue.sort((a, b) => a.notBefore - b.notBefore);
      poke();
    }
  } finally {
    generating = false;
    // events due by now have fired (timers run in order of their due time); later ones are past the run
    for (const t of timers) clearTimeout(t);
    poke();
  }

  // drain: what is still queued goes out now (not at its slot in the interval), bounded in time
  if (!fatal) for (const q of queue) q.notBefore = 0;
  poke();
  const giveUp = new AbortController();
  const drained = await Promise.race([sender.then(() => true), pause(o.signal?.aborted ? 5000 : DRAIN_MS, giveUp.signal).then(() => false)]);
  giveUp.abort();
  if (!drained) {
    fatal ??= new Error('drain timeout');
    cancel.abort();
    poke();
    emit({ type: 'warning', wallMs: Date.now(), message: 'gave up waiting for the last batches' });
  }
  await Promise.all(transports.map((t) => t.close()));
  await sender;
  for (const q of queue.splice(0)) summary.unsent += q.samples.length;
  o.signal?.removeEventListener('abort', onAbort);
  summary.elapsedMs = Date.now() - startedAt;
  summary.rate = summary.accepted / Math.max(0.001, summary.elapsedMs / 1000);
  if (fatal && fatal.message !== 'drain timeout') throw Object.assign(fatal, { summary });
  return summary;
}

/** The scenario length a run uses: the given one, else 30 s after the last fault, else none (until stopped). */
export function scenarioLength(durationMs: number | undefined, faults: readonly Fault[]): number | undefined {
  if (durationMs !== undefined) return durationMs;
  return faults.length ? faultsEnd(faults) + 30_000 : undefined;
}

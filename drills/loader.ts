import { randomUUID } from 'node:crypto';
import type { Agent } from 'node:http';
import { type Fault, apply } from '../src/simulator/faults.js';
import { Population } from '../src/simulator/model.js';
import { SDK } from '../src/simulator/send.js';
import type { Sample } from '../src/telemetry/sample-schema.js';
import { Counter, Ledger, type PostOutcome, keepAlive, post, sleep } from './common.js';

/**
 * The simulator's population and faults (src/simulator: `Population`, `apply`) sent over HTTP by a sender that
 * keeps the books a drill needs, which `runSimulation` does not: per (region, window) the samples the service
 * acknowledged, and the samples of requests whose outcome is unknown because the service died under them.
 *
 * - 202: the `accepted` samples (all but the `rejected` indices) are acknowledged, hence durable.
 * - connection refused / no service: nothing was sent; the batch waits and goes again.
 * - 429 / 503: refused before journaling; the batch goes again after Retry-After.
 * - a request cut mid-way (ECONNRESET, socket hang up, timeout) or a 5xx other than 503: the outcome is unknown —
 *   the batch may have been journaled. Its samples are counted "in doubt" and the same batch (same `ts`, same body)
 *   is sent again. The service does not deduplicate a resent batch (sample identity is journal seq + index, see
 *   src/telemetry/pipeline.ts), so a resend that is acknowledged counts as accepted, and InfluxDB may hold up to the
 *   in-doubt samples more than was acknowledged: per window, accepted ≤ stored ≤ accepted + in doubt.
 */

export interface LoaderOptions {
  /** The service's base URL, or undefined while it is down. */
  url: () => string | undefined;
  key: string;
  regions: readonly string[];
  /** Live sessions at the (flat) peak; samples per second ≈ sessions / interval + edge nodes. */
  sessions: number;
  /** Beacon interval, ms (real time). */
  intervalMs: number;
  seed: number;
  /** Offsets from the loader's start. */
  faults?: readonly Fault[];
  /** Samples per request at most. */
  batch: number;
  /** Requests in flight at most. */
  maxInFlight: number;
  windowMs: number;
  /** Queued samples above which a tick's beacons are not generated (counted as shed: never sent, never accepted). */
  maxQueued?: number;
  /** Send each batch with an Idempotency-Key of its own, the same on every resend. */
  idempotent?: boolean;
}

interface Batch {
  samples: Sample[];
  body: string | undefined;
  /** Ledger key of each sample, set when stamped. */
  keys: string[];
  notBefore: number;
  attempts: number;
  /** Its Idempotency-Key, set when stamped (with `idempotent`). */
  id?: string;
}

export class Loader {
  readonly ledger: Ledger;
  readonly statuses = new Counter();
  readonly errors = new Counter();
  generated = 0;
  shed = 0;
  acceptedSamples = 0;
  rejectedSamples = 0;
  inDoubtSamples = 0;
  requests = 0;
  /** Batches a 202 answered. */
  batchesAccepted = 0;
  firstRejection: string | undefined;
  /** 429s without a Retry-After header. */
  missingRetryAfter = 0;
  startedAt = 0;

  private readonly pop: Population;
  private readonly agent: Agent;
  private queue: Batch[] = [];
  private queued = 0;
  private inflight = 0;
  private generating = false;
  private genLoop: Promise<void> | undefined;
  private pumpLoop: Promise<void> | undefined;
  private stopAt = Infinity;
  private holdUntil = 0;

  constructor(private readonly o: LoaderOptions) {
    this.ledger = new Ledger(o.windowMs);
    this.pop = new Population({ seed: o.seed, tenant: 'd', regions: o.regions, sessions: o.sessions, intervalMs: o.intervalMs, diurnal: { peakHour: 21, trough: 1 } });
    this.agent = keepAlive(o.maxInFlight);
  }

  /** Samples generated per second since the start. */
  offeredRate(): number {
    return this.generated / Math.max(0.001, (Date.now() - this.startedAt) / 1000);
  }

  start(): void {
    this.startedAt = Date.now();
    this.generating = true;
    this.genLoop = this.generate();
    this.pumpLoop = this.pump();
  }

  /** Stops generating; waits (at most `timeoutMs`) for everything queued and in flight to be answered. */
  async stop(timeoutMs = 60_000): Promise<void> {
    this.generating = false;
    await this.genLoop;
    for (const b of this.queue) b.notBefore = Math.min(b.notBefore, Date.now());
    this.stopAt = Date.now() + timeoutMs;
    await this.pumpLoop;
    this.agent.destroy();
  }

  /** Requests in flight now. */
  get inFlight(): number {
    return this.inflight;
  }

  /** Samples generated but still queued (unsent) when the loader stopped. */
  get unsent(): number {
    return this.queued;
  }

  private async generate(): Promise<void> {
    const I = this.o.intervalMs;
    for (let k = 0; this.generating; k++) {
      const tickAt = this.startedAt + k * I;
      while (this.generating && Date.now() < tickAt) await sleep(Math.min(50, tickAt - Date.now()));
      if (!this.generating) break;
      const scenarioT = k * I;
      const beacons = this.pop.beacons(this.startedAt + scenarioT);
      const samples = apply(this.o.faults ?? [], scenarioT - I, beacons);
      if (this.queued + samples.length > (this.o.maxQueued ?? 50 * samples.length)) {
        this.shed += samples.length;
        continue;
      }
      this.generated += samples.length;
      // spread over the interval, as viewers beacon at different phases
      const chunks = Math.max(1, Math.ceil(samples.length / this.o.batch));
      for (let c = 0; c < chunks; c++) {
        const part = samples.slice(Math.floor((c * samples.length) / chunks), Math.floor(((c + 1) * samples.length) / chunks));
        if (part.length) this.enqueue({ samples: part, body: undefined, keys: [], notBefore: tickAt + (c * I) / chunks, attempts: 0 });
      }
    }
  }

  private enqueue(b: Batch): void {
    this.queued += b.samples.length;
    // keep the queue ordered by due time (it is short: a few intervals' worth at most)
    let i = this.queue.length;
    while (i > 0 && this.queue[i - 1]!.notBefore > b.notBefore) i--;
    this.queue.splice(i, 0, b);
  }

  private async pump(): Promise<void> {
    const waiting = new Set<Promise<void>>();
    for (;;) {
      const now = Date.now();
      if (!this.generating && this.queue.length === 0 && this.inflight === 0) break;
      if (now >= this.stopAt) break;
      const next = this.queue[0];
      const url = this.o.url();
      if (!next || next.notBefore > now || !url || this.inflight >= this.o.maxInFlight || this.holdUntil > now) {
        const wait = next && next.notBefore > now ? Math.min(20, next.notBefore - now) : 10;
        await (waiting.size && this.inflight >= this.o.maxInFlight ? Promise.race([...waiting, sleep(wait)]) : sleep(wait));
        continue;
      }
      this.queue.shift();
      this.queued -= next.samples.length;
      const p: Promise<void> = this.send(next, url).finally(() => waiting.delete(p));
      waiting.add(p);
    }
    await Promise.allSettled(waiting);
  }

  private async send(b: Batch, url: string): Promise<void> {
    if (b.body === undefined) {
      // stamped when first sent, as the simulator does: the interval it measures just ended
      const now = Date.now();
      for (const s of b.samples) s.ts = Math.round(now - (s.interval_ms ?? this.o.intervalMs));
      b.keys = b.samples.map((s) => this.ledger.key(s.region, s.ts));
      b.body = JSON.stringify({ sdk: SDK, samples: b.samples });
      if (this.o.idempotent) b.id = randomUUID();
    }
    b.attempts++;
    this.inflight++;
    this.requests++;
    let out: PostOutcome;
    try {
      const headers: Record<string, string> = { 'content-type': 'application/json', authorization: `Bearer ${this.o.key}` };
      if (b.id) headers['idempotency-key'] = b.id;
      out = await post(`${url}/v1/telemetry`, b.body, headers, this.agent, 30_000);
    } finally {
      this.inflight--;
    }
    const again = (delay: number) => {
      b.notBefore = Date.now() + delay;
      this.enqueue(b);
    };
    if (out.kind === 'error') {
      this.errors.add(out.code);
      if (out.sent) this.markInDoubt(b);
      return again(out.sent ? 100 : 50);
    }
    this.statuses.add(out.status);
    if (out.status === 202) {
      const body = JSON.parse(out.body) as { accepted: number; rejected: { index: number; errors: { path: string; message: string }[] }[] };
      const rejected = new Set(body.rejected.map((r) => r.index));
      for (let i = 0; i < b.samples.length; i++) if (!rejected.has(i)) this.ledger.addAccepted(b.keys[i]!);
      if (b.samples.length - rejected.size !== body.accepted) this.firstRejection ??= `202 said accepted ${body.accepted} of ${b.samples.length} with ${rejected.size} rejected`;
      this.acceptedSamples += body.accepted;
      this.rejectedSamples += rejected.size;
      this.batchesAccepted++;
      if (body.rejected[0]) this.firstRejection ??= `sample ${body.rejected[0].index}: ${JSON.stringify(body.rejected[0].errors)}`;
      return;
    }
    if (out.status === 429 || out.status === 503) {
      const ra = Number(out.headers['retry-after']);
      if (out.status === 429 && out.headers['retry-after'] === undefined) this.missingRetryAfter++;
      const wait = Number.isFinite(ra) && ra > 0 ? ra * 1000 : 500;
      if (out.status === 429) this.holdUntil = Math.max(this.holdUntil, Date.now() + Math.min(wait, 2000));
      return again(Math.min(wait, 2000));
    }
    if (out.status >= 500) {
      // a 500 may come after the journal commit: unknown outcome
      this.markInDoubt(b);
      return again(200);
    }
    // 4xx: the batch itself is wrong (never expected of the simulator's beacons)
    this.rejectedSamples += b.samples.length;
    this.firstRejection ??= `HTTP ${out.status}: ${out.body.slice(0, 200)}`;
  }

  private markInDoubt(b: Batch): void {
    this.inDoubtSamples += b.samples.length;
    for (const k of b.keys) this.ledger.addInDoubt(k);
  }
}

/**
 * Getting samples to qoswatch: a bounded queue, batches by fetch (keepalive, text/plain so no CORS preflight, no
 * cookies), a random send offset within the interval, 429 + Retry-After honoured, backoff on network errors and 5xx,
 * and one final flush by sendBeacon. Timers, randomness and the network are injected (tests drive them).
 */

export interface TransportDeps {
  now(): number;
  random(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** fetch with keepalive; resolves to the status and Retry-After header, rejects on a network error. */
  post(url: string, body: string): Promise<{ status: number; retryAfter: string | null }>;
  /** navigator.sendBeacon; false when the browser refused to queue it. */
  beacon(url: string, body: string): boolean;
}

export interface TransportOptions {
  /** `${endpoint}/v1/telemetry?key=…` */
  url: string;
  sdk: string;
  intervalMs: number;
  /** Queue bounds: the oldest samples are dropped beyond them (default 360 samples, 256 KB). */
  maxQueued?: number;
  maxQueuedBytes?: number;
  /** One request's body at most, in bytes (default 32 KB: fetch keepalive and sendBeacon allow 64 KB in flight per page, shared). */
  maxBatchBytes?: number;
}

const MAX_BACKOFF_MS = 60_000;
const MAX_RETRY_AFTER_MS = 10 * 60_000;

interface Queued {
  json: string;
  /** UTF-8 bytes: the browser's keepalive and beacon quotas count bytes (a region in CJK is 3 per character). */
  bytes: number;
}

const utf8 = new TextEncoder();
const queued = (s: object): Queued => {
  const json = JSON.stringify(s);
  return { json, bytes: utf8.encode(json).length };
};

/** Retry-After in ms: delta seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(v: string | null, now: number): number | undefined {
  if (v === null || v.trim() === '') return undefined;
  const secs = Number(v);
  const ms = Number.isFinite(secs) ? secs * 1000 : Date.parse(v) - now;
  return Number.isFinite(ms) ? Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms)) : undefined;
}

export class Transport {
  private readonly queue: Queued[] = [];
  private queuedBytes = 0;
  private inFlight = false;
  /** No regular send before this (a Retry-After, or backoff after failures). */
  private blockedUntil = 0;
  /** The server's own Retry-After runs until this: not even the final flush goes before it. */
  private refusedUntil = 0;
  private failures = 0;
  private timer: unknown;
  private timerAt = Infinity;
  private closed = false;
  /** Samples dropped by the queue bounds (for tests and debugging). */
  dropped = 0;
  private readonly maxQueued: number;
  private readonly maxQueuedBytes: number;
  private readonly maxBatchBytes: number;

  constructor(private readonly o: TransportOptions, private readonly d: TransportDeps) {
    this.maxQueued = o.maxQueued ?? 360;
    this.maxQueuedBytes = o.maxQueuedBytes ?? 256 * 1024;
    this.maxBatchBytes = o.maxBatchBytes ?? 32 * 1024;
  }

  get size(): number {
    return this.queue.length;
  }

  /** Queues samples and schedules a send at a random offset within the next interval. */
  enqueue(samples: readonly object[]): void {
    if (this.closed || samples.length === 0) return;
    for (const s of samples) {
      const q = queued(s);
      if (q.bytes > this.maxBatchBytes / 2) { this.dropped++; continue; }
      this.queue.push(q);
      this.queuedBytes += q.bytes;
    }
    while (this.queue.length > this.maxQueued || this.queuedBytes > this.maxQueuedBytes) {
      this.queuedBytes -= this.queue.shift()!.bytes;
      this.dropped++;
    }
    // Synchronised players (all aligned to the same wall-clock boundary) must not all send in the same millisecond
    this.schedule(this.d.now() + this.d.random() * this.o.intervalMs);
  }

  private schedule(at: number): void {
    if (this.closed) return;
    at = Math.max(at, this.blockedUntil);
    if (this.timer !== undefined && this.timerAt <= at) return;
    if (this.timer !== undefined) this.d.clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = this.d.setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      void this.send();
    }, Math.max(0, at - this.d.now()));
  }

  private body(batch: readonly Queued[]): string {
    return `{"sdk":${JSON.stringify(this.o.sdk)},"samples":[${batch.map((q) => q.json).join(',')}]}`;
  }

  /** Takes the oldest samples that fit in one request. */
  private take(): Queued[] {
    let bytes = 64;
    let n = 0;
    while (n < this.queue.length && bytes + this.queue[n]!.bytes + 1 <= this.maxBatchBytes) bytes += this.queue[n++]!.bytes + 1;
    const batch = this.queue.splice(0, n);
    for (const q of batch) this.queuedBytes -= q.bytes;
    return batch;
  }

  private putBack(batch: Queued[]): void {
    this.queue.unshift(...batch);
    for (const q of batch) this.queuedBytes += q.bytes;
    while (this.queue.length > this.maxQueued || this.queuedBytes > this.maxQueuedBytes) {
      this.queuedBytes -= this.queue.shift()!.bytes;
      this.dropped++;
    }
  }

  private async send(): Promise<void> {
    if (this.inFlight || this.closed || this.queue.length === 0) return;
    const now = this.d.now();
    if (now < this.blockedUntil) return this.schedule(this.blockedUntil);
    const batch = this.take();
    this.inFlight = true;
    let retryIn: number | undefined;
    try {
      const r = await this.d.post(this.o.url, this.body(batch));
      if (r.status === 429 || r.status === 408 || r.status >= 500) {
        // Over a limit, overloaded or timed out: keep the samples, wait as told (or back off)
        this.putBack(batch);
        const told = retryAfterMs(r.retryAfter, this.d.now());
        if (told !== undefined) this.refusedUntil = this.d.now() + told;
        retryIn = told ?? this.backoff();
        if (r.status === 429) this.failures = 0;
      } else {
        // 2xx (invalid samples inside a 202 would fail again), or a 4xx that no retry mends: done with them
        this.failures = 0;
      }
    } catch {
      this.putBack(batch);
      retryIn = this.backoff();
    } finally {
      this.inFlight = false;
    }
    if (retryIn !== undefined) {
      this.blockedUntil = this.d.now() + retryIn;
      this.schedule(this.blockedUntil);
    } else if (this.queue.length > 0) this.schedule(this.d.now());
  }

  /** Exponential, jittered: 1 s, 2 s, 4 s … up to a minute. */
  private backoff(): number {
    const base = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** this.failures++);
    return base / 2 + (this.d.random() * base) / 2;
  }

  /**
   * Everything queued, now, in one sendBeacon (the page is being hidden, maybe for good). The server's Retry-After
   * still running is honoured: those samples are dropped rather than sent into the refusal (a backoff after network
   * errors is not: this is the last chance). Regular sends resume with the
   * next enqueue (the page came back).
   */
  flush(last: readonly object[] = []): void {
    if (this.closed) return;
    for (const s of last) this.queue.push(queued(s));
    if (this.timer !== undefined) this.d.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    const blocked = this.d.now() < this.refusedUntil;
    // Newest first: what does not fit in one beacon is the oldest
    let bytes = 64;
    let from = this.queue.length;
    while (!blocked && from > 0 && bytes + this.queue[from - 1]!.bytes + 1 <= this.maxBatchBytes) bytes += this.queue[--from]!.bytes + 1;
    const batch = this.queue.splice(from);
    this.dropped += this.queue.length;
    this.queue.length = 0;
    this.queuedBytes = 0;
    if (batch.length === 0) return;
    const body = this.body(batch);
    if (!this.d.beacon(this.o.url, body)) void this.d.post(this.o.url, body).catch(() => undefined);
  }

  /** The network is back (the browser's `online` event): retry now rather than at the end of a backoff. */
  online(): void {
    this.failures = 0;
    this.blockedUntil = Math.min(this.blockedUntil, this.refusedUntil);
    if (this.queue.length > 0) {
      if (this.timer !== undefined) this.d.clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAt = Infinity;
      this.schedule(this.d.now());
    }
  }

  /** Nothing is sent after this. */
  stop(): void {
    this.closed = true;
    if (this.timer !== undefined) this.d.clearTimeout(this.timer);
    this.timer = undefined;
  }
}

import type { FastifyBaseLogger as Logger } from 'fastify';
import type { Metrics } from '../../metrics.js';
import type { Spool } from '../spool.js';
import { type InfluxSink, SinkError } from './sink.js';
import { redactUrl } from '../../util/redact-url.js';

export interface ShipperStatus {
  /** False while writes fail with a retryable error. */
  reachable: boolean;
  lastError?: string;
  lastSuccessAt?: number;
}

const MIN_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 30_000;

/**
 * Drains the spool into InfluxDB in order, one batch at a time. A batch leaves the spool only once InfluxDB has
 * it (or refused its points for good); while InfluxDB is down the loop backs off exponentially with jitter and
 * the spool grows.
 */
export class Shipper {
  readonly status: ShipperStatus = { reachable: true };
  private wake: (() => void) | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  private failures = 0;
  private lastRejectLog = 0;

  constructor(
    private readonly spool: Spool,
    private readonly sink: InfluxSink,
    private readonly opts: { batchLines: number; metrics: Metrics; log: Logger },
  ) {}

  start(): void {
    this.running ??= this.loop();
  }

  /** New points are in the spool. */
  nudge(): void {
    this.wake?.();
  }

  /** Waits until the spool is empty, InfluxDB fails, or the timeout passes; true when empty. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.spool.depth.rows > 0 && Date.now() < deadline && this.status.reachable) {
      this.nudge();
      await sleep(20);
    }
    return this.spool.depth.rows === 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.nudge();
    await this.running;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const batch = this.spool.peek(this.opts.batchLines);
      if (!batch) {
        await new Promise<void>((r) => (this.wake = r));
        this.wake = undefined;
        continue;
      }
      try {
        await this.writeSplitting(batch.lines);
        this.spool.ack(batch.lastSeq);
        this.failures = 0;
        this.status.reachable = true;
        this.status.lastSuccessAt = Date.now();
        delete this.status.lastError;
      } catch (err) {
        this.failures++;
        const message = err instanceof Error ? err.message : String(err);
        if (this.status.reachable || this.status.lastError !== message) {
          this.opts.log.warn({ err: message, target: redactUrl(this.sink.target), spooled: this.spool.depth.lines }, 'InfluxDB write failed; points stay in the spool and are retried');
        }
        this.status.reachable = false;
        this.status.lastError = message;
        const backoff = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** (this.failures - 1));
        await this.sleepOrWake(backoff / 2 + Math.random() * (backoff / 2));
      }
    }
  }

  /** Writes lines; a too-large batch is split in halves, refused points are counted and let go. */
  private async writeSplitting(lines: readonly string[]): Promise<void> {
    const { metrics } = this.opts;
    const end = metrics.influxWriteDuration.startTimer();
    try {
      await this.sink.write(lines);
      end();
      metrics.influxPointsWritten.inc(lines.length);
    } catch (err) {
      end();
      if (!(err instanceof SinkError)) throw err;
      metrics.influxWriteErrors.inc({ failure: err.failure });
      if (err.failure === 'too_large' && lines.length > 1) {
        const mid = Math.ceil(lines.length / 2);
        await this.writeSplitting(lines.slice(0, mid));
        await this.writeSplitting(lines.slice(mid));
        return;
      }
      if (err.failure === 'retry') throw err;
      // InfluxDB keeps the valid points of a batch and reports the rest; those can never be written.
      metrics.influxPointsRejected.inc(lines.length);
      if (Date.now() - this.lastRejectLog > 60_000) {
        this.lastRejectLog = Date.now();
        this.opts.log.error({ err: err.message, lines: lines.length, first: lines[0]?.slice(0, 200) }, 'InfluxDB refused points; they are dropped');
      }
    }
  }

  private sleepOrWake(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      // Only a stop may cut a backoff short; new points must not hammer a failing server.
      this.wake = () => (this.stopped ? done() : undefined);
      function done() {
        clearTimeout(t);
        resolve();
      }
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

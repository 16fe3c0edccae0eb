import type { Checkpoint } from '../spool.js';

/** One accepted batch, as the log keeps it until the windows it touches are stored. */
export interface LogEntry {
  tenant: string;
  receivedAt: number;
  /** The request body as received (decompressed JSON, UTF-8); replay validates it again at `receivedAt`. */
  body: Buffer;
  /** The highest window index its accepted samples touch: the record is kept until that window is stored. */
  maxWindow: number;
  /** Dimensions derived at ingest from the client's address (JSON; geoip/records.ts), replayed with the body. */
  dims?: string | null;
}

export interface LogRecord extends LogEntry {
  seq: number;
}

/** A record as the SQLite tables keep it (the old journal, the quarantine): the body as text, readable there. */
export type TextRecord = Omit<LogRecord, 'body'> & { body: string };

/**
 * The durable log of accepted telemetry (README, Durability): segment files in the data dir (segment-log.ts) in
 * the embedded mode; a JetStream stream per partition in the cluster mode (design/SCALE-OUT.md §4.6). A batch is
 * acknowledged only once its record is durable, so an accepted sample survives kill -9. Sequence numbers are
 * strictly increasing for the life of the data (they make sample ids and anchor the checkpoint), never reused.
 */
export interface IngestLog {
  /**
   * Appends a record. Once it is durable, `onDurable` runs with its seq — for every record in seq order, before
   * any later record's — and its result resolves the promise; a failed write rejects it.
   */
  append<T>(entry: LogEntry, onDurable: (seq: number) => T): Promise<T>;
  /** Makes everything appended so far durable now (before a tick, so a checkpoint never skips a batch). */
  flush(): void;
  /** Records with a seq above `afterSeq`, in seq order. */
  read(afterSeq: number): Iterable<LogRecord>;
  /** Drops what the checkpoint covers: records up to its seq whose windows are all before its closedBefore. */
  trim(cp: Checkpoint): void;
  /** Bytes appended but not yet durable: the ingest backpressure signal. */
  readonly pendingBytes: number;
  /** The highest seq made durable (or found at open). */
  readonly lastSeq: number;
  /** The last write error, until a write succeeds again (readiness). */
  readonly failure: string | undefined;
  /** What the log holds on disk, and the damaged records it skipped when opened, for metrics. */
  stats(): { segments: number; bytes: number; damaged: number };
  close(): void;
}

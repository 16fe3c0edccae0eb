import type { Quarantine } from './quarantine.js';
import type { IngestLog, LogRecord } from './types.js';

/** Records replayed under one replay marker: one small write per chunk keeps a large log's replay fast. */
export const REPLAY_CHUNK = 1000;

export const QUARANTINE_CAUSES = ['error', 'crash'] as const;
export type QuarantineCause = (typeof QUARANTINE_CAUSES)[number];

export interface Quarantined {
  seq: number;
  tenant: string;
  cause: QuarantineCause;
  reason: string;
}

const CRASH_REASON = 'the process died while replaying it (previous start)';

/**
 * Replays every record of the log in seq order through `apply`, after a restart, skipping quarantined ones. A
 * record whose `apply` throws is quarantined (kept with its reason) and replay goes on. A record that ends the
 * process outright (out of memory cannot be caught) is found by a durable marker: records are replayed in chunks
 * of REPLAY_CHUNK, each marked before it starts; the start after a death in a chunk replays that chunk one record
 * per marker, and the start after a death on a single record quarantines it. So a deadly record costs two crashed
 * starts, never a loop. Returns the records quarantined by this call.
 */
export function replayLog(log: IngestLog, quarantine: Quarantine, apply: (r: LogRecord) => void, now: number): Quarantined[] {
  const out: Quarantined[] = [];
  const skip = quarantine.seqs();
  const marker = quarantine.marker();
  /** Up to `limit` records after `after` (through `upto`), skipping quarantined ones. */
  function* range(after: number, upto: number, limit: number): IterableIterator<LogRecord> {
    let n = 0;
    for (const r of log.read(after)) {
      if (r.seq > upto || n === limit) return;
      if (skip.has(r.seq)) continue;
      n++;
      yield r;
    }
  }
  const put = (r: LogRecord, cause: QuarantineCause, reason: string) => {
    quarantine.add(r, now, reason, cause === 'crash');
    skip.add(r.seq);
    out.push({ seq: r.seq, tenant: r.tenant, cause, reason });
  };

  if (marker?.rows === 1) {
    const [r] = range(marker.afterSeq, Number.MAX_SAFE_INTEGER, 1);
    if (r) put(r, 'crash', CRASH_REASON);
  }
  /** Replays up to `limit` records after `after` (through `upto`) under one marker; returns the last seq and how many. */
  const step = (after: number, upto: number, limit: number): { last: number; n: number } => {
    quarantine.mark({ afterSeq: after, rows: limit });
    let last = after;
    let n = 0;
    for (const r of range(after, upto, limit)) {
      last = r.seq;
      n++;
      try {
        apply(r);
      } catch (err) {
        put(r, 'error', describeError(err));
      }
    }
    return { last, n };
  };
  const all = (after: number, upto: number, limit: number): number => {
    for (;;) {
      const r = step(after, upto, limit);
      after = r.last;
      if (r.n < limit) return after;
    }
  };

  let after = 0;
  if (marker && marker.rows > 1) {
    // The previous start died in this chunk: the records before it as usual, then its records one per marker.
    after = all(0, marker.afterSeq, REPLAY_CHUNK);
    for (let i = 0; i < marker.rows; i++) {
      const r = step(after, Number.MAX_SAFE_INTEGER, 1);
      if (r.n === 0) break;
      after = r.last;
    }
  }
  all(after, Number.MAX_SAFE_INTEGER, REPLAY_CHUNK);
  quarantine.unmark();
  return out;
}

/** A reason for the log and the quarantine table: the error's kind and message, never the record's body. */
function describeError(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

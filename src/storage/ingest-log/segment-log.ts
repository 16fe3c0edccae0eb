import { closeSync, fdatasyncSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Checkpoint } from '../spool.js';
import { DIR_MODE, FILE_MODE } from '../permissions.js';
import { HEADER, MAGIC, checkFrame, encodeFrame, frameSeq, maxFrameSize, readFrame } from './frame.js';
import type { IngestLog, LogEntry, LogRecord } from './types.js';

/** Where a record is: its segment, offset and size on disk. */
interface Entry {
  seq: number;
  seg: Segment;
  offset: number;
  size: number;
}

/** The file of one window: every record whose maxWindow it is, in seq order. */
interface Segment {
  window: number;
  path: string;
  fd: number;
  bytes: number;
  maxSeq: number;
  entries: Entry[];
}

interface Pending<T> {
  record: LogRecord;
  onDurable: (seq: number) => T;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

/** What opening found wrong in the segments, for the log and metrics. */
export interface OpenReport {
  /** Bytes cut off at segment ends: a record torn by a crash mid-write (never acknowledged). */
  tornBytes: number;
  /** Damaged records skipped inside segments (their samples are lost), and their bytes. */
  corruptRecords: number;
  corruptBytes: number;
}

export interface SegmentLogOptions {
  /** fdatasync each group commit (QOSWATCH_FSYNC): survives a power loss too; without it, a process crash. */
  fsync?: boolean;
  /** No seq at or below this is handed out (the checkpoint's, and any used before: seqs are never reused). */
  seqFloor?: number;
}

const SEGMENT = /^w(\d+)\.log$/;
/** The read size of the scan at open. */
const SCAN_CHUNK = 4 * 1024 ** 2;
/**
 * Without fsync a write is a copy into the page cache, cheap beside the samples of a large body: from this many
 * bytes pending, the appends are written (and their samples applied) at the end of the current task instead of with
 * the turn's group commit. Parsed samples then die before the next body is parsed; waiting for the turn's last
 * body kept every batch of the turn alive through young-generation collections, which promoted them to the old
 * generation (a full mark-compact every ~0.5 s at 200 k samples/s in batches of 1000).
 */
const EAGER_BYTES = 64 * 1024;
/** The largest encoding buffer kept between turns. */
const SCRATCH_MAX = 8 * 1024 ** 2;
const MAGIC_BYTES = Buffer.alloc(4);
MAGIC_BYTES.writeUInt32LE(MAGIC);

/**
 * The embedded mode's IngestLog: append-only segment files `w<window>.log` in one directory, one per window (a
 * record goes to the segment of its maxWindow), deleted whole once the checkpoint covers them — no per-record
 * deletes, no page cache of its own beyond the OS's. Appends of one event-loop turn are one write per segment
 * (group commit); a write that returns is in the OS and survives kill -9, and with `fsync` it is fdatasync'd
 * before anything is acknowledged.
 */
export class SegmentLog implements IngestLog {
  private readonly segments = new Map<number, Segment>();
  private pending: Pending<unknown>[] = [];
  private scheduled = false;
  /** A flush is queued for the end of this task (EAGER_BYTES). */
  private eager = false;
  private pendingBytesNow = 0;
  private last: number;
  /** The entries of all segments by seq, built on first read after a change (replay reads many ranges). */
  private sorted: Entry[] | undefined;
  private scratch = Buffer.allocUnsafe(256 * 1024);
  failure: string | undefined;
  readonly opened: OpenReport = { tornBytes: 0, corruptRecords: 0, corruptBytes: 0 };

  constructor(
    readonly dir: string,
    private readonly opts: SegmentLogOptions = {},
  ) {
    mkdirSync(dir, { recursive: true, mode: DIR_MODE });
    let max = 0;
    for (const name of readdirSync(dir)) {
      const m = SEGMENT.exec(name);
      if (!m) continue;
      const seg = this.scan(Number(m[1]), join(dir, name));
      if (seg.bytes === 0) {
        closeSync(seg.fd);
        unlinkSync(seg.path);
        continue;
      }
      this.segments.set(seg.window, seg);
      max = Math.max(max, seg.maxSeq);
    }
    this.last = Math.max(max, opts.seqFloor ?? 0);
  }

  get pendingBytes(): number {
    return this.pendingBytesNow;
  }

  get lastSeq(): number {
    return this.last;
  }

  /** The highest seq held in a segment (0 when none), whatever the floor. */
  get highestStored(): number {
    let max = 0;
    for (const s of this.segments.values()) max = Math.max(max, s.maxSeq);
    return max;
  }

  /** The lowest seq held in a segment, if any. */
  get lowestStored(): number | undefined {
    let min: number | undefined;
    for (const s of this.segments.values()) if (s.entries.length) min = Math.min(min ?? Infinity, s.entries[0]!.seq);
    return min;
  }

  stats(): { segments: number; bytes: number; damaged: number } {
    let bytes = 0;
    for (const s of this.segments.values()) bytes += s.bytes;
    return { segments: this.segments.size, bytes, damaged: this.opened.corruptRecords };
  }

  append<T>(entry: LogEntry, onDurable: (seq: number) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ record: { ...entry, seq: 0 }, onDurable, resolve, reject } as Pending<unknown>);
      this.pendingBytesNow += entry.body.length;
      if (!this.opts.fsync && this.pendingBytesNow >= EAGER_BYTES) {
        if (!this.eager) {
          this.eager = true;
          queueMicrotask(() => {
            this.eager = false;
            this.flush();
          });
        }
      } else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    this.pendingBytesNow = 0;
    let seq = this.last;
    for (const p of batch) p.record.seq = ++seq;
    try {
      this.write(batch.map((p) => p.record));
    } catch (err) {
      // The failed batch's seqs are not handed out again: should cutting its bytes off have failed too, a record
      // of it could still be read back at the next start.
      this.last = seq;
      this.failure = err instanceof Error ? err.message : String(err);
      for (const p of batch) p.reject(err);
      return;
    }
    this.failure = undefined;
    for (const p of batch) {
      this.last = p.record.seq;
      try {
        p.resolve(p.onDurable(p.record.seq));
      } catch (err) {
        p.reject(err);
      }
    }
  }

  /**
   * Writes records that carry their seq already (above every seq held; an upgrade's rows from the old SQLite
   * journal), durably, now.
   */
  import(records: readonly LogRecord[]): void {
    if (records.length === 0) return;
    this.write(records);
    this.last = Math.max(this.last, records[records.length - 1]!.seq);
  }

  /**
   * One write per segment, then (with fsync) one fdatasync per segment. On failure, what this call wrote is cut off
   * again, so a batch that was refused is not replayed after a crash either.
   */
  private write(records: readonly LogRecord[]): void {
    const bySegment = new Map<number, LogRecord[]>();
    for (const r of records) {
      let l = bySegment.get(r.maxWindow);
      if (!l) bySegment.set(r.maxWindow, (l = []));
      l.push(r);
    }
    const done: { seg: Segment; before: number; entries: Entry[] }[] = [];
    let created = false;
    try {
      for (const [window, recs] of bySegment) {
        let seg = this.segments.get(window);
        if (!seg) {
          seg = this.create(window);
          created = true;
        }
        const buf = this.scratchFor(recs.reduce((n, r) => n + maxFrameSize(r), 0));
        const entries: Entry[] = [];
        let len = 0;
        for (const r of recs) {
          const end = encodeFrame(r, buf, len);
          entries.push({ seq: r.seq, seg, offset: seg.bytes + len, size: end - len });
          len = end;
        }
        done.push({ seg, before: seg.bytes, entries });
        // Positioned: the file's own offset is not the end after a scan opened it.
        for (let off = 0; off < len; ) off += writeSync(seg.fd, buf, off, len - off, seg.bytes + off);
        seg.bytes += len;
        if (this.opts.fsync) fdatasyncSync(seg.fd);
      }
      // A new file's name must be durable too before its records count as such.
      if (created && this.opts.fsync) syncDir(this.dir);
    } catch (err) {
      for (const d of done) {
        try {
          ftruncateSync(d.seg.fd, d.before);
        } catch {
          // the write failed for the disk's reasons; the next open cuts a torn tail anyway
        }
        d.seg.bytes = d.before;
      }
      throw err;
    }
    for (const d of done) {
      for (const e of d.entries) d.seg.entries.push(e);
      d.seg.maxSeq = d.entries[d.entries.length - 1]!.seq;
    }
    this.sorted = undefined;
  }

  /**
   * A buffer of at least `n` bytes to encode a turn's frames into: one kept for turns of usual size (encoding with
   * an upper bound spares measuring each body's UTF-8 length first), a fresh one for a rare large turn.
   */
  private scratchFor(n: number): Buffer {
    if (n > SCRATCH_MAX) return Buffer.allocUnsafe(n);
    if (this.scratch.length < n) this.scratch = Buffer.allocUnsafe(Math.min(SCRATCH_MAX, Math.max(n, 2 * this.scratch.length)));
    return this.scratch;
  }

  private create(window: number): Segment {
    const path = join(this.dir, `w${window}.log`);
    const seg: Segment = { window, path, fd: openSync(path, 'a+', FILE_MODE), bytes: 0, maxSeq: 0, entries: [] };
    this.segments.set(window, seg);
    return seg;
  }

  *read(afterSeq: number): IterableIterator<LogRecord> {
    const sorted = (this.sorted ??= [...this.segments.values()].flatMap((s) => s.entries).sort((a, b) => a.seq - b.seq));
    let lo = 0, hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid]!.seq <= afterSeq) lo = mid + 1;
      else hi = mid;
    }
    let buf = Buffer.allocUnsafe(64 * 1024);
    for (let i = lo; i < sorted.length; i++) {
      const e = sorted[i]!;
      if (buf.length < e.size) buf = Buffer.allocUnsafe(e.size);
      readFully(e.seg.fd, buf, e.size, e.offset);
      yield readFrame(buf, 0, e.size);
    }
  }

  /** Deletes each segment whose window the checkpoint closed and whose records it covers: one unlink a window. */
  trim(cp: Checkpoint): void {
    for (const seg of this.segments.values()) {
      if (seg.window >= cp.closedBefore || seg.maxSeq > cp.journalSeq) continue;
      unlinkSync(seg.path); // first: a segment that cannot be deleted stays whole, its file still open
      closeSync(seg.fd);
      this.segments.delete(seg.window);
      this.sorted = undefined;
    }
  }

  close(): void {
    for (const seg of this.segments.values()) closeSync(seg.fd);
    this.segments.clear();
  }

  /**
   * Indexes a segment's records, checking each frame's length and CRC. A tail that is no whole record (a crash
   * mid-write) is cut off; a damaged record with whole ones after it is skipped and counted: never a crash.
   */
  private scan(window: number, path: string): Segment {
    const fd = openSync(path, 'r+', FILE_MODE);
    const size = fstatSync(fd).size;
    const seg: Segment = { window, path, fd, bytes: size, maxSeq: 0, entries: [] };
    const r = new Reader(fd, size);
    /** The frame at `at` if it is whole and sound. */
    const frameAt = (at: number): { end: number; seq: number } | undefined => {
      if (!r.load(at, HEADER)) return undefined;
      let c = checkFrame(r.buf, at - r.start, r.len);
      if (c.kind === 'short' && at + c.need <= size && r.load(at, c.need)) c = checkFrame(r.buf, at - r.start, r.len);
      return c.kind === 'ok' ? { end: r.start + c.end, seq: frameSeq(r.buf, at - r.start) } : undefined;
    };
    /** The next sound frame after a damaged one at `from`, searching by its magic. */
    const nextFrame = (from: number): number | undefined => {
      for (let pos = from + 1; pos < size; ) {
        r.load(pos, Math.min(SCAN_CHUNK, size - pos));
        const hit = r.buf.subarray(0, r.len).indexOf(MAGIC_BYTES, pos - r.start);
        if (hit < 0) {
          pos = Math.max(pos + 1, r.start + r.len - 3);
          continue;
        }
        const at = r.start + hit;
        if (frameAt(at)) return at;
        pos = at + 1;
      }
      return undefined;
    };
    let at = 0;
    while (at < size) {
      const f = frameAt(at);
      if (f) {
        seg.entries.push({ seq: f.seq, seg, offset: at, size: f.end - at });
        seg.maxSeq = Math.max(seg.maxSeq, f.seq);
        at = f.end;
        continue;
      }
      const next = nextFrame(at);
      if (next === undefined) {
        this.opened.tornBytes += size - at;
        ftruncateSync(fd, at);
        seg.bytes = at;
        break;
      }
      this.opened.corruptRecords++;
      this.opened.corruptBytes += next - at;
      at = next;
    }
    return seg;
  }
}

/** A window of a file in memory, for the scan at open. */
class Reader {
  buf = Buffer.allocUnsafe(SCAN_CHUNK);
  start = 0;
  len = 0;

  constructor(
    private readonly fd: number,
    private readonly size: number,
  ) {}

  /** Makes bytes [at, at + n) present in `buf` (from `start`); false when the file ends before. */
  load(at: number, n: number): boolean {
    if (at + n > this.size) return false;
    if (at >= this.start && at + n <= this.start + this.len) return true;
    const want = Math.min(Math.max(n, SCAN_CHUNK), this.size - at);
    if (this.buf.length < want) this.buf = Buffer.allocUnsafe(want);
    this.start = at;
    this.len = readFully(this.fd, this.buf, want, at);
    return this.len >= n;
  }
}

function readFully(fd: number, buf: Buffer, n: number, position: number): number {
  let got = 0;
  while (got < n) {
    const k = readSync(fd, buf, got, n - got, position + got);
    if (k === 0) break;
    got += k;
  }
  return got;
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

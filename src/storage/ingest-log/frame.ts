import { crc32 } from 'node:zlib';
import type { LogRecord } from './types.js';

/**
 * A record on disk: magic, payload length, CRC32 of the payload, payload. The payload is seq, receivedAt and
 * maxWindow (float64: exact integers up to 2^53), the byte lengths of tenant and dims (0 = none), then tenant,
 * dims as UTF-8 and the body's bytes. The magic lets a reader find the next record after a corrupt one.
 */
export const MAGIC = 0x51574c31; // "QWL1"
export const HEADER = 12;
const FIXED = 30;
/** A payload longer than this is corrupt (the largest body the collectors accept is far smaller). */
export const MAX_PAYLOAD = 256 * 1024 ** 2;

/** The most bytes the record can take on disk (3 UTF-8 bytes per UTF-16 unit): no scan of the strings. */
export function maxFrameSize(r: LogRecord): number {
  return HEADER + FIXED + 3 * (r.tenant.length + (r.dims?.length ?? 0)) + r.body.length;
}

/** Writes the record at `at` (maxFrameSize(r) bytes must be free there); returns the offset after it. */
export function encodeFrame(r: LogRecord, buf: Buffer, at: number): number {
  let p = at + HEADER;
  const start = p;
  buf.writeDoubleLE(r.seq, p);
  buf.writeDoubleLE(r.receivedAt, p + 8);
  buf.writeDoubleLE(r.maxWindow, p + 16);
  p += FIXED;
  const tenantLen = buf.write(r.tenant, p);
  p += tenantLen;
  const dimsLen = r.dims ? buf.write(r.dims, p) : 0;
  p += dimsLen;
  p += r.body.copy(buf, p);
  buf.writeUInt16LE(tenantLen, start + 24);
  buf.writeUInt32LE(dimsLen, start + 26);
  buf.writeUInt32LE(MAGIC, at);
  buf.writeUInt32LE(p - start, at + 4);
  buf.writeUInt32LE(crc32(buf.subarray(start, p)), at + 8);
  return p;
}

export type FrameCheck =
  | { kind: 'ok'; end: number }
  /** Not enough bytes for a header, or for the frame its header announces: a torn tail, or more to read. */
  | { kind: 'short'; need: number }
  | { kind: 'corrupt' };

/** Checks the frame at `at` of `buf` (bytes up to `len` are valid): its magic, length and CRC. */
export function checkFrame(buf: Buffer, at: number, len: number): FrameCheck {
  if (len - at < HEADER) return { kind: 'short', need: HEADER };
  if (buf.readUInt32LE(at) !== MAGIC) return { kind: 'corrupt' };
  const size = buf.readUInt32LE(at + 4);
  if (size < FIXED || size > MAX_PAYLOAD) return { kind: 'corrupt' };
  const end = at + HEADER + size;
  if (end > len) return { kind: 'short', need: HEADER + size };
  if (crc32(buf.subarray(at + HEADER, end)) !== buf.readUInt32LE(at + 8)) return { kind: 'corrupt' };
  const p = at + HEADER;
  if (FIXED + buf.readUInt16LE(p + 24) + buf.readUInt32LE(p + 26) > size) return { kind: 'corrupt' };
  return { kind: 'ok', end };
}

/** The seq of a frame checkFrame found ok. */
export const frameSeq = (buf: Buffer, at: number): number => buf.readDoubleLE(at + HEADER);

/** The record of a frame checkFrame found ok, ending at `end`. */
export function readFrame(buf: Buffer, at: number, end: number): LogRecord {
  const p = at + HEADER;
  const tenantLen = buf.readUInt16LE(p + 24);
  const dimsLen = buf.readUInt32LE(p + 26);
  const t = p + FIXED;
  return {
    seq: buf.readDoubleLE(p),
    receivedAt: buf.readDoubleLE(p + 8),
    maxWindow: buf.readDoubleLE(p + 16),
    tenant: buf.toString('utf8', t, t + tenantLen),
    dims: dimsLen ? buf.toString('utf8', t + tenantLen, t + tenantLen + dimsLen) : null,
    // A copy: `buf` is the reader's, reused for the next record.
    body: Buffer.from(buf.subarray(t + tenantLen + dimsLen, end)),
  };
}

/**
 * JSON.parse of a telemetry body (UTF-8 bytes), without making one string of a large body.
 *
 * V8 allocates a string over 128 KiB in its large-object space: decoding a 250 KB batch of 1000 samples that way
 * cost about 1 ms (four times its JSON.parse), and those strings live until a full GC, where they made most of the
 * heap under load. So a large body whose `samples` array can be cut between its elements is parsed in pieces of
 * at most PIECE bytes (one string each, in the young generation), and the envelope around the array on its own.
 * Whatever does not fit that shape — or a piece that does not parse, as when a cut fell inside a string or a nested
 * object — is parsed whole: the result is always JSON.parse's, and so are its errors.
 */

/** Piece size: even as two-byte characters (non-ASCII text) a piece's string stays under 128 KiB. */
export const PIECE = 56 * 1024;

const COMMA = 0x2c, COLON = 0x3a, OPEN_BRACKET = 0x5b, CLOSE_BRACKET = 0x5d, OPEN_BRACE = 0x7b, CLOSE_BRACE = 0x7d;
const KEY = Buffer.from('"samples"');

const isSpace = (b: number | undefined) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

function skipSpace(bytes: Buffer, i: number): number {
  while (isSpace(bytes[i])) i++;
  return i;
}

/**
 * Where the elements of the `samples` array start and end: after the `[` of the first `"samples"` key and at the
 * body's last `]`. A `"` right after `samples` cannot be escaped, so the key found is a key, not text in a string;
 * that it is the envelope's only `samples` and the array runs to that `]` is proven by the pieces parsing (a list
 * with a stray `]` or key does not) and by the envelope holding an empty array there.
 */
function arrayBounds(bytes: Buffer): { start: number; end: number } | undefined {
  for (let k = bytes.indexOf(KEY); k >= 0; k = bytes.indexOf(KEY, k + 1)) {
    let i = skipSpace(bytes, k + KEY.length);
    if (bytes[i] !== COLON) continue;
    i = skipSpace(bytes, i + 1);
    if (bytes[i] !== OPEN_BRACKET) return undefined;
    const end = bytes.lastIndexOf(CLOSE_BRACKET);
    return end > i ? { start: i + 1, end } : undefined;
  }
  return undefined;
}

/** The first `}` `,` `{` (spaces allowed) from `from` on, before `end`: returns the index of the `,`. */
function nextCut(bytes: Buffer, from: number, end: number): number {
  for (let c = bytes.indexOf(CLOSE_BRACE, from); c >= 0 && c < end; c = bytes.indexOf(CLOSE_BRACE, c + 1)) {
    const comma = skipSpace(bytes, c + 1);
    if (bytes[comma] === COMMA && bytes[skipSpace(bytes, comma + 1)] === OPEN_BRACE) return comma;
  }
  return -1;
}

/** Parses a body of valid UTF-8 (the caller checks: a cut never splits a character, cuts are at ASCII bytes). */
export function parseBody(bytes: Buffer): unknown {
  return bytes.length > 2 * PIECE ? parsePieces(bytes) ?? JSON.parse(bytes.toString('utf8')) : JSON.parse(bytes.toString('utf8'));
}

/**
 * Where a piece is put between brackets, reused: a piece is PIECE bytes plus the rest of the sample the cut waits
 * for. A longer one (one huge sample) gets a buffer of its own, so that one hostile body does not keep memory.
 */
const scratch = Buffer.allocUnsafe(PIECE + 16 * 1024);

/**
 * `[` + the bytes [from, to) + `]` as one flat string. A template around the decoded piece would make a cons
 * string that JSON.parse flattens into a second copy: about a sixth of all bytes the ingest path allocated.
 */
function listText(bytes: Buffer, from: number, to: number): string {
  const size = to - from + 2;
  const buf = size <= scratch.length ? scratch : Buffer.allocUnsafe(size);
  buf[0] = OPEN_BRACKET;
  bytes.copy(buf, 1, from, to);
  buf[size - 1] = CLOSE_BRACKET;
  return buf.toString('utf8', 0, size);
}

function parsePieces(bytes: Buffer): unknown {
  const bounds = arrayBounds(bytes);
  if (!bounds) return undefined;
  const { start, end } = bounds;
  const samples: unknown[] = [];
  try {
    for (let from = start; from < end; ) {
      const cut = end - from > PIECE ? nextCut(bytes, from + PIECE, end) : -1;
      const to = cut < 0 ? end : cut;
      const piece = JSON.parse(listText(bytes, from, to)) as unknown[];
      for (const s of piece) samples.push(s);
      from = cut < 0 ? end : cut + 1;
    }
    const envelope = JSON.parse(bytes.toString('utf8', 0, start) + bytes.toString('utf8', end)) as { samples?: unknown };
    if (!Array.isArray(envelope.samples) || envelope.samples.length !== 0) return undefined;
    envelope.samples = samples;
    return envelope;
  } catch {
    return undefined;
  }
}

import { deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { INGEST_KEY } from '../test/helpers/app.js';

/**
 * Fuzz cases for the telemetry collectors, from fast-check arbitraries: each is a request (or WebSocket frame)
 * with the statuses (or outcomes) the API contract allows for it. Nothing here knows the service's code paths; the
 * expectations come from the README (API) only.
 */

export interface HttpCase {
  kind: string;
  body: Buffer;
  headers: Record<string, string>;
  /** Query string (without ?), e.g. key=… */
  query?: string;
  /** Statuses the contract allows. */
  expect: readonly number[];
  /** Samples in the batch, when the envelope is well formed (accepted + rejected must add up to it). */
  samples?: number;
  /** Per sample: epoch ms of its ts as the service reads it, or undefined (not a valid timestamp). */
  ts?: (number | undefined)[];
  /** The service may close the connection instead of reading the whole body (413). */
  mayClose?: boolean;
}

export type WsOutcome = 'ack' | 'bad_request' | 'close1007' | 'close1009';

export interface WsCase {
  kind: string;
  data: Buffer | string;
  binary: boolean;
  expect: readonly WsOutcome[];
  seq?: number;
  samples?: number;
  ts?: (number | undefined)[];
}

const TAG = /^[^\x00-\x1f\x7f\\]+$/;
const REGIONS = ['eu-west', 'us-east', 'ap-south', 'cn-east', 'sa-east'];

/** A raw JSON number literal in place of a value (JSON.stringify cannot write 1e400). */
const RAW = (text: string) => `@@RAW(${text})@@`;
const unraw = (json: string) => json.replace(/"@@RAW\(([^)"]*)\)@@"/g, '$1');
const json = (v: unknown) => unraw(JSON.stringify(v));

/** The service's reading of a ts (src/telemetry/validate.ts: fraction cut to ms, then Date.parse). */
export function tsOf(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : undefined;
  if (typeof v === 'string') {
    const t = Date.parse(v.replace(/(\.\d{3})\d+/, '$1'));
    return Number.isFinite(t) ? t : undefined;
  }
  return undefined;
}

const text = (max: number) => fc.string({ minLength: 1, maxLength: max }).filter((s) => TAG.test(s));
const unicodeText = (max: number) => fc.string({ unit: 'grapheme', minLength: 1, maxLength: max }).filter((s) => TAG.test(s) && [...s].length <= max);

type Obj = Record<string, unknown>;

/** A sample the contract accepts (ts in the past, so its window closes while the drill runs). */
function validSample(now: number): fc.Arbitrary<Obj> {
  return fc
    .record({
      ts: fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: now - 600_000, max: now - 2000 }) },
        { weight: 1, arbitrary: fc.integer({ min: now - 23 * 3_600_000, max: now - 2000 }) },
        { weight: 1, arbitrary: fc.integer({ min: now - 600_000, max: now - 2000 }).map((t) => new Date(t).toISOString()) },
      ),
      region: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...REGIONS) }, { weight: 1, arbitrary: text(64) }, { weight: 1, arbitrary: unicodeText(24) }),
      session: fc.oneof(fc.constantFrom('s1', 's2', 's3'), text(128)),
      latency_ms: fc.integer({ min: 0, max: 600_000 }),
      play_ms: fc.integer({ min: 0, max: 10_000 }),
      stall_ms: fc.integer({ min: 0, max: 10_000 }),
      stall_count: fc.integer({ min: 0, max: 10 }),
      packets: fc.option(fc.tuple(fc.integer({ min: 0, max: 1e12 }), fc.double({ min: 0, max: 1, noNaN: true })), { nil: undefined }),
      dims: fc.option(fc.record({ isp: fc.oneof(fc.constantFrom('isp-a', 'isp-b'), unicodeText(16)), cdn: fc.constantFrom('cdn-a', 'cdn-b'), platform: fc.constantFrom('web', 'ios') }, { requiredKeys: [] }), { nil: undefined }),
    })
    .map(({ packets, dims, ...s }) => ({
      ...s,
      ...(packets ? { packets_expected: packets[0], packets_lost: Math.floor(packets[0] * packets[1]) } : {}),
      ...(dims ? { dims } : {}),
    }));
}

/** Values that are wrong somewhere: types, ranges, huge and tiny numbers, NaN strings, control characters… */
function weird(now: number): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constantFrom('x'.repeat(65), 'x'.repeat(129), 'y'.repeat(10_000), 'é'.repeat(64), '😀'.repeat(64), '😀'.repeat(65), ''),
    fc.constantFrom('a\u0000b', 'a\nb', 'ends\\', '\\', '\u007f', 'tab\there', 'q"uote', 'a,b=c d', '#x', 'x\u2028y', '\ud800', '\udfff', 'lone\ud83d', 'NaN', 'Infinity', '-Infinity', '1e3', '0x10', ' ', 'null', 'true', '__proto__'),
    fc.integer(),
    fc.double(),
    fc.bigInt().map((b) => RAW(b.toString())),
    fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, -1, -0, 0.5, 1e12 + 1, 2 ** 63, 5e-324, 600_001, 86_400_001, 3_600_001),
    fc.constantFrom(RAW('1e400'), RAW('-1e400'), RAW('123456789012345678901234567890'), RAW('1.00000000000000000000000001'), RAW('-0.0'), RAW('1E+2'), RAW('0.1e-400')),
    // timestamps: future, too old, seconds, malformed and edge RFC 3339
    fc.constantFrom(
      now + 6 * 60_000, now + 4 * 60_000, now - 25 * 3_600_000, 0, -1, 1.5, Math.floor(now / 1000),
      '2026-13-45T99:99:99Z', '2026-12-02T10:00:00', new Date(now - 60_000).toISOString().replace('Z', '+14:00'),
      new Date(now - 60_000).toISOString().replace('Z', '123456789Z'), '0000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', 'yesterday',
    ),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.integer(), { maxLength: 5 }),
    fc.object({ maxDepth: 2 }),
    fc.jsonValue({ maxDepth: 3 }),
  );
}

const FIELDS = [
  'ts', 'region', 'session', 'node', 'stream', 'interval_ms', 'latency_ms', 'rtt_ms', 'packets_lost', 'packets_expected', 'packet_loss', 'stall_ms', 'play_ms',
  'stall_count', 'startup_ms', 'error', 'concurrency', 'dims', 'dims.isp', 'dims.cdn', 'dims.platform', 'dims.country', 'dims.sdk', 'dims.asn',
  'unknown_field', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'Ts', 'REGION', 'latency', '',
];

type Mutation = { op: 'set'; at: number; field: string; value: unknown } | { op: 'delete'; at: number; field: string } | { op: 'replace'; at: number; value: unknown };

function mutation(now: number): fc.Arbitrary<Mutation> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ op: fc.constant('set' as const), at: fc.nat(), field: fc.constantFrom(...FIELDS), value: weird(now) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat(), field: fc.constantFrom('ts', 'region', 'latency_ms', 'play_ms', 'packets_lost', 'packets_expected') }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('replace' as const), at: fc.nat(), value: weird(now) }) },
  );
}

function applyMutations(samples: Obj[], ms: readonly Mutation[]): unknown[] {
  const out: unknown[] = samples.map((s) => ({ ...s, ...(s.dims ? { dims: { ...(s.dims as Obj) } } : {}) }));
  for (const m of ms) {
    const i = m.at % out.length;
    if (m.op === 'replace') {
      out[i] = m.value;
      continue;
    }
    const s = out[i];
    if (typeof s !== 'object' || s === null || Array.isArray(s)) continue;
    const [a, b] = m.field.split('.') as [string, string | undefined];
    let target = s as Obj;
    if (b !== undefined) {
      if (typeof target[a] !== 'object' || target[a] === null || Array.isArray(target[a])) target[a] = {};
      target = target[a] as Obj;
    }
    const key = b ?? a;
    // defineProperty: "__proto__" becomes an own key, as JSON.parse makes it on the server
    if (m.op === 'set') Object.defineProperty(target, key, { value: m.value, enumerable: true, configurable: true, writable: true });
    else delete target[key];
  }
  return out;
}

const tsList = (samples: readonly unknown[]) => samples.map((s) => (typeof s === 'object' && s !== null && !Array.isArray(s) ? tsOf((s as Obj).ts) : undefined));

const JSON_HEADERS = { 'content-type': 'application/json', authorization: `Bearer ${INGEST_KEY}` };
const jsonCase = (kind: string, body: string | Buffer, expect: readonly number[], extra: Partial<HttpCase> = {}): HttpCase => ({
  kind, body: Buffer.isBuffer(body) ? body : Buffer.from(body), headers: { ...JSON_HEADERS }, expect, ...extra,
});

/** A batch of valid samples with 0–3 mutations (sample-level problems: 202 with the bad ones rejected). */
function samplesCase(now: number, kind: string, maxMutations: number): fc.Arbitrary<HttpCase> {
  return fc.tuple(fc.array(validSample(now), { minLength: 1, maxLength: 20 }), fc.array(mutation(now), { maxLength: maxMutations }), fc.option(fc.string({ maxLength: 140 }), { nil: undefined })).map(([samples, ms, sdk]) => {
    const batch = applyMutations(samples, ms);
    const sdkOk = sdk === undefined || [...sdk].length <= 128;
    return jsonCase(kind, json({ ...(sdk === undefined ? {} : { sdk }), samples: batch }), sdkOk ? [202] : [400], sdkOk ? { samples: batch.length, ts: tsList(batch) } : {});
  });
}

/** Envelope problems: 400. */
function envelopeCase(now: number): fc.Arbitrary<HttpCase> {
  const one = validSample(now);
  return fc.oneof(
    fc.constantFrom('[]', 'null', '1', '"samples"', '{}', 'true', '{"samples":null}', '{"samples":{}}', '{"samples":[]}', '{"samples":"[]"}', '{"Samples":[]}').map((b) => jsonCase('envelope', b, [400])),
    one.map((s) => jsonCase('envelope', json({ samples: [s], extra: 1 }), [400])),
    one.map((s) => jsonCase('envelope', json({ samples: [s], sdk: 'x'.repeat(129) }), [400])),
    one.map((s) => jsonCase('envelope', json({ samples: [s], sdk: 42 }), [400])),
    fc.constant(jsonCase('envelope', json({ samples: Array.from({ length: 5001 }, () => ({ ts: 1 })) }), [400])),
    fc.tuple(one, weird(now)).map(([s, w]) => jsonCase('envelope', json({ samples: s, sdk: w }), [400])),
  );
}

const nest = (depth: number, open: string, close: string, inner: string) => open.repeat(depth) + inner + close.repeat(depth);

/** Deeply nested JSON (up to 10 k levels): at the top, inside a sample, unclosed. */
function nestingCase(now: number): fc.Arbitrary<HttpCase> {
  return fc.tuple(fc.integer({ min: 10, max: 10_000 }), fc.constantFrom('top-array', 'top-object', 'in-sample', 'in-dims', 'unclosed', 'samples-of-arrays'), validSample(now)).map(([d, where, s]) => {
    switch (where) {
      case 'top-array': return jsonCase('nesting', nest(d, '[', ']', '1'), [400]);
      case 'top-object': return jsonCase('nesting', nest(d, '{"a":', '}', '1'), [400]);
      case 'in-sample': {
        const body = `{"samples":[${json(s)},${JSON.stringify({ ...s, region: '@@N@@' }).replace('"@@N@@"', nest(d, '[', ']', '"x"'))}]}`;
        return jsonCase('nesting', body, [202], { samples: 2, ts: [tsOf(s.ts), tsOf(s.ts)] });
      }
      case 'in-dims': {
        const body = JSON.stringify({ samples: [{ ...s, dims: '@@N@@' }] }).replace('"@@N@@"', nest(d, '{"isp":', '}', '"x"'));
        return jsonCase('nesting', body, [202], { samples: 1, ts: [tsOf(s.ts)] });
      }
      case 'samples-of-arrays': return jsonCase('nesting', `{"samples":${nest(d, '[', ']', '')}}`, [202, 400]);
      default: return jsonCase('nesting', '{"samples":[' + '['.repeat(d), [400]);
    }
  });
}

/** Invalid UTF-8 byte sequences. */
const BAD_UTF8 = [[0xff], [0xfe, 0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0xc3], [0xf8, 0x88, 0x80, 0x80, 0x80]];

function badUtf8Case(now: number): fc.Arbitrary<HttpCase> {
  return fc.tuple(validSample(now), fc.constantFrom(...BAD_UTF8), fc.boolean(), fc.nat()).map(([s, bad, inString, pos]) => {
    if (inString) {
      const text = JSON.stringify({ samples: [{ ...s, region: 'eu@@BAD@@west' }] });
      const [a, b] = text.split('@@BAD@@') as [string, string];
      return jsonCase('bad-utf8', Buffer.concat([Buffer.from(a), Buffer.from(bad), Buffer.from(b)]), [400], { samples: 1, ts: [tsOf(s.ts)] });
    }
    const buf = Buffer.from(JSON.stringify({ samples: [s] }));
    const at = pos % buf.length;
    return jsonCase('bad-utf8', Buffer.concat([buf.subarray(0, at), Buffer.from(bad), buf.subarray(at)]), [400], { samples: 1, ts: [tsOf(s.ts)] });
  });
}

function truncatedCase(now: number): fc.Arbitrary<HttpCase> {
  return fc.tuple(fc.array(validSample(now), { minLength: 1, maxLength: 5 }), fc.nat()).map(([ss, cut]) => {
    const b = JSON.stringify({ samples: ss });
    return jsonCase('truncated', b.slice(0, cut % (b.length - 1)), [400]);
  });
}

const CONTENT_TYPES: readonly [string | undefined, readonly number[]][] = [
  ['application/json', [202]], ['text/plain', [202]], ['application/json; charset=utf-8', [202]], ['text/plain;charset=UTF-8', [202]],
  ['Application/JSON', [202, 415]], ['application/json; charset=latin1', [202, 400, 415]], ['application/json, text/plain', [202, 400, 415]],
  ['application/xml', [415]], ['multipart/form-data; boundary=x', [415]], ['application/x-www-form-urlencoded', [415]], ['text/html', [415]],
  ['application/octet-stream', [415]], ['application/jsonx', [415]], ['json', [415]], ['', [400, 415]], [undefined, [400, 415]],
];

function contentTypeCase(now: number): fc.Arbitrary<HttpCase> {
  return fc.tuple(validSample(now), fc.constantFrom(...CONTENT_TYPES)).map(([s, [ct, expect]]) => {
    const c = jsonCase('content-type', json({ samples: [s] }), expect, { samples: 1, ts: [tsOf(s.ts)] });
    if (ct === undefined) delete c.headers['content-type'];
    else c.headers['content-type'] = ct;
    return c;
  });
}

function encodingCase(now: number): fc.Arbitrary<HttpCase> {
  return fc.tuple(validSample(now), fc.constantFrom('gzip', 'deflate', 'x-gzip', 'identity', 'GZIP', 'br', 'compress', 'gzip, deflate', 'zstd', 'trunc-gzip', 'plain-as-gzip', 'deflate-as-gzip', 'gzip-garbage', 'gzip-trailing'), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 500 })).map(([s, enc, cut, bytes]) => {
    const body = json({ samples: [s] });
    const meta = { samples: 1, ts: [tsOf(s.ts)] };
    const c = (b: Buffer, header: string, expect: readonly number[], m: Partial<HttpCase> = {}) => {
      const k = jsonCase(`encoding ${enc}`, b, expect, m);
      k.headers['content-encoding'] = header;
      return k;
    };
    switch (enc) {
      case 'gzip': case 'x-gzip': return c(gzipSync(body), enc, [202], meta);
      case 'GZIP': return c(gzipSync(body), enc, [202, 415], meta);
      case 'deflate': return c(deflateSync(body), enc, [202], meta);
      case 'identity': return c(Buffer.from(body), enc, [202], meta);
      case 'trunc-gzip': {
        const g = gzipSync(body);
        return c(g.subarray(0, 1 + (cut % (g.length - 1))), 'gzip', [400]);
      }
      case 'plain-as-gzip': return c(Buffer.from(body), 'gzip', [400]);
      case 'deflate-as-gzip': return c(deflateSync(body), 'gzip', [400]);
      case 'gzip-garbage': return c(gzipSync(Buffer.from(bytes)), 'gzip', [400]);
      case 'gzip-trailing': return c(Buffer.concat([gzipSync(body), Buffer.from(bytes)]), 'gzip', [202, 400], meta);
      default: return c(Buffer.from(body), enc, [415]);
    }
  });
}

function authCase(now: number): fc.Arbitrary<HttpCase> {
  const variants: readonly [string, Record<string, string | undefined>, string | undefined, readonly number[]][] = [
    ['no header', { authorization: undefined }, undefined, [401]],
    ['wrong key', { authorization: 'Bearer not-the-key-0123456789' }, undefined, [401]],
    ['basic', { authorization: 'Basic Zm9vOmJhcg==' }, undefined, [401]],
    ['bearer alone', { authorization: 'Bearer' }, undefined, [401]],
    ['lowercase scheme', { authorization: `bearer ${INGEST_KEY}` }, undefined, [202, 401]],
    ['query key', { authorization: undefined }, `key=${INGEST_KEY}`, [202]],
    ['query wrong key', { authorization: undefined }, 'key=nope', [401]],
    ['query empty key', { authorization: undefined }, 'key=', [400, 401]],
    ['header and wrong query', {}, 'key=nope', [202, 401]],
    ['repeated query key', { authorization: undefined }, `key=${INGEST_KEY}&key=nope`, [202, 400, 401]],
    ['trailing spaces', { authorization: `Bearer ${INGEST_KEY}   ` }, undefined, [202, 401]],
  ];
  return fc.tuple(validSample(now), fc.constantFrom(...variants)).map(([s, [name, h, query, expect]]) => {
    const c = jsonCase(`auth ${name}`, json({ samples: [s] }), expect, { samples: 1, ts: [tsOf(s.ts)] });
    for (const [k, v] of Object.entries(h)) {
      if (v === undefined) delete c.headers[k];
      else c.headers[k] = v;
    }
    if (query !== undefined) c.query = query;
    return c;
  });
}

/** Prototype-ish keys at every level. */
function protoCase(now: number): fc.Arbitrary<HttpCase> {
  return fc.tuple(validSample(now), fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', '__defineGetter__'), fc.constantFrom('top', 'sample', 'dims')).map(([s, key, where]) => {
    const evil = `"${key}":{"polluted":true,"isAdmin":true}`;
    const sample = JSON.stringify(s);
    const withKey = (o: string) => `{${evil},${o.slice(1)}`;
    if (where === 'top') return jsonCase('proto', withKey(`{"samples":[${sample}]}`), [202, 400], { samples: 1, ts: [tsOf(s.ts)] });
    if (where === 'sample') return jsonCase('proto', `{"samples":[${withKey(sample)}]}`, [202], { samples: 1, ts: [tsOf(s.ts)] });
    return jsonCase('proto', `{"samples":[${JSON.stringify({ ...s, dims: '@@D@@' }).replace('"@@D@@"', withKey('{"isp":"a"}'))}]}`, [202], { samples: 1, ts: [tsOf(s.ts)] });
  });
}

/** The HTTP case mix. `now` is the time the chunk is generated (valid samples are in the past of it). */
export function httpCase(now: number): fc.Arbitrary<HttpCase> {
  return fc.oneof(
    { weight: 36, arbitrary: samplesCase(now, 'samples', 3) },
    { weight: 5, arbitrary: samplesCase(now, 'valid', 0) },
    { weight: 8, arbitrary: envelopeCase(now) },
    { weight: 5, arbitrary: nestingCase(now) },
    { weight: 8, arbitrary: fc.uint8Array({ maxLength: 2000 }).map((b) => jsonCase('random-bytes', Buffer.from(b), [400])) },
    { weight: 8, arbitrary: badUtf8Case(now) },
    { weight: 6, arbitrary: truncatedCase(now) },
    { weight: 6, arbitrary: contentTypeCase(now) },
    { weight: 7, arbitrary: encodingCase(now) },
    { weight: 5, arbitrary: authCase(now) },
    { weight: 3, arbitrary: protoCase(now) },
  );
}

/** Large cases, sent a fixed number of times (not drawn: each is megabytes): oversize bodies and gzip bombs. */
export function largeCases(now: number, maxBody: number): HttpCase[] {
  const s = { ts: now - 5000, region: 'eu-west', session: 'bomb', latency_ms: 100 };
  const over = Buffer.from(JSON.stringify({ samples: Array.from({ length: 5000 }, () => ({ ...s, session: 'x'.repeat(128), stream: 'y'.repeat(128), dims: { isp: 'i'.repeat(64), cdn: 'c'.repeat(64) } })) }));
  const padded = Buffer.from(`{"samples":[${JSON.stringify(s)}]${' '.repeat(Math.floor(maxBody * 0.9))}}`);
  const zeros = Buffer.alloc(64 * 1024 ** 2);
  const zerosSmall = Buffer.alloc(Math.floor(maxBody * 0.9));
  const enc = (c: HttpCase, e: string) => ((c.headers['content-encoding'] = e), c);
  const cases: HttpCase[] = [];
  for (let i = 0; i < 5; i++) {
    cases.push(jsonCase('oversize', over.length > maxBody ? over : Buffer.concat([over, Buffer.alloc(maxBody)]), [413], { mayClose: true }));
    cases.push(enc(jsonCase('gzip bomb over the limit (64 MiB of zeros)', gzipSync(zeros), [413], { mayClose: true }), 'gzip'));
    cases.push(enc(jsonCase('gzip bomb within the limit (zeros)', gzipSync(zerosSmall), [400]), 'gzip'));
    cases.push(enc(jsonCase('gzip bomb within the limit (valid JSON, 4.5 MiB of spaces)', gzipSync(padded), [202], { samples: 1, ts: [s.ts] }), 'gzip'));
    cases.push(enc(jsonCase('deflate bomb over the limit', deflateSync(zeros), [413], { mayClose: true }), 'deflate'));
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------------------------
// WebSocket frames

export function wsCase(now: number, seq: number): fc.Arbitrary<WsCase> {
  const frame = (kind: string, body: string, expect: readonly WsOutcome[], binary = false, extra: Partial<WsCase> = {}): WsCase => ({ kind, data: binary ? Buffer.from(body) : body, binary, expect, ...extra });
  const samples = fc.tuple(fc.array(validSample(now), { minLength: 1, maxLength: 20 }), fc.array(mutation(now), { maxLength: 3 })).map(([ss, ms]) => applyMutations(ss, ms));
  return fc.oneof(
    { weight: 40, arbitrary: samples.map((b) => frame('frame', json({ seq, samples: b }), ['ack'], false, { seq, samples: b.length, ts: tsList(b) })) },
    { weight: 5, arbitrary: samples.map((b) => frame('binary frame', json({ seq, samples: b }), ['ack'], true, { seq, samples: b.length, ts: tsList(b) })) },
    {
      weight: 10,
      arbitrary: fc.tuple(samples, weird(now), fc.constantFrom('seq', 'no-seq', 'samples', 'extra', 'empty', 'too-many')).map(([b, w, what]) => {
        if (what === 'samples') {
          // a weird `samples`: an array of 1–5000 things is a frame (each thing a rejected or accepted sample)
          const list = Array.isArray(w) && w.length >= 1 && w.length <= 5000;
          return frame('frame envelope', json({ seq, samples: w }), list ? ['ack'] : ['bad_request'], false, list ? { seq, samples: (w as unknown[]).length, ts: tsList(w as unknown[]) } : {});
        }
        const body =
          what === 'seq' ? json({ seq: w, samples: b })
          : what === 'no-seq' ? json({ samples: b })
          : what === 'extra' ? json({ seq, samples: b, extra: w })
          : what === 'empty' ? json({ seq, samples: [] })
          : json({ seq, samples: Array.from({ length: 5001 }, () => b[0]) });
        // a weird seq may happen to be a valid one (a number): then the frame is acked; 5001 samples are also over
        // the 1 MiB frame limit
        return frame('frame envelope', body, what === 'seq' ? ['ack', 'bad_request'] : what === 'too-many' ? ['bad_request', 'close1009'] : ['bad_request'], false, what === 'seq' ? { samples: b.length, ts: tsList(b) } : {});
      }),
    },
    { weight: 10, arbitrary: fc.string({ maxLength: 200 }).map((t) => frame('bad JSON', `{"seq":${seq},"samples":[${t}`, ['bad_request'])) },
    { weight: 10, arbitrary: fc.uint8Array({ maxLength: 2000 }).map((b) => ({ kind: 'binary garbage', data: Buffer.from(b), binary: true, expect: ['bad_request', 'ack'] as const })) },
    {
      weight: 5,
      arbitrary: fc.constantFrom(...BAD_UTF8).map((bad) => {
        const t = `{"seq":${seq},"samples":[{"ts":${now - 5000},"region":"eu@@BAD@@","latency_ms":1}]}`;
        const [a, b] = t.split('@@BAD@@') as [string, string];
        return { kind: 'invalid UTF-8 text frame', data: Buffer.concat([Buffer.from(a), Buffer.from(bad), Buffer.from(b)]), binary: false, expect: ['close1007'] as const };
      }),
    },
    { weight: 5, arbitrary: fc.integer({ min: 10, max: 10_000 }).map((d) => frame('nesting', `{"seq":${seq},"samples":[${nest(d, '[', ']', '1')}]}`, ['ack', 'bad_request'], false, { seq, samples: 1, ts: [undefined] })) },
    { weight: 3, arbitrary: fc.constantFrom('', ' ', 'null', '[]', '{}', '"x"', '0').map((t) => frame('tiny', t, ['bad_request'])) },
  );
}

/** A frame over QOSWATCH_WS_MAX_FRAME (1 MiB): close 1009. */
export function hugeFrame(now: number, maxFrame: number): WsCase {
  const s = JSON.stringify({ ts: now - 5000, region: 'eu-west', session: 'big', latency_ms: 1, stream: 'z'.repeat(100) });
  const n = Math.ceil((maxFrame + 1024) / s.length);
  return { kind: 'oversize frame', data: `{"seq":1,"samples":[${Array.from({ length: n }, () => s).join(',')}]}`, binary: false, expect: ['close1009'] };
}

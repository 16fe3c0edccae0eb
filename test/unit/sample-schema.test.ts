import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DIMENSIONS } from '../../src/shared/labels.js';
import {
  MAX_SAMPLES_PER_BATCH,
  METRIC_FIELDS,
  batchSchema,
  envelopeSchema,
  isEnvelope,
  isValidSample,
  sampleErrors,
  sampleSchema,
  zodIssuesToErrors,
} from '../../src/telemetry/sample-schema.js';
import { wsFrameSchema } from '../../src/telemetry/schemas.js';

/** A fixed instant; nothing here depends on the clock. */
const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

type Obj = Record<string, unknown>;

/** The smallest double above x (x finite). */
function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  view.setBigUint64(0, x > 0 ? bits + 1n : bits - 1n);
  return view.getFloat64(0);
}
const nextDown = (x: number): number => -nextUp(-x);

/** A sample that is valid before `extra` is merged; `ctx` supplies what a field's cross-field rules need. */
const sample = (extra: Obj = {}, ctx: Obj = { latency_ms: 100 }): Obj => ({ ts: NOW, region: 'eu-west', ...ctx, ...extra });

/** Builds an object with an own property even for keys such as `__proto__`. */
function withOwn(o: Obj, key: string, value: unknown): Obj {
  const copy: Obj = { ...o };
  Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}

interface Accept {
  name: string;
  sample: unknown;
}
interface Reject {
  name: string;
  sample: unknown;
  /** The path of the error the case is about. */
  path: string;
  /** What its message must say. */
  message: RegExp;
  /** Other paths that may legitimately be reported alongside (e.g. a cross-field rule the bad value also trips). */
  also?: string[];
}

function expectAccepted(x: unknown): void {
  const parsed = sampleSchema.safeParse(x);
  expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
  expect(isValidSample(x)).toBe(true);
  expect(sampleErrors(x)).toEqual([]);
}

function expectRejected(c: Reject): void {
  expect(sampleSchema.safeParse(c.sample).success).toBe(false);
  expect(isValidSample(c.sample)).toBe(false);
  const errors = sampleErrors(c.sample);
  expect(errors.length).toBeGreaterThan(0);
  expect(errors).toContainEqual({ path: c.path, message: expect.stringMatching(c.message) });
  const allowed = [c.path, ...(c.also ?? [])];
  for (const e of errors) expect(allowed, `unexpected error ${JSON.stringify(e)}`).toContain(e.path);
}

// ---------------------------------------------------------------------------------------------------------------
// Numeric fields: bounds, integer-ness, wrong types.
// ---------------------------------------------------------------------------------------------------------------

interface NumField {
  field: string;
  min: number;
  max: number;
  int: boolean;
  /** Other fields the field needs to form a valid sample on its own. */
  ctx: Obj;
  /** Paths a cross-field rule may add when this field holds an out-of-range number. */
  also?: string[];
}

const NUM_FIELDS: NumField[] = [
  { field: 'interval_ms', min: 100, max: 3_600_000, int: true, ctx: { latency_ms: 1 } },
  { field: 'latency_ms', min: 0, max: 600_000, int: false, ctx: {} },
  { field: 'rtt_ms', min: 0, max: 60_000, int: false, ctx: {} },
  { field: 'packets_lost', min: 0, max: 1e12, int: true, ctx: { packets_expected: 1e12 } },
  // lost = 0 > expected = -1 also trips "must not exceed" when the range issue lets the refinement run
  { field: 'packets_expected', min: 0, max: 1e12, int: true, ctx: { packets_lost: 0 }, also: ['packets_lost'] },
  { field: 'packet_loss', min: 0, max: 1, int: false, ctx: {} },
  { field: 'stall_ms', min: 0, max: 86_400_000, int: false, ctx: { play_ms: 10_000 } },
  { field: 'play_ms', min: 0, max: 86_400_000, int: false, ctx: {} },
  { field: 'stall_count', min: 0, max: 1e6, int: true, ctx: { play_ms: 10_000 } },
  { field: 'startup_ms', min: 0, max: 600_000, int: false, ctx: {} },
  { field: 'concurrency', min: 0, max: 1e9, int: true, ctx: { node: 'edge-1' } },
];

const WRONG_TYPES: [label: string, value: unknown, received: string][] = [
  ['a numeric string', '5', 'string'],
  ['an empty string', '', 'string'],
  ['null', null, 'null'],
  ['an array', [5], 'array'],
  ['an object', { value: 5 }, 'object'],
  ['a boolean', true, 'boolean'],
];

const numAccept: Accept[] = [];
const numReject: Reject[] = [];
for (const f of NUM_FIELDS) {
  const s = (v: unknown) => sample({ [f.field]: v }, f.ctx);
  const inside = f.int ? [f.min + 1, f.max - 1] : [nextUp(f.min), nextDown(f.max), (f.min + f.max) / 3];
  for (const v of [f.min, f.max, ...inside]) numAccept.push({ name: `${f.field} = ${v}`, sample: s(v) });
  const below = f.int ? [f.min - 1] : [f.min - 0.001, nextDown(f.min)];
  const above = f.int ? [f.max + 1] : [f.max + 0.001, nextUp(f.max)];
  for (const v of below) numReject.push({ name: `${f.field} = ${v} (below min)`, sample: s(v), path: f.field, message: new RegExp(`^Too small: .*>=${f.min}$`), also: f.also });
  for (const v of above) numReject.push({ name: `${f.field} = ${v} (above max)`, sample: s(v), path: f.field, message: new RegExp(`^Too big: .*<=${f.max}$`) });
  if (f.int) {
    numReject.push({ name: `${f.field} = ${f.min + 0.5} (fraction)`, sample: s(f.min + 0.5), path: f.field, message: /expected int/ });
    numReject.push({ name: `${f.field} = ${f.max - 0.25} (fraction near max)`, sample: s(f.max - 0.25), path: f.field, message: /expected int/ });
  }
  for (const [label, v, received] of WRONG_TYPES) {
    numReject.push({ name: `${f.field} as ${label}`, sample: s(v), path: f.field, message: new RegExp(`expected number, received ${received}`) });
  }
  for (const v of [NaN, Infinity, -Infinity]) {
    numReject.push({ name: `${f.field} = ${v}`, sample: s(v), path: f.field, message: /expected number/ });
  }
}

describe('numeric fields', () => {
  it.each(numAccept)('accepts $name', ({ sample: x }) => expectAccepted(x));
  it.each(numReject)('rejects $name', (c) => expectRejected(c));
});

// ---------------------------------------------------------------------------------------------------------------
// Tag-like string fields: region, session, node, stream.
// ---------------------------------------------------------------------------------------------------------------

const STRING_FIELDS: { field: string; max: number }[] = [
  { field: 'region', max: 64 },
  { field: 'session', max: 128 },
  { field: 'node', max: 128 },
  { field: 'stream', max: 128 },
];

const BAD_CHARS: [label: string, value: string][] = [
  ['NUL', 'a\x00b'],
  ['SOH', '\x01'],
  ['tab', 'eu\twest'],
  ['newline', 'eu\nwest'],
  ['carriage return', 'eu\r'],
  ['escape', '\x1b[31m'],
  ['unit separator', 'a\x1f'],
  ['DEL', 'a\x7f'],
  ['backslash', 'eu\\west'],
  ['trailing backslash', 'eu-west\\'],
  ['lone backslash', '\\'],
];

/** Strings that are not well-formed UTF-16: a lone surrogate becomes U+FFFD in UTF-8, so two of them collide. */
const LONE_SURROGATES: [label: string, value: string][] = [
  ['a lone high surrogate', 'eu\ud800'],
  ['a lone low surrogate', '\udc00eu'],
  ['a high surrogate before a non-surrogate', 'e\ud83du'],
  ['a reversed surrogate pair', '\ude00\ud83d'],
];
const NOT_WELL_FORMED = /^must be well-formed Unicode \(a lone surrogate such as \\ud800 is not\)$/;

const strAccept: Accept[] = [];
const strReject: Reject[] = [];
for (const { field, max } of STRING_FIELDS) {
  const s = (v: unknown) => sample({ [field]: v });
  strAccept.push(
    { name: `${field} of 1 character`, sample: s('x') },
    { name: `${field} of ${max} characters`, sample: s('x'.repeat(max)) },
    { name: `${field} of ${max - 1} characters`, sample: s('x'.repeat(max - 1)) },
    { name: `${field} with non-ASCII text`, sample: s('münchen-東京-1') },
    // lengths are code points, as zod counts them: an emoji is one character though two UTF-16 units
    { name: `${field} of ${max} astral characters (${2 * max} UTF-16 units)`, sample: s('😀'.repeat(max)) },
    { name: `${field} of ${max - 1} ASCII and 1 astral character`, sample: s(`${'x'.repeat(max - 1)}😀`) },
    { name: `${field} with a surrogate pair`, sample: s('a\ud83d\ude00b') },
  );
  strReject.push(
    { name: `${field} of ${max + 1} characters`, sample: s('x'.repeat(max + 1)), path: field, message: new RegExp(`^Too big: expected string to have <=${max} characters$`) },
    { name: `${field} of ${max + 1} astral characters`, sample: s('😀'.repeat(max + 1)), path: field, message: new RegExp(`<=${max} characters`) },
    { name: `${field} of ${max} ASCII and 1 astral character`, sample: s(`${'x'.repeat(max)}😀`), path: field, message: new RegExp(`<=${max} characters`) },
    { name: `${field} of ${max + 1} lone surrogates`, sample: s('\udc00'.repeat(max + 1)), path: field, message: new RegExp(`<=${max} characters`) },
    { name: `${field} of ${max} lone surrogates`, sample: s('\ud83d'.repeat(max)), path: field, message: NOT_WELL_FORMED },
    { name: `empty ${field}`, sample: s(''), path: field, message: /expected string to have >=1 characters/ },
  );
  for (const [label, v] of BAD_CHARS) {
    strReject.push({ name: `${field} with ${label}`, sample: s(v), path: field, message: /^must not contain control characters or backslashes$/ });
  }
  for (const [label, v] of LONE_SURROGATES) strReject.push({ name: `${field} with ${label}`, sample: s(v), path: field, message: NOT_WELL_FORMED });
  for (const [label, v, received] of [['a number', 5, 'number'], ['null', null, 'null'], ['an array', ['eu'], 'array'], ['an object', { id: 'eu' }, 'object'], ['a boolean', false, 'boolean']] as const) {
    strReject.push({ name: `${field} as ${label}`, sample: s(v), path: field, message: new RegExp(`expected string, received ${received}`) });
  }
}
strReject.push({ name: 'a sample without region', sample: { ts: NOW, latency_ms: 1 }, path: 'region', message: /expected string, received undefined/ });

describe('string fields', () => {
  it.each(strAccept)('accepts $name', ({ sample: x }) => expectAccepted(x));
  it.each(strReject)('rejects $name', (c) => expectRejected(c));
});

// ---------------------------------------------------------------------------------------------------------------
// dims
// ---------------------------------------------------------------------------------------------------------------

const dimsAccept: Accept[] = [
  { name: 'empty dims', sample: sample({ dims: {} }) },
  { name: 'all dims', sample: sample({ dims: { isp: 'comcast', cdn: 'akamai', platform: 'web', country: 'DE', sdk: 'hls.js 1.5' } }) },
  { name: 'dims with an undefined known key', sample: sample({ dims: { isp: undefined, cdn: 'x' } }) },
];
const dimsReject: Reject[] = [];
for (const d of DIMENSIONS) {
  const s = (v: unknown) => sample({ dims: { [d]: v } });
  const path = `dims.${d}`;
  dimsAccept.push(
    { name: `dims.${d} of 1 character`, sample: s('x') },
    { name: `dims.${d} of 64 characters`, sample: s('y'.repeat(64)) },
    { name: `dims.${d} of 64 astral characters`, sample: s('😀'.repeat(64)) },
  );
  dimsReject.push(
    { name: `dims.${d} of 65 characters`, sample: s('y'.repeat(65)), path, message: /^Too big: expected string to have <=64 characters$/ },
    { name: `dims.${d} of 65 astral characters`, sample: s('😀'.repeat(65)), path, message: /<=64 characters/ },
    { name: `empty dims.${d}`, sample: s(''), path, message: /expected string to have >=1 characters/ },
    { name: `dims.${d} as a number`, sample: s(42), path, message: /expected string, received number/ },
    { name: `dims.${d} as null`, sample: s(null), path, message: /expected string, received null/ },
    { name: `dims.${d} as an array`, sample: s(['x']), path, message: /expected string, received array/ },
    { name: `dims.${d} as an object`, sample: s({}), path, message: /expected string, received object/ },
    { name: `dims.${d} as a boolean`, sample: s(true), path, message: /expected string, received boolean/ },
  );
  for (const [label, v] of BAD_CHARS) {
    dimsReject.push({ name: `dims.${d} with ${label}`, sample: s(v), path, message: /^must not contain control characters or backslashes$/ });
  }
  for (const [label, v] of LONE_SURROGATES) dimsReject.push({ name: `dims.${d} with ${label}`, sample: s(v), path, message: NOT_WELL_FORMED });
}
dimsReject.push(
  { name: 'an unknown dims key', sample: sample({ dims: { asn: '7922' } }), path: 'dims.asn', message: /^unknown field$/ },
  { name: 'a dims key in the wrong case', sample: sample({ dims: { ISP: 'x' } }), path: 'dims.ISP', message: /^unknown field$/ },
  { name: 'the tenant as a dim', sample: sample({ dims: { isp: 'x', tenant: 'acme' } }), path: 'dims.tenant', message: /^unknown field$/ },
  { name: 'region as a dim', sample: sample({ dims: { region: 'eu' } }), path: 'dims.region', message: /^unknown field$/ },
  { name: 'an unknown dims key holding undefined', sample: sample({ dims: { asn: undefined } }), path: 'dims.asn', message: /^unknown field$/ },
  { name: 'dims as an array', sample: sample({ dims: ['isp'] }), path: 'dims', message: /expected object, received array/ },
  { name: 'dims as null', sample: sample({ dims: null }), path: 'dims', message: /expected object, received null/ },
  { name: 'dims as a string', sample: sample({ dims: 'isp=x' }), path: 'dims', message: /expected object, received string/ },
  { name: 'dims as a number', sample: sample({ dims: 1 }), path: 'dims', message: /expected object, received number/ },
  { name: 'dims as a boolean', sample: sample({ dims: true }), path: 'dims', message: /expected object, received boolean/ },
);

describe('dims', () => {
  it.each(dimsAccept)('accepts $name', ({ sample: x }) => expectAccepted(x));
  it.each(dimsReject)('rejects $name', (c) => expectRejected(c));
});

// ---------------------------------------------------------------------------------------------------------------
// error
// ---------------------------------------------------------------------------------------------------------------

const ERROR_CODE_MSG = /^must be an error code: a string of 1-64 characters or an integer$/;
const errAccept: Accept[] = [
  { name: 'a string error code', sample: sample({ error: 'MEDIA_ERR_NETWORK' }, {}) },
  { name: 'a 64-character error code', sample: sample({ error: 'E'.repeat(64) }, {}) },
  { name: 'a 1-character error code', sample: sample({ error: 'E' }, {}) },
  { name: 'a 64-emoji error code', sample: sample({ error: '😀'.repeat(64) }, {}) },
  { name: 'an integer error code', sample: sample({ error: 404 }, {}) },
  { name: 'error code 0', sample: sample({ error: 0 }, {}) },
  { name: 'a negative integer error code', sample: sample({ error: -2147467259 }, {}) },
  { name: 'the largest safe integer error code', sample: sample({ error: MAX_SAFE }, {}) },
  { name: 'the smallest safe integer error code', sample: sample({ error: -MAX_SAFE }, {}) },
];
const errReject: Reject[] = [
  { name: 'a 65-character error code', sample: sample({ error: 'E'.repeat(65) }, {}), path: 'error', message: /<=64 characters/ },
  { name: 'a 65-emoji error code', sample: sample({ error: '😀'.repeat(65) }, {}), path: 'error', message: /<=64 characters/ },
  { name: 'an empty error code', sample: sample({ error: '' }, {}), path: 'error', message: />=1 characters/ },
  { name: 'a fractional error code', sample: sample({ error: 1.5 }, {}), path: 'error', message: ERROR_CODE_MSG },
  { name: 'an error code beyond the safe integers', sample: sample({ error: 2 ** 53 }, {}), path: 'error', message: /Too big: expected int to be <=9007199254740991/ },
  { name: 'an error code below the safe integers', sample: sample({ error: -(2 ** 53) }, {}), path: 'error', message: /Too small: expected int to be >=-9007199254740991/ },
  { name: 'error = NaN', sample: sample({ error: NaN }, {}), path: 'error', message: ERROR_CODE_MSG },
  { name: 'error = Infinity', sample: sample({ error: Infinity }, {}), path: 'error', message: ERROR_CODE_MSG },
  { name: 'error as null', sample: sample({ error: null }, {}), path: 'error', message: ERROR_CODE_MSG },
  { name: 'error as a boolean', sample: sample({ error: true }, {}), path: 'error', message: ERROR_CODE_MSG },
  { name: 'error as an array', sample: sample({ error: ['E'] }, {}), path: 'error', message: ERROR_CODE_MSG },
  { name: 'error as an object', sample: sample({ error: { code: 1 } }, {}), path: 'error', message: ERROR_CODE_MSG },
];
for (const [label, v] of BAD_CHARS) {
  errReject.push({ name: `an error code with ${label}`, sample: sample({ error: v }, {}), path: 'error', message: /^must not contain control characters or backslashes$/ });
}
for (const [label, v] of LONE_SURROGATES) errReject.push({ name: `an error code with ${label}`, sample: sample({ error: v }, {}), path: 'error', message: NOT_WELL_FORMED });

describe('error', () => {
  it.each(errAccept)('accepts $name', ({ sample: x }) => expectAccepted(x));
  it.each(errReject)('rejects $name', (c) => expectRejected(c));
});

// ---------------------------------------------------------------------------------------------------------------
// ts
// ---------------------------------------------------------------------------------------------------------------

const TS_MSG = /^must be epoch milliseconds \(a non-negative integer\) or an RFC 3339 timestamp with offset$/;
const ISO_MSG = /Invalid ISO datetime/;
const tsAccept: Accept[] = [
  { name: 'ts as epoch ms', sample: sample({ ts: NOW }) },
  { name: 'ts = 0', sample: sample({ ts: 0 }) },
  { name: 'ts = -0', sample: sample({ ts: -0 }) },
  { name: 'ts = largest safe integer', sample: sample({ ts: MAX_SAFE }) },
  { name: 'ts as RFC 3339 with Z', sample: sample({ ts: '2025-01-15T12:00:00Z' }) },
  { name: 'ts as RFC 3339 with milliseconds', sample: sample({ ts: '2025-01-15T12:00:00.123Z' }) },
  { name: 'ts as RFC 3339 with nanoseconds', sample: sample({ ts: '2025-01-15T12:00:00.123456789Z' }) },
  { name: 'ts as RFC 3339 with a positive offset', sample: sample({ ts: '2025-01-15T17:30:00+05:30' }) },
  { name: 'ts as RFC 3339 with a negative offset', sample: sample({ ts: '2025-01-15T04:00:00-08:00' }) },
  { name: 'ts as RFC 3339 with offset -00:00', sample: sample({ ts: '2025-01-15T12:00:00-00:00' }) },
  { name: 'ts on a leap day', sample: sample({ ts: '2024-02-29T00:00:00Z' }) },
];
const tsReject: Reject[] = [
  { name: 'a negative ts', sample: sample({ ts: -1 }), path: 'ts', message: /^Too small: expected number to be >=0$/ },
  { name: 'a fractional ts', sample: sample({ ts: NOW + 0.5 }), path: 'ts', message: TS_MSG },
  { name: 'ts beyond the safe integers', sample: sample({ ts: 2 ** 53 }), path: 'ts', message: /Too big: expected int to be <=9007199254740991/ },
  { name: 'ts = NaN', sample: sample({ ts: NaN }), path: 'ts', message: TS_MSG },
  { name: 'ts = Infinity', sample: sample({ ts: Infinity }), path: 'ts', message: TS_MSG },
  { name: 'ts as null', sample: sample({ ts: null }), path: 'ts', message: TS_MSG },
  { name: 'ts as a boolean', sample: sample({ ts: true }), path: 'ts', message: TS_MSG },
  { name: 'ts as an array', sample: sample({ ts: [NOW] }), path: 'ts', message: TS_MSG },
  { name: 'ts as an object', sample: sample({ ts: { ms: NOW } }), path: 'ts', message: TS_MSG },
  { name: 'a sample without ts', sample: { region: 'eu', latency_ms: 1 }, path: 'ts', message: TS_MSG },
  { name: 'ts without offset', sample: sample({ ts: '2025-01-15T12:00:00' }), path: 'ts', message: ISO_MSG },
  { name: 'ts as a date only', sample: sample({ ts: '2025-01-15' }), path: 'ts', message: ISO_MSG },
  { name: 'ts without seconds', sample: sample({ ts: '2025-01-15T12:00Z' }), path: 'ts', message: ISO_MSG },
  { name: 'ts with a space for T', sample: sample({ ts: '2025-01-15 12:00:00Z' }), path: 'ts', message: ISO_MSG },
  { name: 'ts with lower-case z', sample: sample({ ts: '2025-01-15T12:00:00z' }), path: 'ts', message: ISO_MSG },
  { name: 'ts with an offset without colon', sample: sample({ ts: '2025-01-15T12:00:00+0100' }), path: 'ts', message: ISO_MSG },
  { name: 'ts with an hour-only offset', sample: sample({ ts: '2025-01-15T12:00:00+01' }), path: 'ts', message: ISO_MSG },
  { name: 'ts on 30 February', sample: sample({ ts: '2025-02-30T00:00:00Z' }), path: 'ts', message: ISO_MSG },
  { name: 'ts on 29 February of a common year', sample: sample({ ts: '2023-02-29T00:00:00Z' }), path: 'ts', message: ISO_MSG },
  { name: 'ts at 24:00', sample: sample({ ts: '2025-01-15T24:00:00Z' }), path: 'ts', message: ISO_MSG },
  { name: 'ts as epoch ms in a string', sample: sample({ ts: String(NOW) }), path: 'ts', message: ISO_MSG },
  { name: 'ts as an empty string', sample: sample({ ts: '' }), path: 'ts', message: ISO_MSG },
  { name: 'ts as an HTTP date', sample: sample({ ts: 'Wed, 15 Jan 2025 12:00:00 GMT' }), path: 'ts', message: ISO_MSG },
];

describe('ts', () => {
  it.each(tsAccept)('accepts $name', ({ sample: x }) => expectAccepted(x));
  it.each(tsReject)('rejects $name', (c) => expectRejected(c));
});

// ---------------------------------------------------------------------------------------------------------------
// Unknown fields and non-objects
// ---------------------------------------------------------------------------------------------------------------

const unknownReject: Reject[] = [
  { name: 'an unknown top-level field', sample: sample({ bitrate_kbps: 3000 }), path: 'bitrate_kbps', message: /^unknown field$/ },
  { name: 'a field in the wrong case', sample: sample({ Latency_ms: 5 }), path: 'Latency_ms', message: /^unknown field$/ },
  { name: 'a tenant field (the tenant comes from the key)', sample: sample({ tenant: 'acme' }), path: 'tenant', message: /^unknown field$/ },
  { name: 'a dimension at the top level', sample: sample({ isp: 'x' }), path: 'isp', message: /^unknown field$/ },
  { name: 'an unknown field holding undefined', sample: sample({ extra: undefined }), path: 'extra', message: /^unknown field$/ },
  { name: 'an own __proto__ field (as JSON.parse makes it)', sample: JSON.parse('{"ts":1,"region":"eu","latency_ms":1,"__proto__":{"x":1}}'), path: '__proto__', message: /^unknown field$/ },
  { name: 'a constructor field', sample: withOwn(sample(), 'constructor', 'x'), path: 'constructor', message: /^unknown field$/ },
  { name: 'a toString field', sample: withOwn(sample(), 'toString', 1), path: 'toString', message: /^unknown field$/ },
  { name: 'an empty key', sample: withOwn(sample(), '', 1), path: '', message: /^unknown field$/ },
  { name: 'null', sample: null, path: '', message: /expected object, received null/ },
  { name: 'an array', sample: [sample()], path: '', message: /expected object, received array/ },
  { name: 'a string', sample: JSON.stringify(sample()), path: '', message: /expected object, received string/ },
  { name: 'a number', sample: 5, path: '', message: /expected object, received number/ },
  { name: 'undefined', sample: undefined, path: '', message: /expected object, received undefined/ },
];

describe('unknown fields and non-objects', () => {
  it.each(unknownReject)('rejects $name', (c) => expectRejected(c));

  it('names every unknown field separately, with the metric rule still checked', () => {
    const x = { ts: NOW, region: 'eu', a: 1, b: 2 };
    expect(isValidSample(x)).toBe(false);
    const errors = sampleErrors(x);
    expect(errors).toContainEqual({ path: 'a', message: 'unknown field' });
    expect(errors).toContainEqual({ path: 'b', message: 'unknown field' });
    expect(errors).toContainEqual({ path: '', message: expect.stringMatching(/^at least one metric field is required/) });
    expect(errors).toHaveLength(3);
  });

  it('reports an unknown dims key and a bad dims value together', () => {
    const x = sample({ dims: { isp: 'a\\', asn: '1' } });
    expect(isValidSample(x)).toBe(false);
    const errors = sampleErrors(x);
    expect(errors).toContainEqual({ path: 'dims.isp', message: 'must not contain control characters or backslashes' });
    expect(errors).toContainEqual({ path: 'dims.asn', message: 'unknown field' });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Cross-field rules
// ---------------------------------------------------------------------------------------------------------------

const base = { ts: NOW, region: 'eu-west' };
const crossAccept: Accept[] = [
  { name: 'a viewer sample with every viewer metric', sample: { ...base, session: 's-1', stream: 'live/1', interval_ms: 10_000, latency_ms: 1200, rtt_ms: 40, packets_lost: 3, packets_expected: 1000, stall_ms: 600, play_ms: 9400, stall_count: 1, startup_ms: 800, error: 'E', dims: { isp: 'x' } } },
  { name: 'a node sample with concurrency', sample: { ...base, node: 'edge-7', concurrency: 12_345 } },
  { name: 'a node sample with concurrency 0', sample: { ...base, node: 'edge-7', concurrency: 0 } },
  { name: 'session without node', sample: { ...base, session: 's', latency_ms: 1 } },
  { name: 'node without session', sample: { ...base, node: 'n', rtt_ms: 1 } },
  { name: 'neither session nor node', sample: { ...base, rtt_ms: 1 } },
  { name: 'session set and node undefined', sample: { ...base, session: 's', node: undefined, rtt_ms: 1 } },
  { name: 'packets_lost equal to packets_expected', sample: { ...base, packets_lost: 50, packets_expected: 50 } },
  { name: 'zero packets lost of zero expected', sample: { ...base, packets_lost: 0, packets_expected: 0 } },
  { name: 'packet_loss alone', sample: { ...base, packet_loss: 0.02 } },
  { name: 'play_ms alone', sample: { ...base, play_ms: 10_000 } },
  { name: 'stall_ms with play_ms', sample: { ...base, stall_ms: 500, play_ms: 0 } },
  { name: 'stall_count with play_ms', sample: { ...base, stall_count: 2, play_ms: 10_000 } },
  { name: 'a metric of 0', sample: { ...base, latency_ms: 0 } },
  { name: 'error alone as the metric', sample: { ...base, session: 's', error: 'E_DECODE' } },
  ...(['latency_ms', 'rtt_ms', 'packet_loss', 'play_ms', 'startup_ms'] as const).map((m) => ({ name: `${m} as the only metric`, sample: { ...base, [m]: 0 } })),
];
const NO_METRIC = /^at least one metric field is required \(latency_ms, rtt_ms, packets_lost, packets_expected, packet_loss, stall_ms, play_ms, stall_count, startup_ms, concurrency, error\)$/;
const crossReject: Reject[] = [
  { name: 'session and node together', sample: { ...base, session: 's', node: 'n', latency_ms: 1 }, path: 'node', message: /^give either session or node, not both$/ },
  { name: 'no metric field', sample: { ...base }, path: '', message: NO_METRIC },
  { name: 'no metric field but interval, stream, session and dims', sample: { ...base, interval_ms: 10_000, stream: 'x', session: 's', dims: { isp: 'x' } }, path: '', message: NO_METRIC },
  { name: 'metrics present only as undefined', sample: { ...base, latency_ms: undefined, error: undefined }, path: '', message: NO_METRIC },
  { name: 'packets_lost without packets_expected', sample: { ...base, packets_lost: 1 }, path: 'packets_expected', message: /^is required with packets_lost$/ },
  { name: 'packets_expected without packets_lost', sample: { ...base, packets_expected: 100 }, path: 'packets_lost', message: /^is required with packets_expected$/ },
  { name: 'packets_lost greater than packets_expected', sample: { ...base, packets_lost: 101, packets_expected: 100 }, path: 'packets_lost', message: /^must not exceed packets_expected$/ },
  { name: 'packet_loss together with both packet counts', sample: { ...base, packet_loss: 0.1, packets_lost: 1, packets_expected: 10 }, path: 'packet_loss', message: /^give either packet_loss or packets_lost\/packets_expected, not both$/ },
  { name: 'packet_loss together with packets_lost', sample: { ...base, packet_loss: 0.1, packets_lost: 1 }, path: 'packet_loss', message: /not both/, also: ['packets_expected'] },
  { name: 'packet_loss together with packets_expected', sample: { ...base, packet_loss: 0.1, packets_expected: 10 }, path: 'packet_loss', message: /not both/, also: ['packets_lost'] },
  { name: 'stall_ms without play_ms', sample: { ...base, stall_ms: 500 }, path: 'play_ms', message: /^is required with stall_ms and stall_count$/ },
  { name: 'stall_count without play_ms', sample: { ...base, stall_count: 1 }, path: 'play_ms', message: /^is required with stall_ms and stall_count$/ },
  { name: 'stall_ms and stall_count without play_ms', sample: { ...base, stall_ms: 500, stall_count: 1 }, path: 'play_ms', message: /is required/ },
  { name: 'concurrency without node', sample: { ...base, concurrency: 10 }, path: 'concurrency', message: /^is reported by node reporters: add node$/ },
  { name: 'concurrency from a session', sample: { ...base, session: 's', concurrency: 10 }, path: 'concurrency', message: /add node/ },
];

describe('cross-field rules', () => {
  it.each(crossAccept)('accepts $name', ({ sample: x }) => expectAccepted(x));
  it.each(crossReject)('rejects $name', (c) => expectRejected(c));

  it('reports every broken rule of one sample', () => {
    const x = { ...base, session: 's', node: 'n', packets_lost: 5, packets_expected: 4, packet_loss: 0.5, stall_ms: 1, concurrency: 1 };
    expect(isValidSample(x)).toBe(false);
    expect(sampleErrors(x).map((e) => e.path).sort()).toEqual(['node', 'packet_loss', 'packets_lost', 'play_ms'].sort());
  });

  it('counts exactly the §2 metric fields as metrics', () => {
    expect([...METRIC_FIELDS].sort()).toEqual(
      ['latency_ms', 'rtt_ms', 'packets_lost', 'packets_expected', 'packet_loss', 'stall_ms', 'play_ms', 'stall_count', 'startup_ms', 'concurrency', 'error'].sort(),
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Envelope, batch and issue mapping
// ---------------------------------------------------------------------------------------------------------------

function envelopeErrors(x: unknown) {
  const r = envelopeSchema.safeParse(x);
  return r.success ? [] : zodIssuesToErrors(r.error.issues);
}

describe('envelopeSchema', () => {
  it('accepts 1 and 5000 samples without looking into them', () => {
    expect(MAX_SAMPLES_PER_BATCH).toBe(5000);
    expect(envelopeSchema.safeParse({ samples: [42] }).success).toBe(true);
    expect(envelopeSchema.safeParse({ sdk: 'qos-web 1.2.3', samples: new Array(5000).fill({}) }).success).toBe(true);
  });

  it.each<{ name: string; body: unknown; path: string; message: RegExp }>([
    { name: 'empty samples', body: { samples: [] }, path: 'samples', message: /^must hold at least one sample$/ },
    { name: '5001 samples', body: { samples: new Array(5001).fill({}) }, path: 'samples', message: /^must hold at most 5000 samples$/ },
    { name: 'samples as an object', body: { samples: { 0: {} } }, path: 'samples', message: /expected array, received object/ },
    { name: 'samples as a string', body: { samples: '[]' }, path: 'samples', message: /expected array, received string/ },
    { name: 'samples as null', body: { samples: null }, path: 'samples', message: /expected array, received null/ },
    { name: 'missing samples', body: { sdk: 'x' }, path: 'samples', message: /expected array, received undefined/ },
    { name: 'an unknown top-level key', body: { samples: [{}], apiKey: 'k' }, path: 'apiKey', message: /^unknown field$/ },
    { name: 'an sdk of 129 characters', body: { samples: [{}], sdk: 's'.repeat(129) }, path: 'sdk', message: /<=128 characters/ },
    { name: 'a numeric sdk', body: { samples: [{}], sdk: 1 }, path: 'sdk', message: /expected string, received number/ },
    { name: 'an sdk with a lone surrogate', body: { samples: [{}], sdk: 'web\ud800' }, path: 'sdk', message: NOT_WELL_FORMED },
    { name: 'an array body', body: [{}], path: '', message: /expected object, received array/ },
  ])('rejects $name', ({ body, path, message }) => {
    expect(envelopeSchema.safeParse(body).success).toBe(false);
    const errors = envelopeErrors(body);
    expect(errors).toContainEqual({ path, message: expect.stringMatching(message) });
    for (const e of errors) expect(e.path).toBe(path);
  });
});

describe('batchSchema', () => {
  it('accepts a batch of valid samples and rejects a bad one with an indexed path', () => {
    expect(batchSchema.safeParse({ samples: [sample(), sample({ ts: '2025-01-15T12:00:00Z' })] }).success).toBe(true);
    const r = batchSchema.safeParse({ samples: [sample(), sample({ latency_ms: -1 }), sample({ dims: { x: '1' } })] });
    expect(r.success).toBe(false);
    const errors = zodIssuesToErrors(r.error?.issues ?? []);
    expect(errors).toContainEqual({ path: 'samples.1.latency_ms', message: expect.stringMatching(/>=0/) });
    expect(errors).toContainEqual({ path: 'samples.2.dims.x', message: 'unknown field' });
  });
});

describe('zodIssuesToErrors', () => {
  it('turns unrecognized keys into one "unknown field" error per key, prefixed with the path', () => {
    expect(
      zodIssuesToErrors([
        { code: 'unrecognized_keys', keys: ['a', 'b'], path: [], message: 'x', input: {} },
        { code: 'unrecognized_keys', keys: ['c'], path: ['samples', 3, 'dims'], message: 'x', input: {} },
        { code: 'custom', path: ['samples', 0, 'ts'], message: 'bad ts', input: 1 },
        { code: 'custom', path: [], message: 'whole', input: 1 },
      ]),
    ).toEqual([
      { path: 'a', message: 'unknown field' },
      { path: 'b', message: 'unknown field' },
      { path: 'samples.3.dims.c', message: 'unknown field' },
      { path: 'samples.0.ts', message: 'bad ts' },
      { path: '', message: 'whole' },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Property: the fast check agrees with the zod schema.
// ---------------------------------------------------------------------------------------------------------------

const KNOWN_KEYS = ['ts', 'interval_ms', 'region', 'session', 'node', 'stream', 'dims', 'error', ...NUM_FIELDS.map((f) => f.field)];
const ODD_KEYS = ['extra', 'Latency_ms', 'tenant', 'isp', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '', 'dims.isp', ' region'];
const DIM_KEYS = [...DIMENSIONS, 'asn', 'ISP', 'region', '__proto__', 'constructor', ''];

const boundaryNumber = fc.constantFrom(
  0, -0, 1, -1, 0.5, 0.999, 1.001, -Number.MIN_VALUE, Number.MIN_VALUE, 99, 100, 100.5, 9999.5, 10_000,
  60_000, 60_000.001, 600_000, 600_001, 3_600_000, 3_600_001, 86_400_000, 86_400_000.5, 1e6, 1e6 + 1, 1e9, 1e9 + 1,
  1e12, 1e12 + 1, NOW, NOW + 0.5, 1_736_942_400, MAX_SAFE, MAX_SAFE + 1, 2 ** 53 + 2, -MAX_SAFE, -(2 ** 53), 1e300,
  -1e300, NaN, Infinity, -Infinity,
);
const isoComponents = fc.record({
  y: fc.integer({ min: 0, max: 9999 }),
  mo: fc.integer({ min: 0, max: 13 }),
  d: fc.integer({ min: 0, max: 32 }),
  h: fc.integer({ min: 0, max: 24 }),
  mi: fc.integer({ min: 0, max: 60 }),
  s: fc.integer({ min: 0, max: 60 }),
  frac: fc.option(fc.stringMatching(/^\d{1,12}$/), { nil: undefined }),
  off: fc.oneof(fc.constantFrom('Z', 'z', '', '+00:00', '-00:00', '+0100', '+01', '+24:00', '-23:59'), fc.stringMatching(/^[+-]\d\d:\d\d$/)),
  sep: fc.constantFrom('T', 'T', 'T', ' ', 't'),
});
const pad = (n: number, w = 2) => String(n).padStart(w, '0');
const isoLike = isoComponents.map(({ y, mo, d, h, mi, s, frac, off, sep }) => `${pad(y, 4)}-${pad(mo)}-${pad(d)}${sep}${pad(h)}:${pad(mi)}:${pad(s)}${frac === undefined ? '' : `.${frac}`}${off}`);
const oddString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.string({ unit: fc.constantFrom('a', 'é', '\\', '\n', '\t', '\x00', '\x1f', '\x7f', '\u0085', '\u2028', ' ', '😀'), maxLength: 5 }),
  fc.constantFrom('', 'a', 'edge-1', 'E_NET', '\\', 'x\\', '😀'.repeat(32), '😀'.repeat(33), '😀'.repeat(64), '😀'.repeat(65)),
  fc.string({ unit: fc.constantFrom('a', '\ud800', '\udc00', '\udbff', '\udfff', '😀', '\ufffd'), minLength: 1, maxLength: 5 }),
  fc.constantFrom(63, 64, 65, 127, 128, 129).map((n) => 'x'.repeat(n)),
  isoLike,
  fc.constantFrom('5', '1e3', 'NaN', String(NOW)),
);
const plausible = fc.oneof(
  fc.integer({ min: 0, max: 2000 }),
  fc.double({ min: 0, max: 1, noNaN: true }),
  fc.constantFrom('a', 'edge-1', 's-42', 'E_NET', '2025-01-15T12:00:00Z'),
  fc.record({ isp: fc.constantFrom('x', 'y') }, { requiredKeys: [] }),
);
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  boundaryNumber,
  fc.double(),
  fc.integer(),
  oddString,
  fc.constantFrom(null, undefined, true, false),
  fc.array(fc.oneof(fc.integer(), fc.string()), { maxLength: 2 }),
  fc.dictionary(fc.constantFrom(...DIM_KEYS), fc.oneof(oddString, fc.integer(), fc.constant(undefined)), { maxKeys: 3 }),
  fc.anything({ maxDepth: 1 }),
  plausible,
  plausible,
);

const TEMPLATES: Obj[] = [
  { ts: NOW, region: 'eu-west', session: 's-1', stream: 'live/1', interval_ms: 10_000, latency_ms: 1200, rtt_ms: 40, packets_lost: 3, packets_expected: 1000, stall_ms: 600, play_ms: 9400, stall_count: 1, startup_ms: 800, dims: { isp: 'comcast', cdn: 'akamai', platform: 'web', country: 'US', sdk: 'web 1.0' } },
  { ts: '2025-01-15T12:00:00.250+01:00', region: 'ap-south', node: 'edge-7', concurrency: 5000, rtt_ms: 3 },
  { ts: 0, region: 'r', error: 'E_NET' },
  { ts: NOW, region: 'us', session: 's', packet_loss: 0.01, dims: {} },
  { ts: MAX_SAFE, region: 'x', error: -3, stall_count: 0, play_ms: 0 },
];

type Mutation =
  | { op: 'drop'; key: string }
  | { op: 'set'; key: string; value: unknown }
  | { op: 'dim'; key: string; value: unknown }
  | { op: 'dropDim'; key: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('drop' as const), key: fc.constantFrom(...KNOWN_KEYS) }),
  fc.record({ op: fc.constant('set' as const), key: fc.constantFrom(...KNOWN_KEYS), value: anyValue }),
  fc.record({ op: fc.constant('set' as const), key: fc.constantFrom(...KNOWN_KEYS), value: plausible }),
  fc.record({ op: fc.constant('set' as const), key: fc.constantFrom(...ODD_KEYS), value: anyValue }),
  fc.record({ op: fc.constant('dim' as const), key: fc.constantFrom(...DIM_KEYS), value: fc.oneof(oddString, anyValue) }),
  fc.record({ op: fc.constant('dropDim' as const), key: fc.constantFrom(...DIMENSIONS) }),
);

function mutate(template: Obj, mutations: readonly Mutation[]): Obj {
  const o = structuredClone(template);
  for (const m of mutations) {
    if (m.op === 'drop') delete o[m.key];
    else if (m.op === 'set') Object.defineProperty(o, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
    else {
      const d = o.dims;
      if (typeof d !== 'object' || d === null || Array.isArray(d)) o.dims = {};
      const dims = o.dims as Obj;
      if (m.op === 'dropDim') delete dims[m.key];
      else Object.defineProperty(dims, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
    }
  }
  return o;
}

const nearValidSample = fc.tuple(fc.constantFrom(...TEMPLATES), fc.array(mutation, { maxLength: 4 })).map(([t, ms]) => mutate(t, ms));

describe('property: isValidSample agrees with sampleSchema', () => {
  it('on near-valid samples (mutated fields, odd values, extra keys, dims variations)', () => {
    let valid = 0;
    let invalid = 0;
    fc.assert(
      fc.property(nearValidSample, (x) => {
        const zod = sampleSchema.safeParse(x).success;
        const fast = isValidSample(x);
        expect(fast).toBe(zod);
        const errors = sampleErrors(x);
        if (fast) expect(errors).toEqual([]);
        else expect(errors.length).toBeGreaterThan(0);
        if (zod) valid++;
        else invalid++;
      }),
      { numRuns: 20_000 },
    );
    // both verdicts must be well represented, or the property says little
    expect(valid).toBeGreaterThan(2000);
    expect(invalid).toBeGreaterThan(2000);
  });

  it('on arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.object()), (x) => {
        expect(isValidSample(x)).toBe(sampleSchema.safeParse(x).success);
      }),
      { numRuns: 3000 },
    );
  });

  const tagText = (max: number) => fc.string({ unit: 'grapheme', minLength: 1, maxLength: max }).filter((s) => s.length <= max && /^[^\x00-\x1f\x7f\\]+$/.test(s));
  const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
  const validIso = fc
    .record({ t: fc.date({ min: new Date('0000-01-02T00:00:00Z'), max: new Date('9999-12-30T00:00:00Z'), noInvalidDate: true }), off: fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }) })
    .map(({ t, off }) => {
      const local = new Date(t.getTime() + off * 60_000).toISOString().replace(/Z$/, '');
      if (off === 0) return `${local}Z`;
      const a = Math.abs(off);
      return `${local}${off < 0 ? '-' : '+'}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
    });
  const validSample = fc
    .record({
      ts: fc.oneof(fc.maxSafeNat(), validIso),
      region: tagText(64),
      reporter: fc.constantFrom('session', 'node', 'none'),
      id: tagText(128),
      stream: opt(tagText(128)),
      interval_ms: opt(fc.integer({ min: 100, max: 3_600_000 })),
      latency_ms: opt(fc.double({ min: 0, max: 600_000, noNaN: true })),
      rtt_ms: opt(fc.double({ min: 0, max: 60_000, noNaN: true })),
      loss: fc.oneof(
        fc.constant(undefined),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.tuple(fc.integer({ min: 0, max: 1e12 }), fc.integer({ min: 0, max: 1e12 })).map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as const),
      ),
      play_ms: opt(fc.double({ min: 0, max: 86_400_000, noNaN: true })),
      stall_ms: opt(fc.double({ min: 0, max: 86_400_000, noNaN: true })),
      stall_count: opt(fc.integer({ min: 0, max: 1e6 })),
      startup_ms: opt(fc.double({ min: 0, max: 600_000, noNaN: true })),
      concurrency: opt(fc.integer({ min: 0, max: 1e9 })),
      error: fc.oneof(fc.constant(undefined), fc.maxSafeInteger(), tagText(64)),
      dims: opt(fc.record(Object.fromEntries(DIMENSIONS.map((d) => [d, tagText(64)])), { requiredKeys: [] })),
    })
    .map((g) => {
      const s: Obj = { ts: g.ts, region: g.region };
      if (g.reporter !== 'none') s[g.reporter] = g.id;
      for (const k of ['stream', 'interval_ms', 'latency_ms', 'rtt_ms', 'startup_ms', 'error', 'dims'] as const) if (g[k] !== undefined) s[k] = g[k];
      if (typeof g.loss === 'number') s.packet_loss = g.loss;
      else if (g.loss) [s.packets_lost, s.packets_expected] = g.loss;
      if (g.play_ms !== undefined) {
        s.play_ms = g.play_ms;
        if (g.stall_ms !== undefined) s.stall_ms = g.stall_ms;
        if (g.stall_count !== undefined) s.stall_count = g.stall_count;
      }
      if (g.reporter === 'node' && g.concurrency !== undefined) s.concurrency = g.concurrency;
      if (!METRIC_FIELDS.some((m) => s[m] !== undefined)) s.startup_ms = 0;
      return s;
    });

  it('accepts every generated valid sample in both validators', () => {
    fc.assert(
      fc.property(validSample, (x) => {
        expect(sampleErrors(x)).toEqual([]);
        expect(isValidSample(x)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('property: isEnvelope agrees with envelopeSchema', () => {
  const sample = { ts: NOW, region: 'eu', startup_ms: 1 };
  const samples = fc.oneof(
    fc.integer({ min: 0, max: 3 }).map((n) => Array.from({ length: n }, () => sample)),
    fc.constantFrom(MAX_SAMPLES_PER_BATCH, MAX_SAMPLES_PER_BATCH + 1).map((n) => Array.from({ length: n }, () => sample)),
    fc.jsonValue(),
  );
  const sdk = fc.oneof(fc.string({ maxLength: 130 }), fc.constantFrom('web/1.0', 'a\\b', 'x'.repeat(128), 'x'.repeat(129), '\ud800', 'bad\u0001'), fc.jsonValue());
  const envelope = fc
    .record({ samples, sdk, extra: fc.jsonValue() }, { requiredKeys: [] })
    .chain((e) => fc.constantFrom(e, { samples: e.samples }, { samples: e.samples, sdk: e.sdk }, { sdk: e.sdk }, { ...e, __proto__: null }));

  it('on envelopes with and without sdk, samples and unknown keys', () => {
    let accepted = 0;
    fc.assert(
      fc.property(envelope, (x) => {
        const zod = envelopeSchema.safeParse(x).success;
        expect(isEnvelope(x)).toBe(zod);
        if (zod) accepted++;
      }),
      { numRuns: 3000 },
    );
    expect(accepted).toBeGreaterThan(300);
  });

  it('on arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (x) => {
        expect(isEnvelope(x)).toBe(envelopeSchema.safeParse(x).success);
      }),
      { numRuns: 2000 },
    );
  });

  it('as a WebSocket frame (with seq), on frames with and without seq', () => {
    const seq = fc.oneof({ arbitrary: fc.nat(), weight: 3 }, { arbitrary: fc.constantFrom(-1, 0.5, -0, Number.MAX_SAFE_INTEGER + 1, '1', null), weight: 1 }, { arbitrary: fc.double(), weight: 1 });
    let accepted = 0;
    fc.assert(
      fc.property(envelope, seq, fc.boolean(), (e, n, withSeq) => {
        const x = withSeq && typeof e === 'object' && e !== null ? { ...e, seq: n } : e;
        const zod = wsFrameSchema.safeParse(x).success;
        expect(isEnvelope(x, true)).toBe(zod);
        if (zod) accepted++;
      }),
      { numRuns: 3000 },
    );
    expect(accepted).toBeGreaterThan(60);
  });
});

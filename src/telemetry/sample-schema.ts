import { z } from 'zod';
import { DIMENSIONS, type Dimension } from '../shared/labels.js';

/**
 * The sample contract of PRODUCT.md §6, written once as a field table. The table builds the zod schema (used for
 * the OpenAPI document and for precise error messages) and the fast check used on the hot path; a property test
 * keeps the two verdicts identical.
 */
type NumberSpec = { kind: 'number'; min: number; max: number; int?: boolean; metric?: boolean; doc: string };
type StringSpec = { kind: 'string'; max: number; doc: string };
type FieldSpec = NumberSpec | StringSpec;

export const MAX_SAMPLES_PER_BATCH = 5000;
export const FUTURE_TOLERANCE_MS = 5 * 60_000;

const num = (min: number, max: number, doc: string, extra: Partial<NumberSpec> = {}): NumberSpec => ({ kind: 'number', min, max, doc, ...extra });
const metric = (min: number, max: number, doc: string, int = false): NumberSpec => num(min, max, doc, { metric: true, int });

/** Tag-safe text: InfluxDB line protocol cannot carry control characters, and a trailing backslash breaks escaping. */
const TAG_TEXT = /^[^\x00-\x1f\x7f\\]+$/;
const TAG_TEXT_MESSAGE = 'must not contain control characters or backslashes';
/**
 * Text must be well-formed UTF-16: a lone surrogate (JSON allows "\ud800") is written to UTF-8 as U+FFFD, so two
 * regions that differ only by one would become one series in InfluxDB while staying two here.
 */
const WELL_FORMED_MESSAGE = 'must be well-formed Unicode (a lone surrogate such as \\ud800 is not)';
const wellFormed = (s: string) => s.isWellFormed();

/** A string field's checks, shared by every string of a sample and the envelope's `sdk`. */
const text = (min: number, max: number) => z.string().min(min).max(max).refine(wellFormed, WELL_FORMED_MESSAGE);
const tagText = (max: number) => text(1, max).regex(TAG_TEXT, TAG_TEXT_MESSAGE);

export const SCALAR_FIELDS = {
  interval_ms: num(100, 3_600_000, 'length of the measured interval (default 10000)', { int: true }),
  region: { kind: 'string', max: 64, doc: 'region the reporter is in (required)' },
  session: { kind: 'string', max: 128, doc: 'viewer session id (never stored as a tag)' },
  node: { kind: 'string', max: 128, doc: 'server node id, for edge/origin reporters' },
  stream: { kind: 'string', max: 128, doc: 'stream id (never stored as a tag)' },
  latency_ms: metric(0, 600_000, 'end-to-end latency'),
  rtt_ms: metric(0, 60_000, 'network round-trip time'),
  packets_lost: metric(0, 1e12, 'packets lost in the interval', true),
  packets_expected: metric(0, 1e12, 'packets expected in the interval', true),
  packet_loss: metric(0, 1, 'loss ratio 0..1, weight 1 (when packet counts are not available)'),
  stall_ms: metric(0, 86_400_000, 'time spent stalled in the interval'),
  play_ms: metric(0, 86_400_000, 'time spent playing in the interval'),
  stall_count: metric(0, 1e6, 'stalls started in the interval', true),
  startup_ms: metric(0, 600_000, 'play request to first frame, once per session'),
  concurrency: metric(0, 1e9, 'current viewers on a node (node reporters only)', true),
} satisfies Record<string, FieldSpec>;

export const METRIC_FIELDS = [
  ...Object.entries(SCALAR_FIELDS).filter(([, s]) => 'metric' in s && s.metric).map(([k]) => k),
  'error',
] as const as readonly string[];

/** A validated sample; `ts` is normalised to epoch milliseconds. */
export interface Sample {
  ts: number;
  interval_ms?: number;
  region: string;
  session?: string;
  node?: string;
  stream?: string;
  dims?: Partial<Record<Dimension, string>>;
  latency_ms?: number;
  rtt_ms?: number;
  packets_lost?: number;
  packets_expected?: number;
  packet_loss?: number;
  stall_ms?: number;
  play_ms?: number;
  stall_count?: number;
  startup_ms?: number;
  error?: string | number;
  concurrency?: number;
}

export interface FieldError {
  path: string;
  message: string;
}

const isoTimestamp = z.iso.datetime({ offset: true });
const tsSchema = z
  .union([z.number().int().nonnegative(), isoTimestamp], { error: 'must be epoch milliseconds (a non-negative integer) or an RFC 3339 timestamp with offset' })
  .describe('start of the interval: epoch milliseconds or RFC 3339');
const errorSchema = z
  .union([tagText(64), z.number().int()], { error: 'must be an error code: a string of 1-64 characters or an integer' })
  .describe('fatal error code');
const dimValue = tagText(64);

function zodField(spec: FieldSpec): z.ZodType {
  if (spec.kind === 'string') return tagText(spec.max).describe(spec.doc);
  let s = z.number().min(spec.min).max(spec.max);
  if (spec.int) s = s.int();
  return s.describe(spec.doc);
}

/** Rules that relate fields to each other, shared by both validators. */
function crossFieldErrors(s: Record<string, unknown>): FieldError[] | undefined {
  let errors: FieldError[] | undefined;
  const add = (path: string, message: string) => (errors ??= []).push({ path, message });
  if (s.session !== undefined && s.node !== undefined) add('node', 'give either session or node, not both');
  let hasMetric = false;
  for (const f of METRIC_FIELDS) if (s[f] !== undefined) { hasMetric = true; break; }
  if (!hasMetric) add('', `at least one metric field is required (${METRIC_FIELDS.join(', ')})`);
  const lost = s.packets_lost, expected = s.packets_expected;
  if (lost !== undefined && expected === undefined) add('packets_expected', 'is required with packets_lost');
  if (expected !== undefined && lost === undefined) add('packets_lost', 'is required with packets_expected');
  if (typeof lost === 'number' && typeof expected === 'number' && lost > expected) add('packets_lost', 'must not exceed packets_expected');
  if (s.packet_loss !== undefined && (lost !== undefined || expected !== undefined)) add('packet_loss', 'give either packet_loss or packets_lost/packets_expected, not both');
  if (s.play_ms === undefined && (s.stall_ms !== undefined || s.stall_count !== undefined)) add('play_ms', 'is required with stall_ms and stall_count');
  if (s.concurrency !== undefined && s.node === undefined) add('concurrency', 'is reported by node reporters: add node');
  return errors;
}

export const sampleSchema = z
  .strictObject({
    ts: tsSchema,
    ...Object.fromEntries(Object.entries(SCALAR_FIELDS).map(([k, spec]) => [k, k === 'region' ? zodField(spec) : zodField(spec).optional()])),
    error: errorSchema.optional(),
    dims: z.strictObject(Object.fromEntries(DIMENSIONS.map((d) => [d, dimValue.optional()]))).optional().describe('bounded dimensions; values over the cardinality cap fold into "other". isp and country, when absent, may be derived from the client address (README, ISP and country enrichment)'),
  })
  .superRefine((s, ctx) => {
    for (const e of crossFieldErrors(s) ?? []) ctx.addIssue({ code: 'custom', path: e.path ? [e.path] : [], message: e.message });
  })
  .meta({ id: 'Sample' });

/** The `sdk` of a batch or WebSocket frame: free text, but well-formed. */
export const sdkSchema = text(0, 128);

export const batchSchema = z
  .strictObject({
    sdk: sdkSchema.optional().describe('reporting SDK name and version'),
    samples: z.array(sampleSchema).min(1).max(MAX_SAMPLES_PER_BATCH),
  })
  .meta({ id: 'TelemetryBatch' });

/** What the hot path checks of the envelope; samples are then checked one by one. */
export const envelopeSchema = z.strictObject({
  sdk: sdkSchema.optional(),
  samples: z.array(z.unknown()).min(1, 'must hold at least one sample').max(MAX_SAMPLES_PER_BATCH, `must hold at most ${MAX_SAMPLES_PER_BATCH} samples`),
});

/**
 * The hot path's envelope check: true exactly when `envelopeSchema` accepts the value — with `frame`, when a
 * WebSocket frame's schema (`seq` too) does (see the property tests) — without zod's walk over every element of a
 * batch of thousands. Its errors are still zod's: call the schema on false.
 */
export function isEnvelope(data: unknown, frame = false): boolean {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return false;
  const o = data as Record<string, unknown>;
  for (const k in o) if (k !== 'samples' && k !== 'sdk' && !(frame && k === 'seq')) return false;
  if (frame && !(Number.isSafeInteger(o.seq) && (o.seq as number) >= 0)) return false;
  const samples = o.samples;
  if (!Array.isArray(samples) || samples.length < 1 || samples.length > MAX_SAMPLES_PER_BATCH) return false;
  return o.sdk === undefined || sdkSchema.safeParse(o.sdk).success;
}

const FAST: Record<string, FieldSpec> = Object.assign(Object.create(null), SCALAR_FIELDS);
const KNOWN_KEYS = new Set<string>([...Object.keys(SCALAR_FIELDS), 'ts', 'error', 'dims']);
const DIM_SET = new Set<string>(DIMENSIONS);

/**
 * What `tagText(max)` accepts, in one pass over the string (the regex, the well-formedness check and the code point
 * count each walked it): no control character or backslash, no lone surrogate, 1 to `max` code points as zod counts
 * them (a surrogate pair once).
 */
function fastText(v: unknown, max: number): boolean {
  if (typeof v !== 'string' || v.length === 0) return false;
  let points = v.length;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x5c) return false;
    if ((c & 0xf800) === 0xd800) {
      // a high surrogate followed by a low one (past the end, charCodeAt is NaN, which fails the test)
      if (c >= 0xdc00 || (v.charCodeAt(i + 1) & 0xfc00) !== 0xdc00) return false;
      i++;
      points--;
    }
  }
  return points <= max;
}

/** The hot-path check: true exactly when `sampleSchema` accepts the value (see the property test). */
export function isValidSample(s: unknown): boolean {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) return false;
  const o = s as Record<string, unknown>;
  let hasTs = false, hasRegion = false;
  for (const k in o) {
    const v = o[k];
    if (v === undefined) {
      // an optional field may hold undefined; an unknown key may not, even then (zod's strictObject reports it)
      if (!KNOWN_KEYS.has(k)) return false;
      continue;
    }
    const spec = FAST[k];
    if (spec) {
      if (spec.kind === 'number') {
        if (typeof v !== 'number' || !(v >= spec.min && v <= spec.max) || (spec.int && !Number.isSafeInteger(v))) return false;
      } else if (!fastText(v, spec.max)) return false;
      if (k === 'region') hasRegion = true;
    } else if (k === 'ts') {
      if (typeof v === 'number') {
        if (!Number.isSafeInteger(v) || v < 0) return false; // zod's .int() means a safe integer
      } else if (typeof v !== 'string' || !isoTimestamp.safeParse(v).success) return false;
      hasTs = true;
    } else if (k === 'error') {
      if (typeof v === 'number') { if (!Number.isSafeInteger(v)) return false; } else if (!fastText(v, 64)) return false;
    } else if (k === 'dims') {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
      const d = v as Record<string, unknown>;
      for (const dk in d) {
        if (!DIM_SET.has(dk)) return false;
        if (d[dk] !== undefined && !fastText(d[dk], 64)) return false;
      }
    } else return false;
  }
  return hasTs && hasRegion && crossFieldErrors(o) === undefined;
}

/** Precise errors for a sample the fast check refused, from the zod schema. */
export function sampleErrors(s: unknown): FieldError[] {
  const r = sampleSchema.safeParse(s);
  if (r.success) return [];
  return zodIssuesToErrors(r.error.issues);
}

export function zodIssuesToErrors(issues: readonly z.core.$ZodIssue[]): FieldError[] {
  const out: FieldError[] = [];
  for (const i of issues) {
    const base = i.path.map(String).join('.');
    if (i.code === 'unrecognized_keys') {
      for (const k of i.keys) out.push({ path: base ? `${base}.${k}` : k, message: 'unknown field' });
    } else {
      out.push({ path: base, message: i.message });
    }
  }
  return out;
}

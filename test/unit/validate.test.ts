import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FUTURE_TOLERANCE_MS, isValidSample } from '../../src/telemetry/sample-schema.js';
import { type RejectReason, validateSamples } from '../../src/telemetry/validate.js';

/** Server time for every test: passed as an argument, never read from the clock. */
const NOW = Date.UTC(2025, 5, 1, 12, 0, 0);
const NOW_ISO = '2025-06-01T12:00:00.000Z';
const DAY = 86_400_000;
const MIN5 = 5 * 60_000;

type Obj = Record<string, unknown>;
const s = (extra: Obj = {}): Obj => ({ ts: NOW, region: 'eu-west', session: 'sess-1', latency_ms: 850, ...extra });

afterEach(() => {
  vi.useRealTimers();
});

describe('validateSamples: partial acceptance', () => {
  it('keeps the valid samples with their indexes and rejects the others with theirs', () => {
    const batch = [
      s(), // 0 ok
      s({ latency_ms: 'fast' }), // 1 invalid field
      s({ ts: '2025-06-01T11:59:50Z', rtt_ms: 20 }), // 2 ok
      s({ bitrate: 3000 }), // 3 unknown field
      s({ ts: NOW + MIN5 + 1 }), // 4 future
      s({ ts: NOW - DAY - 1 }), // 5 too old
      { ts: NOW, region: 'us-east', node: 'edge-1', concurrency: 120 }, // 6 ok
    ];
    const v = validateSamples(batch, NOW, DAY);
    expect(v.accepted.map((a) => a.index)).toEqual([0, 2, 6]);
    expect(v.rejected.map((r) => r.index)).toEqual([1, 3, 4, 5]);
    expect(v.reasons).toEqual<RejectReason[]>(['invalid_field', 'unknown_field', 'future_ts', 'too_old']);
    expect(v.rejected[0]?.errors).toEqual([{ path: 'latency_ms', message: 'Invalid input: expected number, received string' }]);
    expect(v.rejected[1]?.errors).toEqual([{ path: 'bitrate', message: 'unknown field' }]);
    expect(v.rejected[2]?.errors).toEqual([{ path: 'ts', message: expect.stringMatching(/in the future/) }]);
    expect(v.rejected[3]?.errors).toEqual([{ path: 'ts', message: expect.stringMatching(/older than/) }]);
    expect(v.accepted.map((a) => a.sample.ts)).toEqual([NOW, NOW - 10_000, NOW]);
  });

  it('hands back accepted samples with all their fields and ts as epoch ms', () => {
    const x = { ts: '2025-06-01T13:00:00+01:00', region: 'eu', session: 'x', stream: 'live/7', interval_ms: 5000, dims: { isp: 'a', cdn: 'b' }, packets_lost: 2, packets_expected: 90, error: 3 };
    const v = validateSamples([x], NOW, DAY);
    expect(v.rejected).toEqual([]);
    expect(v.accepted).toEqual([{ index: 0, sample: { ...x, ts: NOW } }]);
  });

  it('reports every error of a rejected sample with its path', () => {
    const v = validateSamples([s({ latency_ms: -5, dims: { isp: '', asn: '1' }, node: 'n' })], NOW, DAY);
    expect(v.accepted).toEqual([]);
    expect(v.rejected).toHaveLength(1);
    const errors = v.rejected[0]?.errors ?? [];
    expect(errors.map((e) => e.path)).toEqual(expect.arrayContaining(['latency_ms', 'dims.isp', 'dims.asn']));
    expect(errors).toContainEqual({ path: 'dims.asn', message: 'unknown field' });
    expect(errors).toContainEqual({ path: 'latency_ms', message: 'Too small: expected number to be >=0' });
  });

  it('rejects samples that are not objects without losing the rest', () => {
    const v = validateSamples([null, 'x', s(), [s()], 7], NOW, DAY);
    expect(v.accepted.map((a) => a.index)).toEqual([2]);
    expect(v.rejected.map((r) => r.index)).toEqual([0, 1, 3, 4]);
    for (const r of v.rejected) expect(r.errors).toEqual([{ path: '', message: expect.stringMatching(/^Invalid input: expected object, received /) }]);
    expect(v.reasons).toEqual(['invalid_field', 'invalid_field', 'invalid_field', 'invalid_field']);
  });

  it('returns nothing for an empty batch', () => {
    expect(validateSamples([], NOW, DAY)).toEqual({ accepted: [], rejected: [], reasons: [] });
  });

  it('applies the field checks before the time checks', () => {
    const v = validateSamples([s({ ts: NOW + DAY, latency_ms: null })], NOW, DAY);
    expect(v.reasons).toEqual(['invalid_field']);
    expect(v.rejected[0]?.errors).toEqual([{ path: 'latency_ms', message: 'Invalid input: expected number, received null' }]);
  });
});

describe('validateSamples: time window', () => {
  it('tolerates exactly 5 minutes ahead of server time', () => {
    expect(FUTURE_TOLERANCE_MS).toBe(MIN5);
    const v = validateSamples([s({ ts: NOW + MIN5 }), s({ ts: '2025-06-01T12:05:00Z' }), s({ ts: '2025-06-01T14:05:00+02:00' })], NOW, DAY);
    expect(v.rejected).toEqual([]);
    expect(v.accepted.map((a) => a.sample.ts)).toEqual([NOW + MIN5, NOW + MIN5, NOW + MIN5]);
  });

  it('rejects a ts more than 5 minutes ahead, on path ts, naming the server time', () => {
    const v = validateSamples([s({ ts: NOW + MIN5 + 1 }), s({ ts: '2025-06-01T12:05:00.001Z' }), s({ ts: NOW + DAY * 365 })], NOW, DAY);
    expect(v.accepted).toEqual([]);
    expect(v.reasons).toEqual(['future_ts', 'future_ts', 'future_ts']);
    for (const r of v.rejected) expect(r.errors).toEqual([{ path: 'ts', message: `is more than 5m in the future (server time ${NOW_ISO})` }]);
  });

  it('accepts a ts exactly maxAge old and rejects one a millisecond older', () => {
    const v = validateSamples([s({ ts: NOW - DAY }), s({ ts: NOW - DAY - 1 }), s({ ts: '2025-05-31T11:59:59.999Z' })], NOW, DAY);
    expect(v.accepted.map((a) => a.index)).toEqual([0]);
    expect(v.rejected.map((r) => r.index)).toEqual([1, 2]);
    expect(v.reasons).toEqual(['too_old', 'too_old']);
    for (const r of v.rejected) expect(r.errors).toEqual([{ path: 'ts', message: 'is older than 1d' }]);
  });

  it('names the configured maximum age', () => {
    const v = validateSamples([s({ ts: NOW - 6 * 3_600_000 - 1 }), s({ ts: NOW - 90_000 - 1 })], NOW, 6 * 3_600_000);
    expect(v.rejected[0]?.errors).toEqual([{ path: 'ts', message: 'is older than 6h' }]);
    expect(validateSamples([s({ ts: NOW - 90_001 })], NOW, 90_000).rejected[0]?.errors).toEqual([{ path: 'ts', message: 'is older than 90s' }]);
  });

  it('with maxAge 0 accepts only ts up to 5 minutes ahead of now', () => {
    const v = validateSamples([s({ ts: NOW }), s({ ts: NOW - 1 }), s({ ts: NOW + 1 })], NOW, 0);
    expect(v.accepted.map((a) => a.index)).toEqual([0, 2]);
    expect(v.reasons).toEqual(['too_old']);
  });

  it('hints that a numeric ts in seconds should be milliseconds', () => {
    const seconds = Math.floor(NOW / 1000);
    const v = validateSamples([s({ ts: seconds }), s({ ts: 0 }), s({ ts: 1e11 - 1 })], NOW, DAY);
    expect(v.accepted).toEqual([]);
    expect(v.reasons).toEqual(['too_old', 'too_old', 'too_old']);
    for (const r of v.rejected) expect(r.errors).toEqual([{ path: 'ts', message: 'is older than 1d; it looks like seconds: send epoch milliseconds' }]);
  });

  it('gives no seconds hint for an old ts that is plausibly milliseconds', () => {
    const v = validateSamples([s({ ts: 1e11 }), s({ ts: NOW - 2 * DAY })], NOW, DAY);
    expect(v.reasons).toEqual(['too_old', 'too_old']);
    for (const r of v.rejected) expect(r.errors).toEqual([{ path: 'ts', message: 'is older than 1d' }]);
  });

  it('gives no seconds hint for an old RFC 3339 ts (a string cannot be seconds)', () => {
    const v = validateSamples([s({ ts: '1970-01-01T00:00:01Z' }), s({ ts: '1972-06-01T00:00:00+02:00' }), s({ ts: '0001-01-01T00:00:00Z' })], NOW, DAY);
    expect(v.reasons).toEqual(['too_old', 'too_old', 'too_old']);
    for (const r of v.rejected) expect(r.errors).toEqual([{ path: 'ts', message: 'is older than 1d' }]);
  });

  it('uses the time it is given, not the clock', () => {
    vi.useFakeTimers();
    vi.setSystemTime(0);
    expect(validateSamples([s({ ts: NOW })], NOW, DAY).accepted).toHaveLength(1);
    vi.setSystemTime(NOW + 10 * 365 * DAY);
    expect(validateSamples([s({ ts: NOW })], NOW, DAY).accepted).toHaveLength(1);
    expect(validateSamples([s({ ts: NOW })], NOW - DAY, DAY).reasons).toEqual(['future_ts']);
    expect(validateSamples([s({ ts: NOW })], NOW + DAY + 1, DAY).reasons).toEqual(['too_old']);
  });
});

describe('validateSamples: RFC 3339 conversion', () => {
  it.each([
    ['2025-06-01T12:00:00Z', NOW],
    ['2025-06-01T12:00:00.000Z', NOW],
    ['2025-06-01T12:00:00-00:00', NOW],
    ['2025-06-01T14:30:00+02:30', NOW],
    ['2025-06-01T04:00:00-08:00', NOW],
    ['2025-06-02T11:59:00+23:59', NOW],
    ['2025-06-01T11:59:59.5Z', NOW - 500],
    ['2025-06-01T11:59:59.123456Z', NOW - 877],
    ['2025-06-01T12:04:59.999999999Z', NOW + MIN5 - 1],
    // more than 9 fraction digits: V8's Date.parse alone reads these wrong
    ['2025-06-01T11:59:59.0090000000Z', NOW - 991],
    ['2025-06-01T11:59:59.00000000001Z', NOW - 1000],
    ['2025-06-01T13:59:59.012345678901+02:00', NOW - 988],
    ['2025-05-31T12:00:00Z', NOW - DAY],
  ])('converts %s to epoch ms', (ts, expected) => {
    const v = validateSamples([s({ ts })], NOW, DAY);
    expect(v.rejected).toEqual([]);
    expect(v.accepted).toEqual([{ index: 0, sample: expect.objectContaining({ ts: expected }) }]);
    expect(typeof v.accepted[0]?.sample.ts).toBe('number');
  });

  it('rejects RFC 3339 without offset as an invalid ts, not a time-window problem', () => {
    const v = validateSamples([s({ ts: '2025-06-01T12:00:00' })], NOW, DAY);
    expect(v.reasons).toEqual(['invalid_field']);
    expect(v.rejected[0]?.errors).toEqual([{ path: 'ts', message: 'Invalid ISO datetime' }]);
  });

  const pad = (n: number, w = 2) => String(Math.abs(n)).padStart(w, '0');
  it('converts every RFC 3339 form the schema accepts to the instant it denotes (property)', () => {
    const iso = fc.record({
      y: fc.integer({ min: 0, max: 9999 }),
      mo: fc.integer({ min: 1, max: 12 }),
      d: fc.integer({ min: 1, max: 28 }),
      h: fc.integer({ min: 0, max: 23 }),
      mi: fc.integer({ min: 0, max: 59 }),
      sec: fc.integer({ min: 0, max: 59 }),
      frac: fc.option(fc.stringMatching(/^\d{1,12}$/), { nil: undefined }),
      off: fc.option(fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(iso, ({ y, mo, d, h, mi, sec, frac, off }) => {
        const offText = off === undefined ? 'Z' : `${off < 0 ? '-' : '+'}${pad(Math.trunc(off / 60))}:${pad(off % 60)}`;
        const ts = `${pad(y, 4)}-${pad(mo)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(sec)}${frac === undefined ? '' : `.${frac}`}${offText}`;
        const wall = new Date(0);
        wall.setUTCFullYear(y, mo - 1, d);
        wall.setUTCHours(h, mi, sec, frac === undefined ? 0 : Number(frac.slice(0, 3).padEnd(3, '0')));
        const expected = wall.getTime() - (off ?? 0) * 60_000;
        const sample = s({ ts });
        expect(isValidSample(sample)).toBe(true);
        // with now = the instant itself the sample must be accepted, and carry exactly that instant
        const v = validateSamples([sample], expected, 0);
        expect(v.rejected).toEqual([]);
        expect(v.accepted[0]?.sample.ts).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('validateSamples: reasons', () => {
  it.each<{ name: string; sample: unknown; reason: RejectReason; path: string }>([
    { name: 'an unknown top-level field', sample: s({ foo: 1 }), reason: 'unknown_field', path: 'foo' },
    { name: 'an unknown dims key', sample: s({ dims: { asn: 'x' } }), reason: 'unknown_field', path: 'dims.asn' },
    { name: 'an unknown field and no metric', sample: { ts: NOW, region: 'eu', foo: 1 }, reason: 'unknown_field', path: 'foo' },
    { name: 'no metric field', sample: { ts: NOW, region: 'eu', session: 's' }, reason: 'missing_metric', path: '' },
    { name: 'a wrong type', sample: s({ rtt_ms: '20' }), reason: 'invalid_field', path: 'rtt_ms' },
    { name: 'an out-of-range value', sample: s({ packet_loss: 1.5 }), reason: 'invalid_field', path: 'packet_loss' },
    { name: 'a broken cross-field rule', sample: s({ packets_lost: 3 }), reason: 'invalid_field', path: 'packets_expected' },
    { name: 'session and node together', sample: s({ node: 'n' }), reason: 'invalid_field', path: 'node' },
    { name: 'a missing region', sample: { ts: NOW, latency_ms: 1 }, reason: 'invalid_field', path: 'region' },
    { name: 'a ts without offset', sample: s({ ts: '2025-06-01T12:00:00' }), reason: 'invalid_field', path: 'ts' },
    { name: 'a ts in the future', sample: s({ ts: NOW + MIN5 + 1 }), reason: 'future_ts', path: 'ts' },
    { name: 'a ts too old', sample: s({ ts: NOW - DAY - 1 }), reason: 'too_old', path: 'ts' },
  ])('classifies $name as $reason', ({ sample, reason, path }) => {
    const v = validateSamples([s(), sample], NOW, DAY);
    expect(v.accepted.map((a) => a.index)).toEqual([0]);
    expect(v.rejected).toHaveLength(1);
    expect(v.rejected[0]?.index).toBe(1);
    expect(v.reasons).toEqual([reason]);
    expect(v.rejected[0]?.errors.map((e) => e.path)).toContain(path);
  });
});

describe('validateSamples: batch invariants (property)', () => {
  const sampleArb: fc.Arbitrary<unknown> = fc.oneof(
    fc.integer({ min: -2 * DAY, max: 2 * DAY }).map((dt) => s({ ts: NOW + dt })),
    fc.integer({ min: -2 * DAY, max: 2 * DAY }).map((dt) => s({ ts: new Date(NOW + dt).toISOString() })),
    fc.integer({ min: 0, max: 2e9 }).map((sec) => s({ ts: sec })),
    fc.constantFrom<unknown>(s({ latency_ms: -1 }), s({ extra: 1 }), { ts: NOW, region: 'x' }, null, 'sample', s({ ts: 1.5 }), s({ dims: { isp: '' } })),
  );

  it('partitions the batch in order, aligns reasons, and keeps only in-window valid samples', () => {
    fc.assert(
      fc.property(fc.array(sampleArb, { maxLength: 30 }), fc.integer({ min: 0, max: DAY }), (batch, maxAge) => {
        const valid = batch.map((x) => isValidSample(x));
        const v = validateSamples(structuredClone(batch), NOW, maxAge);
        const indexes = [...v.accepted.map((a) => a.index), ...v.rejected.map((r) => r.index)].sort((a, b) => a - b);
        expect(indexes).toEqual(batch.map((_, i) => i));
        expect(v.reasons).toHaveLength(v.rejected.length);
        for (let k = 1; k < v.accepted.length; k++) expect(v.accepted[k]!.index).toBeGreaterThan(v.accepted[k - 1]!.index);
        for (let k = 1; k < v.rejected.length; k++) expect(v.rejected[k]!.index).toBeGreaterThan(v.rejected[k - 1]!.index);
        for (const a of v.accepted) {
          expect(valid[a.index]).toBe(true);
          expect(typeof a.sample.ts).toBe('number');
          expect(a.sample.ts).toBeGreaterThanOrEqual(NOW - maxAge);
          expect(a.sample.ts).toBeLessThanOrEqual(NOW + MIN5);
        }
        v.rejected.forEach((r, k) => {
          expect(r.errors.length).toBeGreaterThan(0);
          const reason = v.reasons[k];
          if (valid[r.index]) {
            expect(['future_ts', 'too_old']).toContain(reason);
            expect(r.errors).toEqual([{ path: 'ts', message: expect.any(String) }]);
          } else {
            expect(['invalid_field', 'unknown_field', 'missing_metric']).toContain(reason);
          }
        });
      }),
      { numRuns: 500 },
    );
  });
});

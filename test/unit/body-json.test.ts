import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { PIECE, parseBody } from '../../src/telemetry/body-json.js';

/** What JSON.parse makes of the bytes: a value, or the error it throws. */
function reference(bytes: Buffer): { value: unknown } | { error: string } {
  try {
    return { value: JSON.parse(bytes.toString('utf8')) as unknown };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

function actual(bytes: Buffer): { value: unknown } | { error: string } {
  try {
    return { value: parseBody(bytes) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

const sample = (i: number, extra = '') => `{"ts":${1_800_000_000_000 + i},"region":"eu-west","session":"s${i % 97}","latency_ms":${i % 500}${extra}}`;
/** A batch large enough to be parsed in pieces. */
const big = (n = 3000, extra = '') => Array.from({ length: n }, (_, i) => sample(i, extra)).join(',');

describe('parseBody', () => {
  it('parses a large SDK batch in pieces to exactly what JSON.parse gives', () => {
    const body = Buffer.from(`{"sdk":"web/1.4.0","samples":[${big()}]}`);
    expect(body.length).toBeGreaterThan(2 * PIECE);
    expect(actual(body)).toEqual(reference(body));
    const parse = vi.spyOn(JSON, 'parse');
    try {
      expect((parseBody(body) as { samples: unknown[] }).samples).toHaveLength(3000);
      // In pieces of at most PIECE bytes (plus the sample a cut waits for), and the envelope: no string of the whole.
      expect(parse.mock.calls.length).toBeGreaterThanOrEqual(Math.ceil(body.length / (PIECE + 200)) + 1);
      for (const [text] of parse.mock.calls) expect(text.length).toBeLessThan(PIECE + 200);
    } finally {
      parse.mockRestore();
    }
  });

  it('keeps key order, spaces, pretty printing and non-ASCII text', () => {
    const pretty = Buffer.from(JSON.stringify({ samples: JSON.parse(`[${big(1200, ',"dims":{"cdn":"Akamaï — 東京"}')}]`) as unknown, sdk: 'x' }, null, 2));
    expect(pretty.length).toBeGreaterThan(2 * PIECE);
    expect(actual(pretty)).toEqual(reference(pretty));
    const spaced = Buffer.from(`{ "samples" : [ ${big().replaceAll('},{', '} , \n {')} ] , "sdk" : "y" }\n`);
    expect(actual(spaced)).toEqual(reference(spaced));
  });

  it('gives JSON.parse\'s answer for every shape the pieces cannot prove', () => {
    const cases = [
      `{"samples":[${big()}],"samples":[]}`, // duplicate key: the last one wins
      `{"samples":[],"samples":[${big()}]}`,
      `{"meta":{"samples":[${big()}]},"samples":[1]}`, // a nested samples first
      `{"samples":[${big()}],"extra":[1,2]}`, // another array after
      `{"samples":[${big()}],"meta":{"samples":[]}}`,
      `{"note":"\\"samples\\":[","samples":[${big()}]}`, // the key's bytes inside a string
      `{"samples":[${big(3000, ',"t":"},{"')}]}`, // cut candidates inside strings
      `{"samples":[${big(3000, ',"arr":[{"a":1},{"b":2}]')}]}`, // cut candidates inside nested arrays
      `{"samples":[${big()},]}`, // trailing comma: the error JSON.parse gives
      `{"samples":[${big()}]`, // truncated
      `{"samples":[${big()}]}]`,
      `["samples",[${big()}]]`,
      `{"samples":{"a":[${big()}]}}`,
    ];
    for (const c of cases) expect(actual(Buffer.from(c)), c.slice(0, 60)).toEqual(reference(Buffer.from(c)));
  });

  it('agrees with JSON.parse on arbitrary envelopes around large arrays (property)', () => {
    const piece = fc.oneof(
      fc.constant('},{'),
      fc.constant('"samples":['),
      fc.constant(']'),
      fc.constant('"'),
      fc.constant('\\'),
      fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
    );
    const garbage = fc.array(piece, { maxLength: 6 }).map((p) => p.join(''));
    /** Valid members before or after the array (a trailing comma each). */
    const members = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }).map((o) => Object.entries(o).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)},`).join(''));
    fc.assert(
      fc.property(fc.oneof(garbage, members), fc.oneof(garbage, fc.constant('')), fc.oneof(garbage, members.map((m) => m && `,${m.slice(0, -1)}`)), fc.nat(1500), fc.nat(1500), (before, inside, after, at, n) => {
        const elements = big(1700 + n).split(',{');
        const k = 1 + (at % (elements.length - 1));
        const body = Buffer.from(`{${before}"samples":[${elements.slice(0, k).join(',{')}${inside},{${elements.slice(k).join(',{')}]${after}}`);
        expect(actual(body)).toEqual(reference(body));
      }),
      { numRuns: 150 },
    );
  });

  it('parses a piece longer than its reused buffer (one huge sample), and the next body as well', () => {
    const huge = sample(1, `,"note":"${'x'.repeat(3 * PIECE)}"`);
    const body = Buffer.from(`{"samples":[${big(400)},${huge},${big(400)}]}`);
    expect(actual(body)).toEqual(reference(body));
    const next = Buffer.from(`{"samples":[${big(1500, ',"dims":{"cdn":"東京"}')}]}`);
    expect(next.length).toBeGreaterThan(2 * PIECE);
    expect(actual(next)).toEqual(reference(next));
    expect(body.toString()).toContain(huge); // the caller's bytes are left as they were
  });

  it('parses small bodies whole', () => {
    for (const c of ['{"samples":[]}', '{}', '', 'null', '{"samples":[{"a":1}]}']) expect(actual(Buffer.from(c))).toEqual(reference(Buffer.from(c)));
  });
});

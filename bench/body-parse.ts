import { isAscii, isUtf8 } from 'node:buffer';
import { fmt } from './machine.js';
import { bodies } from './samples.js';

/**
 * The parse step of a telemetry body, per sample: bytes (as fastify hands them over) to text (kept for the
 * journal) to JSON. The collectors' decode (UTF-8 check, then the UTF-8 decoder) against copying ASCII as latin1,
 * alternating in every round; medians of ROUNDS rounds. `npx tsc -p tsconfig.bench.json && node
 * dist-bench/bench/body-parse.js`.
 *
 * What it showed (issue 16): decoding is not the cost. Up to 128 KiB (500 samples) the decode is ~0.05 µs per
 * sample either way; above it every body's string is a V8 large object, allocated in fresh pages (~65 page faults
 * for 253 KB), and costs 1.2–2.5 µs per sample whichever decoder makes it. JSON.parse needs one flat string and the
 * journal takes the text, so one such allocation per large body is the floor.
 */
const ROUNDS = 15;

const utf8Decode = (b: Buffer) => (isUtf8(b) ? b.toString('utf8') : undefined);
const asciiAsLatin1 = (b: Buffer) => (isAscii(b) ? b.toString('latin1') : utf8Decode(b));

type Step = (b: Buffer) => unknown;
const VARIANTS: [string, Step][] = [
  ['isUtf8 + toString(utf8)', utf8Decode],
  ['isAscii + toString(latin1)', asciiAsLatin1],
  ['isUtf8 + toString(utf8) + JSON.parse', (b) => JSON.parse(utf8Decode(b)!)],
  ['isAscii + toString(latin1) + JSON.parse', (b) => JSON.parse(asciiAsLatin1(b)!)],
  ['JSON.parse alone (a string given)', () => undefined],
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export function benchBodyParse(size: number): string {
  const texts = bodies(20, size, Date.now());
  const bufs = texts.map((t) => Buffer.from(t));
  const ns = new Map<string, number[]>(VARIANTS.map(([name]) => [name, []]));
  const reps = Math.max(1, Math.round(20_000 / size));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 ? [...VARIANTS].reverse() : VARIANTS;
    for (const [name, step] of order) {
      const t0 = process.hrtime.bigint();
      for (let r = 0; r < reps; r++) {
        for (let i = 0; i < bufs.length; i++) {
          if (name.startsWith('JSON.parse alone')) JSON.parse(texts[i]!);
          else step(bufs[i]!);
        }
      }
      ns.get(name)!.push(Number(process.hrtime.bigint() - t0) / (reps * bufs.length * size));
    }
  }
  const bytes = bufs.reduce((n, b) => n + b.length, 0) / bufs.length;
  return [
    `Bodies of ${size} samples (${fmt(bytes / size)} B per sample), median of ${ROUNDS} alternating rounds:`,
    '',
    '| step | per sample |',
    '| --- | --- |',
    ...VARIANTS.map(([name]) => `| ${name} | ${fmt(median(ns.get(name)!) / 1000, 3)} µs |`),
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const size of [100, 500, 1000]) console.log(`${benchBodyParse(size)}\n`);
}

import { isValidSample, sampleSchema } from '../src/telemetry/sample-schema.js';
import { fmt } from './machine.js';
import { beacon } from './samples.js';

/** Per-sample cost of the hot-path check against the full zod schema, on parsed JSON. */
export function benchValidation(): string {
  const now = Date.now();
  const text = JSON.stringify(Array.from({ length: 1000 }, () => beacon(now)));
  const run = (label: string, check: (s: unknown) => boolean) => {
    let best = Infinity;
    for (let round = 0; round < 7; round++) {
      const batches = Array.from({ length: 50 }, () => JSON.parse(text) as unknown[]);
      const t0 = process.hrtime.bigint();
      let ok = 0;
      for (const b of batches) for (const s of b) if (check(s)) ok++;
      const ns = Number(process.hrtime.bigint() - t0) / ok;
      best = Math.min(best, ns);
    }
    return `| ${label} | ${fmt(best / 1000, 2)} µs |`;
  };
  const parse = () => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 50; i++) JSON.parse(text);
    return Number(process.hrtime.bigint() - t0) / 50_000;
  };
  return [
    '| per sample | time |',
    '| --- | --- |',
    `| JSON.parse (for scale) | ${fmt(Math.min(parse(), parse(), parse()) / 1000, 2)} µs |`,
    run('fast check `isValidSample` (hot path)', isValidSample),
    run('zod `sampleSchema.safeParse` (errors only)', (s) => sampleSchema.safeParse(s).success),
  ].join('\n');
}

// Prints min+gzip sizes of the built SDK (node sdk/web/size.mjs; builds first).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { ADAPTERS, buildSdk } from './build.mjs';

const dist = join(dirname(fileURLToPath(import.meta.url)), 'dist');
await buildSdk();
const files = [['core (index.js)', 'index.js'], ...ADAPTERS.map((a) => [`adapter ${a}`, `adapters/${a}.js`]), ['IIFE (core + all adapters)', 'qoswatch.iife.js']];
for (const [name, f] of files) {
  const b = readFileSync(join(dist, f));
  const gz = gzipSync(b, { level: 9 }).length;
  console.log(`${name.padEnd(28)} ${String(b.length).padStart(6)} B min  ${(gz / 1024).toFixed(2).padStart(5)} KB gzip (${gz} B)`);
}

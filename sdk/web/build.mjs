// Builds @qoswatch/web into sdk/web/dist: index.js (ESM core), adapters/*.js (ESM), qoswatch.iife.js (global `qoswatch`).
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const src = (p) => join(here, 'src', p);
const out = join(here, 'dist');
export const ADAPTERS = ['hls', 'dash', 'shaka', 'webrtc'];
const common = { bundle: true, minify: true, target: ['es2020'], platform: 'browser', legalComments: 'none', logLevel: 'warning' };

export async function buildSdk() {
  rmSync(out, { recursive: true, force: true });
  await Promise.all([
    build({ ...common, entryPoints: [src('index.ts')], format: 'esm', outfile: join(out, 'index.js') }),
    ...ADAPTERS.map((a) => build({ ...common, entryPoints: [src(`adapters/${a}.ts`)], format: 'esm', outfile: join(out, `adapters/${a}.js`) })),
    build({ ...common, entryPoints: [src('iife.ts')], format: 'iife', globalName: 'qoswatch', outfile: join(out, 'qoswatch.iife.js') }),
  ]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildSdk();

// Builds @qoswatch/web into sdk/web/dist: index.js (ESM core), adapters/*.js (ESM), qoswatch.iife.js (global `qoswatch`),
// types/ (declarations).
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const src = (p) => join(here, 'src', p);
const out = join(here, 'dist');
export const ADAPTERS = ['hls', 'dash', 'shaka', 'webrtc'];
const common = { bundle: true, minify: true, target: ['es2020'], platform: 'browser', legalComments: 'none', logLevel: 'warning' };

/** Builds the bundles and the declarations (dist/types, for TypeScript users of the ESM build). */
export async function buildSdk() {
  rmSync(out, { recursive: true, force: true });
  const tsc = join(here, '../../node_modules/.bin/tsc');
  execFileSync(tsc, ['-p', join(here, 'tsconfig.json'), '--noEmit', 'false', '--declaration', '--emitDeclarationOnly', '--rootDir', join(here, 'src'), '--outDir', join(out, 'types')], { stdio: 'inherit' });
  await Promise.all([
    build({ ...common, entryPoints: [src('index.ts')], format: 'esm', outfile: join(out, 'index.js') }),
    ...ADAPTERS.map((a) => build({ ...common, entryPoints: [src(`adapters/${a}.ts`)], format: 'esm', outfile: join(out, `adapters/${a}.js`) })),
    build({ ...IIFE, outfile: join(out, 'qoswatch.iife.js') }),
  ]);
}

const IIFE = { ...common, entryPoints: [src('iife.ts')], format: 'iife', globalName: 'qoswatch' };

/** The IIFE bundle's text, built in memory: tests running in parallel never see dist/ half rebuilt. */
export async function iifeText() {
  const r = await build({ ...IIFE, write: false });
  return r.outputFiles[0].text;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildSdk();

// Builds the responder console and the customers' status page into dist/public/console: app.js and status.js (each
// one bundle of their TypeScript and lit-html), index.html, status.html and app.css as they are.
// The service serves these files itself (src/console/routes.ts).
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '../dist/public/console');

mkdirSync(out, { recursive: true });
const common = { bundle: true, minify: true, sourcemap: 'linked', format: 'esm', target: ['es2022'], platform: 'browser', legalComments: 'none', logLevel: 'warning' };
await Promise.all([
  build({ ...common, entryPoints: [join(here, 'src/main.ts')], outfile: join(out, 'app.js') }),
  build({ ...common, entryPoints: [join(here, 'src/status.ts')], outfile: join(out, 'status.js') }),
]);
for (const f of ['index.html', 'status.html', 'app.css']) copyFileSync(join(here, f), join(out, f));

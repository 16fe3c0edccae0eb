// Builds the responder console into dist/public/console: app.js (one bundle: the console's TypeScript and lit-html),
// index.html and app.css as they are. The service serves these files itself (src/console/routes.ts).
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '../dist/public/console');

mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, 'src/main.ts')], bundle: true, minify: true, sourcemap: 'linked', format: 'esm', target: ['es2022'],
  platform: 'browser', legalComments: 'none', logLevel: 'warning', outfile: join(out, 'app.js'),
});
for (const f of ['index.html', 'app.css']) copyFileSync(join(here, f), join(out, f));

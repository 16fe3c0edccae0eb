// Builds the responder console and the customers' status page into dist/public/console: app.js and status.js (each
// one bundle of their TypeScript and lit-html), index.html and app.css as they are, status.html made from index.html.
// The service serves these files itself (src/console/routes.ts).
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
for (const f of ['index.html', 'app.css']) copyFileSync(join(here, f), join(out, f));
// The status page is the console's page with its own title and script.
const page = readFileSync(join(here, 'index.html'), 'utf8');
const status = page.replace('<title>qoswatch console</title>', '<title>Service status</title>').replace('/console/app.js', '/console/status.js');
if (status === page || !status.includes('status.js')) throw new Error('console/index.html no longer has the title and script the status page replaces');
writeFileSync(join(out, 'status.html'), status);

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JSON_SCHEMAS, schemaFileText } from './json-schemas.js';

/** `npm run schemas`: writes docs/schemas/<name>.schema.json (under the current directory) from the zod schemas. */
const dir = join(process.cwd(), 'docs', 'schemas');
mkdirSync(dir, { recursive: true });
for (const name of Object.keys(JSON_SCHEMAS) as (keyof typeof JSON_SCHEMAS)[]) {
  const file = join(dir, `${name}.schema.json`);
  writeFileSync(file, schemaFileText(name));
  console.log(`wrote ${file}`);
}

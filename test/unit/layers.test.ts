import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * src/shared/ is the vocabulary every area uses (priorities, labels, time of day, the tenant contract, HTTP error
 * shapes). It stays at the bottom only if it imports nothing of the areas above it: packages, node: and itself.
 */
const SHARED = fileURLToPath(new URL('../../src/shared/', import.meta.url));

/** Every module specifier a TypeScript file names: static imports and re-exports, side-effect and dynamic imports. */
function specifiers(source: string): string[] {
  const found = source.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g);
  return [...found].map((m) => m[1]!);
}

/** The specifiers of `file` that leave src/shared/ for another part of the tree. */
function escapes(file: string): string[] {
  return specifiers(readFileSync(file, 'utf8')).filter((s) => {
    if (!s.startsWith('.') && !s.startsWith('/')) return false; // a package or node: builtin
    return relative(SHARED, resolve(dirname(file), s)).startsWith('..');
  });
}

describe('layers', () => {
  it('reads every kind of import a file can make', () => {
    const source = [
      "import { z } from 'zod';",
      "import type { Priority } from './priority.js';",
      "export { x } from '../rules/engine.js';",
      "import '../telemetry/plugin.js';",
      "type Socket = import('node:net').Socket;",
      "const later = await import('../notify/pager.js');",
    ].join('\n');
    expect(specifiers(source)).toEqual(['zod', './priority.js', '../rules/engine.js', '../telemetry/plugin.js', 'node:net', '../notify/pager.js']);
  });

  it('src/shared imports nothing outside itself but packages and node builtins', () => {
    const files = readdirSync(SHARED, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join(SHARED, f));
    expect(files.length).toBeGreaterThan(0);
    const outside = files.flatMap((f) => escapes(f).map((s) => `${relative(SHARED, f)} imports ${s}`));
    expect(outside).toEqual([]);
  });
});

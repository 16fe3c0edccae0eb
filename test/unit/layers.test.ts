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

/** The repositories of the state db: they know storage and the shared vocabulary, not the areas that use them. */
const STATE = fileURLToPath(new URL('../../src/storage/state/', import.meta.url));
const STORAGE_BASE = ['sqlite.ts', 'state-db.ts'].map((f) => fileURLToPath(new URL(`../../src/storage/${f}`, import.meta.url))).concat(SHARED);

/** The specifiers of `file` that lead out of every one of `allowed` (folders, or files) to another part of the tree. */
function escapes(file: string, allowed: readonly string[]): string[] {
  return specifiers(readFileSync(file, 'utf8')).filter((s) => {
    if (!s.startsWith('.') && !s.startsWith('/')) return false; // a package or node: builtin
    const target = resolve(dirname(file), s).replace(/\.js$/, '.ts');
    return allowed.every((a) => (a.endsWith('.ts') ? target !== a : relative(a, target).startsWith('..')));
  });
}

/** Every import of the TypeScript files under `root` that leaves `allowed`, as "file imports specifier". */
function outside(root: string, allowed: readonly string[]): string[] {
  const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join(root, f));
  expect(files.length).toBeGreaterThan(0);
  return files.flatMap((f) => escapes(f, allowed).map((s) => `${relative(root, f)} imports ${s}`));
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
    expect(outside(SHARED, [SHARED])).toEqual([]);
  });

  it('src/storage/state imports itself, the state db (storage/sqlite, storage/state-db) and src/shared only: no area', () => {
    expect(outside(STATE, [STATE, ...STORAGE_BASE])).toEqual([]);
  });

  it('src/cluster (NATS: partitions, logs, leases, ownership) imports itself only: the areas build on it, not it on them', () => {
    const CLUSTER = fileURLToPath(new URL('../../src/cluster/', import.meta.url));
    expect(outside(CLUSTER, [CLUSTER])).toEqual([]);
  });

  it('SQL lives in src/storage: no other area prepares a statement, opens a transaction or imports better-sqlite3', () => {
    const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
    const areas = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !f.startsWith('storage/'));
    expect(areas.length).toBeGreaterThan(50);
    const sql = areas.filter((f) => /\.prepare\(|\.transaction\(|\.exec\(\s*['"`]|from 'better-sqlite3'/.test(readFileSync(join(SRC, f), 'utf8')));
    expect(sql).toEqual([]);
  });

  it('finds an import out of the allowed folders', () => {
    expect(escapes(join(STATE, 'sqlite-sql.ts'), [STATE])).toEqual(['../sqlite.js']);
  });
});

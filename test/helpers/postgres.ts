import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Where the tests' own database lives (the machines run PostgreSQL; the tests use a database of their own). */
const SERVER_URL = process.env.QOSWATCH_TEST_PG_SERVER ?? 'postgres://postgres@127.0.0.1:5432';
const DATABASE = 'qoswatch_test';

/** The visible reason PostgreSQL tests are skipped. */
export const NO_POSTGRES_MESSAGE = `PostgreSQL is not reachable at ${SERVER_URL}: PostgreSQL tests are SKIPPED. Start it (or set QOSWATCH_TEST_PG_SERVER); CI requires it.`;

/**
 * Checks the server answers and creates the tests' database if it is missing; the URL of that database, or
 * undefined. Run once, by the global setup, which hands the URL to the test workers in QOSWATCH_TEST_PG_URL.
 */
export async function preparePostgres(): Promise<string | undefined> {
  const admin = new pg.Client({ connectionString: `${SERVER_URL}/postgres`, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch {
    return undefined;
  }
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    // C collation: text sorts byte by byte, as in SQLite (the repositories' ORDER BY on text mean the same on both).
    if (!found.rowCount) await admin.query(`CREATE DATABASE ${DATABASE} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`);
  } finally {
    await admin.end();
  }
  return `${SERVER_URL}/${DATABASE}`;
}

/** The tests' database, when the global setup reached it. */
export const PG_URL = process.env.QOSWATCH_TEST_PG_URL;

/** Test schemas are named so: the global teardown drops them all. */
const PREFIX = 't_';

/** A schema of its own for a test or a test file (tests run in parallel over one database), and its removal. */
export function freshSchema(): { schema: string; drop(): Promise<void> } {
  const schema = `${PREFIX}${randomBytes(6).toString('hex')}`;
  return { schema, drop: () => dropSchemas(PG_URL!, [schema]) };
}

/** Drops every test schema (at the end of a run; and at its start, what a killed run left). */
export async function dropTestSchemas(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const found = await c.query<{ name: string }>('SELECT nspname AS name FROM pg_namespace WHERE starts_with(nspname, $1)', [PREFIX]);
    for (const { name } of found.rows) await c.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
  } finally {
    await c.end();
  }
}

async function dropSchemas(url: string, schemas: readonly string[]): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  } finally {
    await c.end();
  }
}

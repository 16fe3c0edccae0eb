import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HAVE_CHROMIUM, NO_CHROMIUM_MESSAGE } from './browser.js';
import { HAVE_INFLUXD, NO_INFLUXD_MESSAGE } from './influxd.js';
import { NO_NATS_MESSAGE, prepareNats, removeTestStreams } from './nats.js';
import { NO_POSTGRES_MESSAGE, dropTestSchemas, preparePostgres } from './postgres.js';
import { HAVE_PROMTOOL, NO_PROMTOOL_MESSAGE } from './promtool.js';
import { HAVE_ALERTMANAGER, NO_ALERTMANAGER_MESSAGE } from './alertmanager.js';

/**
 * Makes one temp root for the run (removed at the end, by the teardown of the first call), prepares the PostgreSQL tests' database and finds NATS, and
 * says loudly when InfluxDB, PostgreSQL, NATS, browser or promtool tests will be skipped; CI (QOSWATCH_REQUIRE_INFLUXD=1,
 * QOSWATCH_REQUIRE_CHROMIUM=1, QOSWATCH_REQUIRE_POSTGRES=1, QOSWATCH_REQUIRE_NATS=1, QOSWATCH_REQUIRE_PROMTOOL=1, QOSWATCH_REQUIRE_ALERTMANAGER=1) fails
 * instead.
 */
export default async function setup(): Promise<() => Promise<void>> {
  // vitest runs the global setup once per project (vitest.config.ts) in one process: the first prepares the run.
  if (process.env.QOSWATCH_TEST_TMP) return async () => {};
  const missing = (have: boolean, required: string, message: string) => {
    if (have) return;
    if (process.env[required] === '1') throw new Error(`${required}=1 but ${message}`);
    process.stderr.write(`\n\x1b[33m!!! ${message}\x1b[0m\n\n`);
  };
  missing(HAVE_INFLUXD, 'QOSWATCH_REQUIRE_INFLUXD', NO_INFLUXD_MESSAGE);
  missing(HAVE_CHROMIUM, 'QOSWATCH_REQUIRE_CHROMIUM', NO_CHROMIUM_MESSAGE);
  missing(HAVE_PROMTOOL, 'QOSWATCH_REQUIRE_PROMTOOL', NO_PROMTOOL_MESSAGE);
  missing(HAVE_ALERTMANAGER, 'QOSWATCH_REQUIRE_ALERTMANAGER', NO_ALERTMANAGER_MESSAGE);
  const pgUrl = await preparePostgres();
  missing(pgUrl !== undefined, 'QOSWATCH_REQUIRE_POSTGRES', NO_POSTGRES_MESSAGE);
  if (pgUrl) {
    process.env.QOSWATCH_TEST_PG_URL = pgUrl;
    await dropTestSchemas(pgUrl);
  }
  const natsUrl = await prepareNats();
  missing(natsUrl !== undefined, 'QOSWATCH_REQUIRE_NATS', NO_NATS_MESSAGE);
  if (natsUrl) {
    process.env.QOSWATCH_TEST_NATS_URL = natsUrl;
    await removeTestStreams(natsUrl);
  }
  const root = mkdtempSync(join(tmpdir(), 'qoswatch-tests-'));
  process.env.QOSWATCH_TEST_TMP = root;
  return async () => {
    rmSync(root, { recursive: true, force: true });
    if (pgUrl) await dropTestSchemas(pgUrl);
    if (natsUrl) await removeTestStreams(natsUrl);
  };
}

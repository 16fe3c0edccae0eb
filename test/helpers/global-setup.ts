import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HAVE_INFLUXD, NO_INFLUXD_MESSAGE } from './influxd.js';

/**
 * Makes one temp root for the run (removed at the end) and says loudly when InfluxDB tests will be skipped;
 * CI (QOSWATCH_REQUIRE_INFLUXD=1) fails instead.
 */
export default function setup(): () => void {
  if (!HAVE_INFLUXD) {
    if (process.env.QOSWATCH_REQUIRE_INFLUXD === '1') throw new Error(`QOSWATCH_REQUIRE_INFLUXD=1 but ${NO_INFLUXD_MESSAGE}`);
    process.stderr.write(`\n\x1b[33m!!! ${NO_INFLUXD_MESSAGE}\x1b[0m\n\n`);
  }
  const root = mkdtempSync(join(tmpdir(), 'qoswatch-tests-'));
  process.env.QOSWATCH_TEST_TMP = root;
  return () => rmSync(root, { recursive: true, force: true });
}

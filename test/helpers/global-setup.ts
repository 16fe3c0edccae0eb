import { HAVE_INFLUXD, NO_INFLUXD_MESSAGE } from './influxd.js';

/** Says loudly when InfluxDB tests will be skipped; CI (QOSWATCH_REQUIRE_INFLUXD=1) fails instead. */
export default function setup(): void {
  if (HAVE_INFLUXD) return;
  if (process.env.QOSWATCH_REQUIRE_INFLUXD === '1') throw new Error(`QOSWATCH_REQUIRE_INFLUXD=1 but ${NO_INFLUXD_MESSAGE}`);
  process.stderr.write(`\n\x1b[33m!!! ${NO_INFLUXD_MESSAGE}\x1b[0m\n\n`);
}

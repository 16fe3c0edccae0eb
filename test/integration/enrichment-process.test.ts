import { existsSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { postTelemetry } from '../helpers/app.js';
import { NET, asnEntries, countryEntries, writeDb } from '../helpers/geoip.js';
import { useInfluxServer } from '../helpers/influx-suite.js';
import { HAVE_INFLUXD, NO_INFLUXD_MESSAGE, rows } from '../helpers/influxd.js';
import { metric } from '../helpers/metrics.js';
import { CLI, servicesKilledAfterEach } from '../helpers/service.js';

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);
if (!HAVE_INFLUXD) console.warn(NO_INFLUXD_MESSAGE);

describe.skipIf(!HAVE_INFLUXD)('enrichment across kill -9 (the built service as a process, real InfluxDB)', () => {
  const influx = useInfluxServer();
  const start = servicesKilledAfterEach();

  it('the restart replays each batch with the isp and country derived when it was accepted, whatever the databases say by then', async () => {
    await influx().createDb('enrich');
    const asnDb = writeDb({ entries: asnEntries(), databaseType: 'GeoLite2-ASN' });
    const countryDb = writeDb({ entries: countryEntries('ip-location-db') });
    const env = {
      INFLUX_URL: influx().url,
      INFLUX_API: 'v1',
      INFLUX_DB: 'enrich',
      QOSWATCH_GEOIP_ASN_DB: asnDb,
      QOSWATCH_GEOIP_COUNTRY_DB: countryDb,
      QOSWATCH_TRUSTED_PROXIES: '127.0.0.1',
    };
    const svc = await start(env);
    const ts = Date.now();
    const viewers = (...sessions: string[]) => ({ samples: sessions.map((session) => ({ ts, region: 'eu', session, latency_ms: 40 })) });
    expect((await postTelemetry(svc.url, viewers('a1', 'a2'), { 'x-forwarded-for': NET.a.ip4 })).status).toBe(202);
    expect((await postTelemetry(svc.url, viewers('b1'), { 'x-forwarded-for': NET.b.ip6 })).status).toBe(202);

    // kill -9 with the batches only in the journal; then the ISP database changes and the country one goes away.
    expect(await svc.stop('SIGKILL')).toBe('SIGKILL');
    writeDb({ entries: asnEntries(() => 'Renamed ISP') }, asnDb);
    rmSync(countryDb);
    const again = await start(env, svc.dataDir);
    expect(await metric(again.url, 'qoswatch_journal_quarantined_total')).toBe(0);
    expect(await metric(again.url, 'qoswatch_samples_aggregated_total')).toBe(3);
    expect(await again.stop('SIGTERM')).toBe(0);

    const stored = rows(await influx().query('SELECT sum(samples) AS n FROM qos_dim GROUP BY dim, value', 'enrich'));
    expect(Object.fromEntries(stored.map((r) => [`${r.dim}=${r.value}`, r.n]))).toEqual({
      [`isp=${NET.a.isp}`]: 2,
      [`isp=${NET.b.isp}`]: 1,
      'country=DE': 2,
      'country=JP': 1,
    });
    // the restarted service read the changed database (and warned about the missing one) but replay did not use it
    expect(again.output).toContain('cannot read the GeoIP database');
    expect(again.output).not.toContain(NET.a.ip4);
  });
});

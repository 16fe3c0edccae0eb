import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { postTelemetry } from '../helpers/app.js';
import { useInfluxServer } from '../helpers/influx-suite.js';
import { HAVE_INFLUXD, NO_INFLUXD_MESSAGE, rows } from '../helpers/influxd.js';
import { metric } from '../helpers/metrics.js';
import { CLI, servicesKilledAfterEach } from '../helpers/service.js';

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);
if (!HAVE_INFLUXD) console.warn(NO_INFLUXD_MESSAGE);

/**
 * A heap small enough that a few hundred MB of sketch bins end the process at once (the service idles at ~26 MB of
 * heap), and large enough for everything it does legitimately.
 */
const SMALL_HEAP = { NODE_OPTIONS: '--max-old-space-size=96' };

/** The exact q-quantile with DDSketch's rank rule: the value at rank floor(q·(n−1)) of the sorted data. */
function exactQuantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}

const REGIONS = 100;
const PER_REGION = 20;
const TINY = 2.3e-308;
const HUGE = 600_000;

/** Region r's values: one just above the smallest normal double, one at the field's maximum, 18 ordinary ones. */
const valuesOf = (r: number) => Array.from({ length: PER_REGION }, (_, k) => (k === 0 ? TINY : k === 1 ? HUGE : 100 + r + k * 10));

/**
 * The batch of issue 14 item 1: 2 000 valid samples, and in every series (100 regions, each with 5 dimension
 * series) a value of 2.3e-308 beside one of 600 000 — each sketch spanning ~36 k bins before the fix.
 */
function hostileBatch(ts: number) {
  const samples = [];
  for (let r = 0; r < REGIONS; r++) {
    for (const [k, v] of valuesOf(r).entries()) {
      samples.push({
        ts,
        region: `r${r}`,
        session: `s${r}-${k}`,
        dims: { isp: `isp${r}`, cdn: `cdn${r}`, platform: `p${r}`, country: `c${r}`, sdk: `sdk${r}` },
        latency_ms: v,
        rtt_ms: Math.min(v, 60_000),
        startup_ms: v,
      });
    }
  }
  return { samples };
}

describe.skipIf(!HAVE_INFLUXD)('hostile numbers (the built service as a process, real InfluxDB)', () => {
  const influx = useInfluxServer();
  const start = servicesKilledAfterEach();

  it('subnormal beside huge values in every series: 202, memory bounded, sane percentiles, clean restart', async () => {
    await influx().createDb('hostile');
    const env = { ...SMALL_HEAP, INFLUX_URL: influx().url, INFLUX_API: 'v1', INFLUX_DB: 'hostile' };
    const svc = await start(env);
    const rssBefore = await metric(svc.url, 'process_resident_memory_bytes');
    const ts = Date.now();
    const batch = hostileBatch(ts);
    expect(JSON.stringify(batch).length).toBeGreaterThan(350_000);
    const res = await postTelemetry(svc.url, batch);
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(REGIONS * PER_REGION);
    // 600 series × 3 sketches: each at most a few KiB now (~290 KB each before, ~520 MB in all).
    const grown = (await metric(svc.url, 'process_resident_memory_bytes')) - rssBefore;
    expect(grown).toBeLessThan(64 * 1024 ** 2);

    // kill -9 with the batch only in the journal: the restart replays it.
    expect(await svc.stop('SIGKILL')).toBe('SIGKILL');
    const again = await start(env, svc.dataDir);
    expect(await metric(again.url, 'qoswatch_journal_quarantined_total')).toBe(0);
    expect(await metric(again.url, 'qoswatch_samples_aggregated_total')).toBe(REGIONS * PER_REGION);
    expect(await again.stop('SIGTERM')).toBe(0);

    const stored = rows(await influx().query('SELECT latency_count, latency_p50, latency_p95, latency_p99, rtt_p95, startup_p50, startup_p95 FROM qos_region GROUP BY region', 'hostile'));
    expect(stored).toHaveLength(REGIONS);
    for (const p of stored) {
      const r = Number(String(p.region).slice(1));
      const latency = valuesOf(r);
      const rtt = latency.map((v) => Math.min(v, 60_000));
      expect(p.latency_count).toBe(PER_REGION);
      for (const [field, values, q] of [
        ['latency_p50', latency, 0.5], ['latency_p95', latency, 0.95], ['latency_p99', latency, 0.99],
        ['rtt_p95', rtt, 0.95], ['startup_p50', latency, 0.5], ['startup_p95', latency, 0.95],
      ] as const) {
        const exact = exactQuantile(values, q);
        expect(Math.abs((p[field] as number) - exact) / exact, `${p.region} ${field}`).toBeLessThanOrEqual(0.01);
      }
    }
  });
});

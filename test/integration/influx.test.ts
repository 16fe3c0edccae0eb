import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useInfluxServer } from '../helpers/influx-suite.js';
import { HAVE_INFLUXD, NO_INFLUXD_MESSAGE, rows } from '../helpers/influxd.js';
import { type TestApp, postTelemetry, startApp } from '../helpers/app.js';
import { waitFor } from '../helpers/ports.js';
import { metric } from '../helpers/metrics.js';
import { tempDir } from '../helpers/tmp.js';

if (!HAVE_INFLUXD) console.warn(NO_INFLUXD_MESSAGE);

/** Fast windows so tests do not wait for 10 s windows to close. */
const FAST = { QOSWATCH_WINDOW: '1s', QOSWATCH_WINDOW_GRACE: '300ms', QOSWATCH_FLUSH_INTERVAL: '100ms', INFLUX_API: 'v1' };

/** The exact q-quantile with DDSketch's rank rule: the value at rank floor(q·(n−1)) of the sorted data. */
function exactQuantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}


describe.skipIf(!HAVE_INFLUXD)('InfluxDB 1.x round trip (real influxd)', () => {
  const influx = useInfluxServer();

  it('stores each closed window as rollups whose values are ratios of sums and sketch quantiles', async () => {
    await influx().createDb('rt');
    const t: TestApp = await startApp({ env: { ...FAST, INFLUX_URL: influx().url, INFLUX_DB: 'rt' } });
    try {
      // Samples all inside the current 1 s window; a long view and a short one must not weigh the same.
      const ts = Math.floor(Date.now() / 1000) * 1000 + 1;
      const latencies = Array.from({ length: 200 }, (_, i) => 100 + i * 13.7);
      const samples = latencies.map((latency_ms, i) => ({
        ts,
        region: 'ap-east',
        session: `s${i}`,
        dims: { isp: i % 2 ? 'isp-a' : 'isp-b', cdn: 'cdn-1' },
        latency_ms,
        packets_lost: i % 10,
        packets_expected: 1000,
        play_ms: i === 0 ? 7_200_000 : 9000,
        stall_ms: i === 0 ? 0 : 1000,
        stall_count: i === 0 ? 0 : 1,
        ...(i % 20 === 0 ? { error: 'E_DECODE' } : {}),
      }));
      const res = await postTelemetry(t.url, { samples });
      expect(res.status).toBe(202);
      expect(res.body.accepted).toBe(200);

      const region = await waitFor('the region rollup', async () => rows(await influx().query("SELECT * FROM qos_region WHERE region = 'ap-east'", 'rt'))[0]);
      const stall = 199 * 1000;
      const play = 7_200_000 + 199 * 9000;
      expect(region.samples).toBe(200);
      expect(region.sessions).toBe(200);
      expect(region.error_sessions).toBe(10);
      expect(region.error_rate).toBeCloseTo(10 / 200, 12);
      expect(region.stall_ratio).toBeCloseTo(stall / (stall + play), 12);
      expect(region.stall_ratio).not.toBeCloseTo(0.1 * (199 / 200), 3); // the average of ratios would be ~0.0995
      expect(region.stalls_per_min).toBeCloseTo(199 / ((stall + play) / 60_000), 9);
      const lost = samples.reduce((a, s) => a + s.packets_lost, 0);
      expect(region.packet_loss).toBeCloseTo(lost / (200 * 1000), 12);
      expect(region.latency_count).toBe(200);
      for (const [field, q] of [['latency_p50', 0.5], ['latency_p95', 0.95], ['latency_p99', 0.99]] as const) {
        const exact = exactQuantile(latencies, q);
        expect(Math.abs((region[field] as number) - exact) / exact).toBeLessThanOrEqual(0.01);
      }
      expect(region.time).toBe(ts - 1);
      expect(region.tenant).toBe('default');

      const dims = rows(await influx().query("SELECT samples, stall_ratio FROM qos_dim WHERE region = 'ap-east' GROUP BY dim, value", 'rt'));
      expect(dims.map((d) => `${d.dim}=${d.value}:${d.samples}`).sort()).toEqual(['cdn=cdn-1:200', 'isp=isp-a:100', 'isp=isp-b:100']);

      // Dashboards aggregate across windows with ratios of sums in InfluxQL; the stored sums make that exact.
      const q = rows(await influx().query("SELECT sum(stall_ms) / (sum(play_ms) + sum(stall_ms)) AS r FROM qos_region WHERE region = 'ap-east'", 'rt'))[0]!;
      expect(q.r).toBeCloseTo(stall / (stall + play), 12);
      expect(await metric(t.url, 'qoswatch_influx_points_written_total')).toBeGreaterThanOrEqual(4);
    } finally {
      await t.close();
    }
  });

  it('writes raw samples when QOSWATCH_RAW_SAMPLES is on: dims as tags, ids as fields, one point per sample', async () => {
    await influx().createDb('raw');
    const t = await startApp({ env: { ...FAST, INFLUX_URL: influx().url, INFLUX_DB: 'raw', QOSWATCH_RAW_SAMPLES: 'true' } });
    try {
      const ts = Date.now();
      // Same ts and tags for both: they must stay two points.
      const samples = ['a', 'b'].map((session) => ({ ts, region: 'sa-east', session, stream: 'live-1', dims: { isp: 'vivo' }, latency_ms: 900, error: 4001 }));
      expect((await postTelemetry(t.url, { samples })).body.accepted).toBe(2);
      const raw = await waitFor('raw points', async () => {
        const r = rows(await influx().query('SELECT * FROM qos_sample', 'raw'));
        return r.length === 2 ? r : undefined;
      });
      expect(raw.map((r) => r.session).sort()).toEqual(['a', 'b']);
      for (const r of raw) expect(r).toMatchObject({ tenant: 'default', region: 'sa-east', isp: 'vivo', stream: 'live-1', latency_ms: 900, error: '4001' });
      const tagKeys = rows(await influx().query('SHOW TAG KEYS FROM qos_sample', 'raw')).map((r) => r.tagKey);
      expect(tagKeys.sort()).toEqual(['isp', 'region', 'tenant']);
    } finally {
      await t.close();
    }
  });

  it('raw samples stamped with the same ms and tags in 123 batches are 699 points: none overwrites another', async () => {
    await influx().createDb('rawmany');
    // 10 s windows (SDKs stamp the interval start); raw points go out with every flush, windows open or not.
    const t = await startApp({ env: { ...FAST, QOSWATCH_WINDOW: '10s', QOSWATCH_WINDOW_GRACE: '15s', INFLUX_URL: influx().url, INFLUX_DB: 'rawmany', QOSWATCH_RAW_SAMPLES: 'true' } });
    try {
      const ts = Math.floor(Date.now() / 10_000) * 10_000;
      const one = (session: string) => ({ ts, region: 'eu', session, dims: { isp: 'x' }, latency_ms: 50 });
      // Journal row 1's sample and row 123's sample 576 had the same timestamp under seq·8192 + index mod 10^6.
      const batches = [[one('first')], ...Array.from({ length: 121 }, (_, i) => [one(`mid${i}`)]), Array.from({ length: 577 }, (_, i) => one(`last${i}`))];
      for (const samples of batches) expect((await postTelemetry(t.url, { samples })).status).toBe(202);
      // (Before: 698 — one point overwritten — until the wait timed out.)
      const count = await waitFor('699 raw points', async () => {
        const r = rows(await influx().query('SELECT count(latency_ms) FROM qos_sample', 'rawmany'))[0];
        return r && (r.count as number) >= 699 ? r.count : undefined;
      });
      expect(count).toBe(699);
      const sessions = rows(await influx().query("SELECT session FROM qos_sample WHERE session = 'first' OR session = 'last576'", 'rawmany')).map((r) => r.session);
      expect(sessions.sort()).toEqual(['first', 'last576']);
    } finally {
      await t.close();
    }
  });

  it('refuses regions with a lone surrogate: two that differ only by one would be one InfluxDB series (both become U+FFFD)', async () => {
    await influx().createDb('surrogates');
    const t = await startApp({ env: { ...FAST, INFLUX_URL: influx().url, INFLUX_DB: 'surrogates' } });
    try {
      // Distinct strings in JavaScript, the same bytes in line protocol: InfluxDB would keep one of the two points.
      expect(Buffer.from('eu\ud800').equals(Buffer.from('eu\udc00'))).toBe(true);
      const ts = Date.now();
      const samples = [
        { ts, region: 'eu\ud800', session: 'a', latency_ms: 100 },
        { ts, region: 'eu\udc00', session: 'b', latency_ms: 900 },
        { ts, region: 'ok', session: 'c', latency_ms: 5 },
      ];
      const res = await postTelemetry(t.url, { samples });
      expect(res.status).toBe(202);
      expect(res.body.accepted).toBe(1);
      expect(res.body.rejected).toEqual([0, 1].map((index) => ({ index, errors: [{ path: 'region', message: expect.stringMatching(/well-formed/) }] })));
      await waitFor('the control window', async () => rows(await influx().query("SELECT samples FROM qos_region WHERE region = 'ok'", 'surrogates'))[0]);
      const regions = rows(await influx().query('SHOW TAG VALUES FROM qos_region WITH KEY = "region"', 'surrogates')).map((r) => r.value);
      expect(regions).toEqual(['ok']);
    } finally {
      await t.close();
    }
  });

  it('spools while InfluxDB is down and delivers every window exactly once when it is back', async () => {
    await influx().createDb('outage');
    const t = await startApp({ env: { ...FAST, INFLUX_URL: influx().url, INFLUX_DB: 'outage', INFLUX_TIMEOUT: '500ms' } });
    try {
      const perWindow = new Map<number, number>();
      let seq = 0;
      const post = async () => {
        const ts = Date.now();
        const r = await postTelemetry(t.url, { samples: [{ ts, region: 'eu', session: `o${seq++}`, play_ms: 1000, stall_ms: 10 }] });
        expect(r.status).toBe(202);
        const w = Math.floor(ts / 1000) * 1000;
        perWindow.set(w, (perWindow.get(w) ?? 0) + 1);
      };
      const postFor = async (ms: number) => {
        const end = Date.now() + ms;
        while (Date.now() < end) {
          await post();
          await new Promise((r) => setTimeout(r, 40));
        }
      };
      await postFor(1500);
      await influx().stop();
      await postFor(3000);
      await waitFor('points to pile up in the spool', async () => (await metric(t.url, 'qoswatch_spool_depth_points')) > 0 || undefined);
      const ready = await (await fetch(`${t.url}/readyz`)).json();
      expect(ready).toMatchObject({ ready: true, storage: 'spooling' });
      await influx().start();
      await postFor(1500);
      await waitFor('the spool to drain', async () => (await metric(t.url, 'qoswatch_spool_depth_points')) === 0 || undefined, 30_000);
      const last = Math.max(...perWindow.keys());
      const stored = await waitFor('the last window', async () => {
        const r = rows(await influx().query("SELECT samples FROM qos_region WHERE region = 'eu' AND samples > 0", 'outage'));
        return r.some((p) => p.time === last) ? r : undefined;
      });
      const storedMap = new Map(stored.map((p) => [p.time as number, p.samples as number]));
      expect(storedMap).toEqual(perWindow);
      expect(await metric(t.url, 'qoswatch_influx_write_errors_total')).toBeGreaterThan(0);
      expect(await metric(t.url, 'qoswatch_spool_dropped_points_total')).toBe(0);
    } finally {
      await t.close();
    }
  });
  it('writes incident timeline events as qos_incident points for Grafana annotations', async () => {
    await influx().createDb('inc');
    const rulesDir = tempDir('rules');
    const rule = (id: string) => `  - id: ${id}\n    description: stall\n    metric: stall_ratio\n    window: 1s\n    thresholds: { P1: "> 0.05" }\n`;
    writeFileSync(join(rulesDir, 'stall.yaml'), `rules:\n${rule('stall')}${rule('stall-2')}`);
    const t = await startApp({ env: { ...FAST, INFLUX_URL: influx().url, INFLUX_DB: 'inc', QOSWATCH_RULES_DIR: rulesDir, QOSWATCH_PUBLIC_URL: 'https://qoswatch.example/' } });
    try {
      expect((await postTelemetry(t.url, { samples: [{ ts: Date.now(), region: 'sa-east', session: 'a', play_ms: 9000, stall_ms: 1000 }] })).status).toBe(202);
      const points = await waitFor('the incident points', async () => {
        const r = rows(await influx().query("SELECT * FROM qos_incident WHERE region = 'sa-east'", 'inc'));
        return r.length >= 3 ? r : undefined;
      });
      const opened = points.find((p) => p.event === 'opened')!;
      expect(opened).toMatchObject({ tenant: 'default', region: 'sa-east', priority: 'P1', state: 'open', actor: 'qoswatch', silenced: false });
      expect(opened.incident).toBe(1);
      expect(opened.text).toBe('stall_ratio 10% (> 0.05) — sa-east');
      // What Grafana's annotation shows: the text (escaped: Grafana renders HTML) and a link to the console's incident.
      expect(opened.annotation).toBe('stall_ratio 10% (&#62; 0.05) — sa-east<br><a href="https://qoswatch.example/console/#/incidents/1">Incident #1 in qoswatch</a>');
      // Both rules fire in the same pass: same tags, same millisecond, still two points (the timeline id is in the ns).
      expect(points.filter((p) => p.event === 'alert_fired')).toHaveLength(2);
    } finally {
      await t.close();
    }
  });
  it('writes SLA clock stops (met or breached) and breaches as points for the SLA board', async () => {
    await influx().createDb('sla');
    const opened = Math.floor(Date.now() / 1000) * 1000;
    let now = opened;
    const t = await startApp({
      clock: () => now,
      config: { default_tenant: 'acme', tenants: [{ id: 'acme', tier: 'strategic' }] },
      env: { ...FAST, INFLUX_URL: influx().url, INFLUX_DB: 'sla' },
    });
    try {
      const h = { authorization: 'Bearer test-admin-token-0123456789', 'content-type': 'application/json' };
      const post = (path: string, body: unknown) => fetch(`${t.url}${path}`, { method: 'POST', headers: h, body: JSON.stringify(body) }).then((r) => r.json() as Promise<{ id: number }>);
      const ticket = await post('/v1/tickets', { tenant: 'acme', title: 'viewers report stalls', priority: 'P0' });
      now = opened + 16 * 60_000;
      await t.app.slaWatch.tick(now); // response (15 min) breached
      now = opened + 20 * 60_000;
      await post(`/v1/tickets/${ticket.id}/state`, { to: 'acknowledged' });
      const stops = await waitFor('the SLA points', async () => {
        const r = rows(await influx().query('SELECT * FROM qos_sla', 'sla'));
        return r.length ? r : undefined;
      });
      expect(stops).toEqual([expect.objectContaining({ tenant: 'acme', tier: 'strategic', priority: 'P0', target: 'response', outcome: 'breached', ticket: ticket.id, time_to_stop_ms: 20 * 60_000, target_ms: 15 * 60_000 })]);
      const breaches = rows(await influx().query('SELECT * FROM qos_sla_breach', 'sla'));
      expect(breaches).toEqual([expect.objectContaining({ target: 'response', ticket: ticket.id, time: opened + 15 * 60_000 })]);
    } finally {
      await t.close();
    }
  });
});

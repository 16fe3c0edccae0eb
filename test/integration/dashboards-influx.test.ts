import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { DASHBOARDS } from '../../dashboards/src/index.js';
import { api, incidents, writeRules } from '../helpers/alerting.js';
import { postTelemetry, startApp } from '../helpers/app.js';
import { dashboardQueries, interpolate } from '../helpers/dashboards.js';
import { useInfluxServer } from '../helpers/influx-suite.js';
import { HAVE_INFLUXD, NO_INFLUXD_MESSAGE, type InfluxSeriesResult, rows } from '../helpers/influxd.js';
import { pagingOnCall, pagingRule, useLoopbackServers, writeOnCall } from '../helpers/paging.js';
import { waitFor } from '../helpers/ports.js';

if (!HAVE_INFLUXD) console.warn(NO_INFLUXD_MESSAGE);

const DB = 'boards';
const ISPS = ['isp-a', 'isp-b'];

/**
 * The fixture: two regions of viewers over two 1 s windows with different weights (a ratio of sums and an average
 * of window ratios differ), edge nodes' concurrency, one rejected sample and one unauthenticated request.
 */
function viewerBatch(ts: number, region: string, n: number, stallPerMille: number, secondWindow: boolean) {
  return Array.from({ length: n }, (_, i) => {
    const play = secondWindow ? 20_000 : 5000;
    const stall = Math.round((play * stallPerMille * (i % 2 ? 2 : 0.5)) / 1000);
    return {
      ts, region, session: `${region}-${i}`,
      dims: { isp: ISPS[i % 2]!, cdn: i % 3 ? 'cdn-x' : 'cdn-y', platform: i % 2 ? 'ios' : 'web' },
      latency_ms: 300 + i * 10 + (region === 'eu-west' ? 900 : 0),
      packets_lost: i % 4, packets_expected: 500,
      play_ms: play, stall_ms: stall, stall_count: stall ? 1 : 0,
    };
  });
}

type Sent = ReturnType<typeof viewerBatch>[number];
const sum = (xs: readonly Sent[], f: (s: Sent) => number) => xs.reduce((a, s) => a + f(s), 0);
const stallOf = (xs: readonly Sent[]) => sum(xs, (s) => s.stall_ms) / sum(xs, (s) => s.play_ms + s.stall_ms);
const lossOf = (xs: readonly Sent[]) => sum(xs, (s) => s.packets_lost) / sum(xs, (s) => s.packets_expected);

describe.skipIf(!HAVE_INFLUXD)('every dashboard query against InfluxDB 1.x after ingesting a fixture through the service', () => {
  const influx = useInfluxServer();
  const { smtp, receiver } = useLoopbackServers();

  it('returns the expected series for every panel, variable and annotation of the four boards', async () => {
    await influx().createDb(DB);
    const start = Date.now();
    const t = await startApp({
      config: { default_tenant: 'acme', tenants: [{ id: 'acme', tier: 'strategic', sla: { P1: { response: '0.02m' } } }] },
      env: {
        QOSWATCH_WINDOW: '1s', QOSWATCH_WINDOW_GRACE: '200ms', QOSWATCH_FLUSH_INTERVAL: '100ms', QOSWATCH_SELF_METRICS_INTERVAL: '250ms',
        INFLUX_API: 'v1', INFLUX_URL: influx().url, INFLUX_DB: DB,
        QOSWATCH_RULES_DIR: writeRules([pagingRule({ window: '2s', thresholds: { P1: '> 0.05' }, clear_for: '6h' })]),
        QOSWATCH_ONCALL: writeOnCall(pagingOnCall((p) => receiver.url(p))), SMTP_URL: smtp.url,
      },
    });
    try {
      // Window 1: short views; window 2: long views. eu-west stalls (≈10 %, pages P1), ap-east barely (≈1 %).
      const w1 = Math.floor(Date.now() / 1000) * 1000 + 1;
      const first = [...viewerBatch(w1, 'eu-west', 20, 100, false), ...viewerBatch(w1, 'ap-east', 20, 10, false)];
      const nodes = (ts: number, c: number) => [{ ts, region: 'eu-west', node: 'edge-1', concurrency: c }, { ts, region: 'eu-west', node: 'edge-2', concurrency: 2 * c }];
      const r1 = await postTelemetry(t.url, { samples: [...first, ...nodes(w1, 400), { ts: w1, session: 'bad' /* no region */, play_ms: 1 }] });
      expect(r1.body).toMatchObject({ accepted: first.length + 2, rejected: [{ index: first.length + 2 }] });
      expect((await postTelemetry(t.url, { samples: first.slice(0, 1) }, { authorization: 'Bearer wrong-key-0123456789' })).status).toBe(401);
      await new Promise((r) => setTimeout(r, 1100 - (Date.now() - w1)));
      const w2 = Math.floor(Date.now() / 1000) * 1000 + 1;
      const second = [...viewerBatch(w2, 'eu-west', 20, 40, true), ...viewerBatch(w2, 'ap-east', 20, 10, true)];
      expect((await postTelemetry(t.url, { samples: [...second, ...nodes(w2, 500)] })).status).toBe(202);

      // The incident opens a P1 ticket whose 1.2 s response target breaches before it is acknowledged, then it is
      // mitigated within its restore target: one breached and one met SLA clock.
      const inc = await waitFor('the incident', async () => (await incidents(t.url, 'state=open'))[0]);
      await waitFor('the SLA breach point', async () => rows(await influx().query('SELECT * FROM qos_sla_breach', DB))[0]);
      expect((await api(t.url, 'POST', `/v1/incidents/${inc.id}/ack`, {})).status).toBe(200);
      expect((await api(t.url, 'POST', `/v1/incidents/${inc.id}/mitigate`, {})).status).toBe(200);
      await waitFor('the SLA stop points', async () => (rows(await influx().query('SELECT * FROM qos_sla', DB)).length >= 2 ? true : undefined));

      const eu = [...first, ...second].filter((s) => s.region === 'eu-west');
      // Both windows stored (on a busy machine the second may still be on its way when the SLA points are in).
      await waitFor('both eu-west windows in InfluxDB', async () =>
        rows(await influx().query(`SELECT sum(samples) AS n FROM qos_region WHERE region = 'eu-west'`, DB))[0]?.n === eu.length + 4 || undefined);
      const vars: Record<string, string> = { tenant: 'acme', region: '(eu-west|ap-east)', dim: 'isp', value: '.*', tier: '.*', instance: hostname().replace(/[.\\]/g, '\\$&') };
      const run = async (board: string, q: string, over: Record<string, string> = {}) =>
        influx().query(interpolate(q, { from: start - 60_000, to: Date.now() + 60_000, interval: '1s', vars: { ...vars, ...(board === 'region-drilldown.json' ? { region: 'eu-west' } : {}), ...over } }), DB);
      const nonEmpty = (r: InfluxSeriesResult[]) => r.some((s) => s.values.some((v) => v.slice(1).some((x) => x !== null)) || (s.columns[0] === 'key' && s.values.length > 0));

      // Every query: valid InfluxQL with at least one non-null value (waiting for self-metrics to cover each one).
      const results = new Map<string, InfluxSeriesResult[]>();
      for (const d of DASHBOARDS) {
        for (const q of dashboardQueries(d.build())) {
          const key = `${d.file} ${q.where}`;
          results.set(key, await waitFor(`a non-empty result for ${key}`, async () => {
            const r = await run(d.file, q.query);
            return nonEmpty(r) ? r : undefined;
          }, 15_000, 250));
        }
      }
      expect(results.size).toBeGreaterThan(40);
      const result = (board: string, where: string) => {
        const r = results.get(`${board} ${where}`);
        if (!r) throw new Error(`no query ${where} on ${board}: ${[...results.keys()].join(', ')}`);
        return rows(r);
      };

      // Values, hand-computed from what was sent. Ratios are ratios of sums across windows.
      const table = result('qos-overview.json', 'Regions over the range / A');
      const euRow = table.find((r) => r.region === 'eu-west')!;
      expect(euRow.stall_ratio).toBeCloseTo(stallOf(eu), 12);
      const w1Ratio = stallOf(eu.filter((s) => s.ts === w1));
      const w2Ratio = stallOf(eu.filter((s) => s.ts === w2));
      expect(Math.abs((euRow.stall_ratio as number) - (w1Ratio + w2Ratio) / 2)).toBeGreaterThan(1e-4); // not an average of window ratios
      expect(euRow.packet_loss).toBeCloseTo(lossOf(eu), 12);
      expect(euRow.peak_concurrency).toBe(1500);
      expect(euRow.samples).toBe(eu.length + 4);
      expect(table.find((r) => r.region === 'ap-east')!.stall_ratio).toBeCloseTo(stallOf([...first, ...second].filter((s) => s.region === 'ap-east')), 12);
      const perWindow = result('qos-overview.json', 'Stall ratio / A').filter((r) => r.region === 'eu-west');
      expect(perWindow.map((r) => r.stall_ratio as number).sort()).toEqual([w1Ratio, w2Ratio].sort().map((x) => expect.closeTo(x, 12)));

      const byIsp = result('region-drilldown.json', 'By ISP / A');
      expect(byIsp.map((r) => r.value).sort()).toEqual(ISPS);
      for (const isp of ISPS) expect(byIsp.find((r) => r.value === isp)!.stall_ratio).toBeCloseTo(stallOf(eu.filter((s) => s.dims.isp === isp)), 12);
      expect(result('region-drilldown.json', '$value').map((r) => r.value).sort()).toEqual(ISPS);
      expect(result('region-drilldown.json', 'By platform / A').map((r) => r.value).sort()).toEqual(['ios', 'web']);

      const sla = result('incidents-sla.json', 'SLA attainment by tier and target / A');
      expect(sla.map((r) => [r.tier, r.priority, r.target, r.attainment, r.clocks]).sort()).toEqual([['strategic', 'P1', 'response', 0, 1], ['strategic', 'P1', 'restore', 1, 1]]);
      expect(result('incidents-sla.json', 'Latest breaches / A')).toEqual([expect.objectContaining({ tier: 'strategic', priority: 'P1', target: 'response', target_ms: 1200 })]);
      expect(result('incidents-sla.json', 'Incidents opened / A').reduce((a, r) => a + ((r.opened as number) ?? 0), 0)).toBe(1);
      expect(result('incidents-sla.json', 'Open incidents / A').some((r) => r.priority === 'P1' && r.open === 1)).toBe(true);
      expect(result('qos-overview.json', 'annotation Incidents').map((r) => r.incident)).toContain(inc.id);
      // The annotation's text links to the incident in the console (QOSWATCH_PUBLIC_URL unset: localhost and PORT).
      expect(result('qos-overview.json', 'annotation Incidents').map((r) => r.annotation)).toContainEqual(
        expect.stringContaining(`<a href="http://localhost:${t.env.PORT}/console/#/incidents/${inc.id}">Incident #${inc.id} in qoswatch</a>`),
      );
      // The overview's data links read the region from each series' labels and the table's region column.
      expect(perWindow.length).toBeGreaterThan(0);

      expect(result('qoswatch-health.json', 'Samples rejected / s / A').every((r) => r.reason !== undefined)).toBe(true);
      expect(result('qoswatch-health.json', 'Requests refused / s / A').map((r) => r.reason)).toContain('unauthorized');
      expect(result('qoswatch-health.json', 'Page deliveries / s by outcome / A').map((r) => `${r.channel}:${r.outcome}`)).toContain('webhook:delivered');
    } finally {
      await t.close();
    }
  });
});

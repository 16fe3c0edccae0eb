import { describe, expect, it } from 'vitest';
import { VERSION } from '../../src/app.js';
import { Metrics } from '../../src/metrics.js';
import { appsClosedAfterEach } from '../helpers/app.js';
import { metricValue, metricsText } from '../helpers/metrics.js';

/** Metric families of the exposition by `# TYPE`, with their sample lines. */
function families(text: string): Map<string, { type: string; samples: string[] }> {
  const out = new Map<string, { type: string; samples: string[] }>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) out.set(type[1]!, { type: type[2]!, samples: [] });
    else if (line && !line.startsWith('#')) {
      const name = /^[^{ ]+/.exec(line)![0];
      const family = out.get(name) ?? out.get(name.replace(/_(bucket|sum|count)$/, ''));
      family?.samples.push(line);
    }
  }
  return out;
}

describe('Metrics', () => {
  const start = appsClosedAfterEach();

  it('gives every counter a sample from the start, but those labelled by tenant (tenants come and go at run time)', async () => {
    const t = await start();
    const text = await metricsText(t.url);
    const fams = families(text);
    const counters = [...fams].filter(([, f]) => f.type === 'counter');
    expect(counters.length).toBeGreaterThan(30);
    // The exposition names no label of a counter without samples: the metrics say which are per tenant (prom-client
    // keeps `labelNames` on each, outside its types).
    const perTenant = new Metrics().registry
      .getMetricsAsArray()
      .filter((m) => (Reflect.get(m, 'labelNames') as readonly string[]).includes('tenant'))
      .map((m) => m.name);
    expect(perTenant).toContain('qoswatch_pages_held_total');
    const silent = counters.filter(([name, f]) => !perTenant.includes(name) && f.samples.length === 0).map(([name]) => name);
    expect(silent).toEqual([]);
    // Closed label sets: every value at 0 before its first event (absent() and rate() see 0).
    expect(metricValue(text, 'qoswatch_samples_rejected_total{reason="too_old"}')).toBe(0);
    expect(metricValue(text, 'qoswatch_batches_total{transport="cmcd",outcome="error"}')).toBe(0);
    expect(metricValue(text, 'qoswatch_requests_refused_total{transport="ws",reason="too_many_connections"}')).toBe(0);
    expect(metricValue(text, 'qoswatch_ws_closes_total{code="1013"}')).toBe(0);
    expect(metricValue(text, 'qoswatch_incident_events_total{kind="opened"}')).toBe(0);
    expect(metricValue(text, 'qoswatch_pages_total{channel="slack",outcome="failed"}')).toBe(0);
    expect(metricValue(text, 'qoswatch_dim_values_folded_total{dim="region"}')).toBe(0);
  });

  it('starts each closed counter with every combination of its label values, at 0', async () => {
    const { values } = await new Metrics().batches.get();
    // 3 transports × 4 outcomes.
    expect(values).toHaveLength(12);
    expect(values.every((s) => s.value === 0)).toBe(true);
    expect(new Set(values.map((s) => `${s.labels.transport}/${s.labels.outcome}`)).size).toBe(12);
  });

  it('counts from the initial 0 and says which build runs', async () => {
    const m = new Metrics();
    m.samplesAccepted.inc({ transport: 'ws' }, 3);
    const text = await m.registry.metrics();
    expect(metricValue(text, 'qoswatch_samples_accepted_total{transport="ws"}')).toBe(3);
    expect(metricValue(text, 'qoswatch_samples_accepted_total{transport="http"}')).toBe(0);
    expect(metricValue(text, `qoswatch_build_info{version="${VERSION}",node_version="${process.version}"}`)).toBe(1);
    expect(families(text).get('qoswatch_build_info')?.type).toBe('gauge');
  });

  it("leaves out prom-client's gauges named like counters (promtool: non-counter metrics should not have _total suffix)", async () => {
    const fams = families(await new Metrics().registry.metrics());
    expect(fams.has('nodejs_eventloop_lag_seconds')).toBe(true);
    const misnamed = [...fams].filter(([name, f]) => name.endsWith('_total') && f.type !== 'counter').map(([name]) => name);
    expect(misnamed).toEqual([]);
  });
});

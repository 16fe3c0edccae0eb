import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { SelfMetricPoints, intervalQuantile } from '../../src/storage/influx/self-metric-points.js';

describe('self metrics as line protocol', () => {
  it('interpolates an interval quantile inside its bucket, and caps the +Inf bucket at the highest bound', () => {
    const bounds = [0.01, 0.1, 1, Infinity];
    // 10 observations ≤ 0.01, 10 in (0.01, 0.1]: cumulative [10, 20, 20, 20].
    expect(intervalQuantile(bounds, [10, 20, 20, 20], 0.5)).toBeCloseTo(0.01, 12);
    expect(intervalQuantile(bounds, [10, 20, 20, 20], 0.75)).toBeCloseTo(0.01 + 0.09 * 0.5, 12);
    expect(intervalQuantile(bounds, [0, 0, 0, 4], 0.99)).toBe(1);
    expect(intervalQuantile(bounds, [0, 0, 0, 0], 0.5)).toBeUndefined();
  });

  it('writes counters cumulative with labels as tags, and histogram tails of each interval only', async () => {
    const registry = new Registry();
    const accepted = new Counter({ name: 'qoswatch_samples_accepted_total', help: 'x', labelNames: ['transport'], registers: [registry] });
    const lag = new Histogram({ name: 'qoswatch_rule_evaluation_lag_seconds', help: 'x', buckets: [0.01, 0.1, 1], registers: [registry] });
    new Counter({ name: 'other_total', help: 'not ours', registers: [registry] }).inc();
    const points = new SelfMetricPoints();
    accepted.inc({ transport: 'http' }, 5);
    for (let i = 0; i < 100; i++) lag.observe(0.5);
    const first = points.lines(await registry.getMetricsAsJSON(), 'host-1', 1000);
    expect(first).toContain('qoswatch_samples_accepted_total,instance=host-1,transport=http value=5 1000000000');
    expect(first.find((l) => l.startsWith('qoswatch_rule_evaluation_lag_seconds'))).toMatch(/^qoswatch_rule_evaluation_lag_seconds,instance=host-1 count=100i,sum=50,p50=0\.55,p99=0\.991(0000000000001)? 1000000000$/);
    expect(first.some((l) => l.startsWith('other_total'))).toBe(false);

    // The next interval has only fast observations: its p99 must not remember the slow ones.
    for (let i = 0; i < 10; i++) lag.observe(0.005);
    const second = points.lines(await registry.getMetricsAsJSON(), 'host-1', 2000);
    const l = second.find((x) => x.startsWith('qoswatch_rule_evaluation_lag_seconds'))!;
    expect(l).toContain('count=110i');
    expect(Number(/p99=([\d.e-]+)/.exec(l)![1])).toBeLessThanOrEqual(0.01);
    // An interval without observations has no tail fields at all.
    expect(points.lines(await registry.getMetricsAsJSON(), 'host-1', 3000).find((x) => x.startsWith('qoswatch_rule_evaluation_lag_seconds'))).not.toMatch(/p50|p99/);
  });
});

import { hostname } from 'node:os';
import fp from 'fastify-plugin';
import type { Metrics } from '../../metrics.js';
import { SelfMetricPoints } from './self-metric-points.js';

/**
 * Every interval, the service's own /metrics figures go to InfluxDB with the rollups (through the same spool),
 * so that the health board needs no Prometheus. Off when the interval is 0 (app.ts passes 0 without InfluxDB).
 */
export const selfMetricsPlugin = fp<{ metrics: Metrics; intervalMs: number; clock: () => number }>(
  async (app, { metrics, intervalMs, clock }) => {
    if (intervalMs === 0) return;
    const points = new SelfMetricPoints();
    const instance = hostname();
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      metrics.registry
        .getMetricsAsJSON()
        .then((snapshot) => app.points.enqueue(points.lines(snapshot, instance, clock())))
        .catch((err: unknown) => app.log.warn({ err }, 'self metrics: snapshot failed'))
        .finally(() => (busy = false));
    }, intervalMs);
    timer.unref();
    app.addHook('onClose', async () => clearInterval(timer));
  },
  { name: 'qoswatch-self-metrics', dependencies: ['qoswatch-storage'] },
);

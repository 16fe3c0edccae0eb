import fp from 'fastify-plugin';
import type { Metrics } from '../metrics.js';
import { LoopLag } from '../telemetry/loop-lag.js';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Why a request should be shed before any work is spent on it (the loop is saturated), or undefined. Callers
     * refuse when it answers, so each answer is counted as shed (cause event_loop).
     */
    loopBusy: () => string | undefined;
  }
}

/**
 * One probe of the event loop for every shedding point (telemetry, the tenant view): once a turn has spent `maxMs`
 * and taken many requests in a loop that has been busy most of the last second, the rest of its requests are
 * refused cheaply rather than queued behind it. A long turn after a pause (a throttled or descheduled process) or
 * of a few slow requests sheds nothing (telemetry/loop-lag.ts). 0 turns it off; the loop's utilization is on
 * /metrics either way.
 */
export const loopBusyPlugin = fp<{ maxMs: number; metrics: Metrics }>(
  async (app, { maxMs, metrics }) => {
    const lag = new LoopLag();
    lag.start();
    app.addHook('onClose', async () => lag.stop());
    (metrics.eventLoopUtilization as unknown as { collect: () => void }).collect = () => metrics.eventLoopUtilization.set(lag.utilization());
    app.decorate('loopBusy', () => {
      const why = maxMs > 0 ? lag.take(maxMs) : undefined;
      if (why) metrics.shed.inc({ cause: 'event_loop' });
      return why;
    });
  },
  { name: 'qoswatch-loop-busy' },
);

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
 * One probe of the event loop for every shedding point (telemetry, the tenant view): once every turn has spent
 * `maxMs` for a second, the rest of each such turn's requests are refused cheaply rather than queued behind it. A
 * long turn after a pause (a throttled or descheduled process) sheds nothing (telemetry/loop-lag.ts). 0 turns it
 * off.
 */
export const loopBusyPlugin = fp<{ maxMs: number; metrics: Metrics }>(
  async (app, { maxMs, metrics }) => {
    const lag = maxMs > 0 ? new LoopLag(maxMs) : undefined;
    if (lag) {
      lag.start();
      app.addHook('onClose', async () => lag.stop());
    }
    app.decorate('loopBusy', () => {
      const why = lag?.busy();
      if (why) metrics.shed.inc({ cause: 'event_loop' });
      return why;
    });
  },
  { name: 'qoswatch-loop-busy' },
);

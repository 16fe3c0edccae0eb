import fp from 'fastify-plugin';
import { LoopLag } from '../telemetry/loop-lag.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Why requests should be shed before any work is spent on them (the loop's turn is over budget), or undefined. */
    loopBusy: () => string | undefined;
  }
}

/**
 * One probe of the event loop's current turn for every shedding point (telemetry, the tenant view): once a turn
 * has spent `maxMs`, the rest of its requests are refused cheaply rather than queued behind it. 0 turns it off.
 */
export const loopBusyPlugin = fp<{ maxMs: number }>(
  async (app, { maxMs }) => {
    const lag = maxMs > 0 ? new LoopLag() : undefined;
    if (lag) {
      lag.start();
      app.addHook('onClose', async () => lag.stop());
    }
    app.decorate('loopBusy', () => {
      const ms = lag?.turnMs() ?? 0;
      return ms > maxMs ? `event loop busy for ${Math.round(ms)} ms` : undefined;
    });
  },
  { name: 'qoswatch-loop-busy' },
);

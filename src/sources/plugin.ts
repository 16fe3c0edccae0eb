import fp from 'fastify-plugin';
import type { Metrics } from '../metrics.js';
import { Sources } from './sources.js';

declare module 'fastify' {
  interface FastifyInstance {
    sources: Sources;
  }
}

/** How often the heartbeat watch looks for missed pings. */
const HEARTBEAT_CHECK_MS = 1000;

/**
 * Alert sources, and the watch of heartbeats: a leader's duty (in a cluster, one node judges the pings every node
 * takes).
 */
export const sourcesPlugin = fp<{ metrics: Metrics; clock: () => number }>(
  async (app, { metrics, clock }) => {
    const sources = new Sources({
      state: app.state, incidents: app.incidents, tenants: app.tenants, bus: app.incidentBus,
      count: (kind, outcome) => metrics.sourceAlerts.inc({ kind, outcome }),
    });
    let timer: NodeJS.Timeout | undefined;
    let running = false;
    app.leadership.duty('heartbeat watch', {
      start: () => {
        const since = clock();
        timer = setInterval(() => {
          if (running) return;
          running = true;
          sources
            .checkHeartbeats(clock(), since)
            .catch((err: unknown) => app.log.error({ err }, 'cannot check heartbeats; retrying'))
            .finally(() => (running = false));
        }, HEARTBEAT_CHECK_MS);
      },
      stop: () => clearInterval(timer),
    });
    app.decorate('sources', sources);
  },
  { name: 'qoswatch-sources', dependencies: ['qoswatch-storage', 'qoswatch-tenants', 'qoswatch-incidents', 'qoswatch-coordination'] },
);

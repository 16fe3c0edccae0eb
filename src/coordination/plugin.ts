import fp from 'fastify-plugin';
import type { Metrics } from '../metrics.js';
import { type LeadershipRun, LocalLeadership } from './leadership.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Where the plugins that own singleton duties hand them over (they run while this node leads). */
    leadership: LeadershipRun;
  }
}

/** The leadership of the embedded mode, for the plugins registered after it to hand their duties to. */
export const coordinationPlugin = fp<{ metrics: Metrics }>(
  async (app, { metrics }) => {
    const leadership = new LocalLeadership(app.log);
    (metrics.leader as unknown as { collect: () => void }).collect = () => metrics.leader.set(leadership.isLeader() ? 1 : 0);
    app.decorate('leadership', leadership);
  },
  { name: 'qoswatch-coordination' },
);

/**
 * Runs the duties from the app's ready to its close. Its hooks sit after those of the plugins it depends on: the
 * duties start after the alerting loop and stop before its final pass (whose incident events the followers take up
 * from their cursors at the next start, as before), and the mailer closes only once no duty sends with it.
 */
export const leaderDutiesPlugin = fp(
  async (app) => {
    app.addHook('onReady', () => app.leadership.start());
    app.addHook('onClose', () => app.leadership.stop());
  },
  { name: 'qoswatch-leader-duties', dependencies: ['qoswatch-coordination', 'qoswatch-rules', 'qoswatch-pager'] },
);

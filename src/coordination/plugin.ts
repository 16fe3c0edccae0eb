import fp from 'fastify-plugin';
import type { Nats } from '../cluster/nats.js';
import type { Env, Role } from '../config/env.js';
import type { Metrics } from '../metrics.js';
import { type LeadershipRun, LocalLeadership, NoLeadership } from './leadership.js';
import { natsOptions } from './nats-options.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Where the plugins that own singleton duties hand them over (they run while this node leads). */
    leadership: LeadershipRun;
    /** What this node does: every role in the embedded mode; QOSWATCH_ROLES in a cluster. */
    roles: readonly Role[];
    /** The embedded mode: this process's own pipeline takes the telemetry and its rule engine evaluates it. */
    embedded: boolean;
    /** A cluster node's NATS connection, streams and buckets (collectors and workers; undefined otherwise). */
    nats: Nats | undefined;
  }
}

/**
 * Who leads and who works: the embedded mode's one process does everything; in a cluster, a node with the leader role
 * campaigns for a PostgreSQL advisory lock (PgLeadership, loaded only then), and collectors and workers connect to
 * NATS, where the raw log and the partition leases are (cluster/, loaded only then).
 */
export const coordinationPlugin = fp<{ metrics: Metrics; env: Env }>(
  async (app, { metrics, env }) => {
    const cluster = env.QOSWATCH_MODE === 'cluster';
    const roles: readonly Role[] = cluster ? env.QOSWATCH_ROLES : ['collector', 'worker', 'leader'];
    let leadership: LeadershipRun = new LocalLeadership(app.log);
    let nats: Nats | undefined;
    if (cluster) {
      const pgl = await import('./pg-leadership.js');
      leadership = roles.includes('leader')
        ? new pgl.PgLeadership(
            {
              url: env.DATABASE_URL!, lockKey: pgl.lockKeyOf(env.DATABASE_SCHEMA, 'leader'), checkMs: env.QOSWATCH_LEADER_CHECK, timeoutMs: 3 * env.QOSWATCH_LEADER_CHECK,
              onChange: (leading) => metrics.leaderChanges.inc({ to: leading ? 'leader' : 'standby' }),
            },
            app.log,
          )
        : new NoLeadership(app.log);
      const { LEADER_KEY } = await import('./cluster-cli.js');
      // Who leads, for `qoswatch cluster status` (the lock says whether it still does).
      const record = () => app.state.meta.set(LEADER_KEY, JSON.stringify({ node: env.QOSWATCH_NODE_ID, since: Date.now() }));
      leadership.duty('leader record', { start: record, stop: () => {} });
      if (roles.includes('collector') || roles.includes('worker')) {
        const { openNats } = await import('../cluster/nats.js');
        nats = await openNats(natsOptions(env));
        // Closed last (hooks run in reverse): the workers release their leases through it first.
        app.addHook('onClose', () => nats!.close());
      }
    }
    (metrics.leader as unknown as { collect: () => void }).collect = () => metrics.leader.set(leadership.isLeader() ? 1 : 0);
    app.decorate('leadership', leadership);
    app.decorate('roles', roles);
    app.decorate('embedded', !cluster);
    app.decorate('nats', nats);
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

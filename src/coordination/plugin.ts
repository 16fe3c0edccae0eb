import fp from 'fastify-plugin';
import type { Env } from '../config/env.js';
import type { Metrics } from '../metrics.js';
import { type LeadershipRun, LocalLeadership, NoLeadership } from './leadership.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Where the plugins that own singleton duties hand them over (they run while this node leads). */
    leadership: LeadershipRun;
    /** Whether this node takes telemetry and evaluates the rules (always, in the embedded mode). */
    isWorker: boolean;
  }
}

/**
 * Who leads and who works: the embedded mode's one process does both; in a cluster, a node with the leader role
 * campaigns for a PostgreSQL advisory lock (PgLeadership, loaded only then), and the node with the worker role holds
 * the worker lock for its life.
 */
export const coordinationPlugin = fp<{ metrics: Metrics; env: Env }>(
  async (app, { metrics, env }) => {
    const cluster = env.QOSWATCH_MODE === 'cluster';
    const roles = cluster ? env.QOSWATCH_ROLES : ['worker', 'leader'];
    let leadership: LeadershipRun = new LocalLeadership(app.log);
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
      const { LEADER_KEY, WORKER_KEY } = await import('./cluster-cli.js');
      // Who holds a role, for `qoswatch cluster status` (the lock says whether it still does).
      const record = (key: string) => app.state.meta.set(key, JSON.stringify({ node: env.QOSWATCH_NODE_ID, since: Date.now() }));
      if (roles.includes('worker')) {
        const lock = await pgl.holdWorkerLock(env.DATABASE_URL!, pgl.lockKeyOf(env.DATABASE_SCHEMA, 'worker'), (err) => {
          app.log.fatal({ err: err.message }, 'the worker lock session was lost: shutting down rather than evaluate beside another worker');
          process.kill(process.pid, 'SIGTERM');
        });
        app.addHook('onClose', () => lock.release());
        await record(WORKER_KEY);
      }
      leadership.duty('leader record', { start: () => record(LEADER_KEY), stop: () => {} });
    }
    (metrics.leader as unknown as { collect: () => void }).collect = () => metrics.leader.set(leadership.isLeader() ? 1 : 0);
    app.decorate('leadership', leadership);
    app.decorate('isWorker', roles.includes('worker'));
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

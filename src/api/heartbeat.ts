import fp from 'fastify-plugin';
import type { Env } from '../config/env.js';
import type { Metrics } from '../metrics.js';
import { type ReadyRole, notReady } from './health.js';

/** What became of a due heartbeat: answered 2xx, failed (another status, no answer, timeout), or skipped (not ready). */
export const HEARTBEAT_OUTCOMES = ['sent', 'failed', 'skipped'] as const;
export type HeartbeatOutcome = (typeof HEARTBEAT_OUTCOMES)[number];

/** A ping gets at most this long (or the interval, when shorter) to be answered. */
const TIMEOUT_MS = 10_000;

/** The /readyz role behind each of a node's roles; `api` (the state store answers) always. */
const READY_ROLE = { collector: 'telemetry', worker: 'worker', leader: 'leader' } as const;

/**
 * qoswatch's own heartbeat: while this node leads (the one that pages: a singleton duty) and passes /readyz for every
 * role it has, it GETs QOSWATCH_HEARTBEAT_URL every QOSWATCH_HEARTBEAT_INTERVAL — so a heartbeat service (or a second
 * qoswatch) notices a pager that is down, stuck or unable to page. Only the leader pings: a standby's pings would
 * keep the check green while nobody pages. The URL holds a secret (a `?token=`, or a path like healthchecks.io's),
 * so only its origin is ever logged.
 */
export const heartbeatPlugin = fp<{ env: Env; metrics: Metrics }>(
  async (app, { env, metrics }) => {
    const url = env.QOSWATCH_HEARTBEAT_URL;
    if (!url) return;
    const every = env.QOSWATCH_HEARTBEAT_INTERVAL;
    const origin = new URL(url).origin;
    const roles: ReadyRole[] = ['api', ...app.roles.map((r) => READY_ROLE[r])];
    let last: HeartbeatOutcome | undefined;

    /** Why this node is not ready for one of its roles, from the checks /readyz runs. */
    const unready = async (): Promise<string | undefined> => {
      for (const role of roles) {
        const why = await notReady(app, role);
        if (why) return `${role}: ${why}`;
      }
      return undefined;
    };

    const ping = async (): Promise<{ outcome: HeartbeatOutcome; detail?: string }> => {
      const why = await unready().catch((err: unknown) => `the readiness check failed: ${err instanceof Error ? err.message : String(err)}`);
      if (why) return { outcome: 'skipped', detail: why };
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(Math.min(TIMEOUT_MS, every)), headers: { 'user-agent': 'qoswatch-heartbeat' } });
        await res.body?.cancel();
        return res.ok ? { outcome: 'sent' } : { outcome: 'failed', detail: `answered ${res.status}` };
      } catch (err) {
        // fetch's errors name the address at most (their cause), never the path or query.
        const cause = err instanceof Error ? ((err.cause as { code?: string } | undefined)?.code ?? err.name) : String(err);
        return { outcome: 'failed', detail: cause };
      }
    };

    let timer: NodeJS.Timeout | undefined;
    /** Bumped by each start and stop: a beat in flight across a stop (and a new start) schedules no second loop. */
    let generation = 0;
    const beat = async (gen: number) => {
      const { outcome, detail } = await ping();
      metrics.heartbeatPings.inc({ outcome });
      if (gen !== generation) return;
      // A line when it changes, not one a minute.
      if (outcome !== last) {
        if (outcome === 'sent') app.log.info({ to: origin }, 'heartbeat: pings are answered');
        else if (outcome === 'failed') app.log.warn({ to: origin, detail }, 'heartbeat: the ping failed');
        else app.log.warn({ detail }, 'heartbeat: not pinging while this node is not ready');
        last = outcome;
      }
      timer = setTimeout(() => void beat(gen), every);
    };

    app.leadership.duty('heartbeat', {
      start: () => {
        app.log.info({ to: origin, every_ms: every }, 'heartbeat: pinging QOSWATCH_HEARTBEAT_URL while this node leads and is ready');
        void beat(++generation);
      },
      stop: () => {
        generation++;
        last = undefined;
        clearTimeout(timer);
      },
    });
  },
  { name: 'qoswatch-heartbeat', dependencies: ['qoswatch-coordination', 'qoswatch-pipeline'] },
);

import { existsSync } from 'node:fs';
import fp from 'fastify-plugin';
import type { Env } from '../config/env.js';
import { EMPTY_ONCALL, loadOnCall, unreachablePeople } from './config.js';
import { OnCallService } from './oncall.js';

declare module 'fastify' {
  interface FastifyInstance {
    oncall: OnCallService;
  }
}

export const DEFAULT_ONCALL_FILE = './oncall.yaml';

/** The on-call file in force: QOSWATCH_ONCALL, else ./oncall.yaml when present. */
export function onCallPath(env: Pick<Env, 'QOSWATCH_ONCALL'>): string | undefined {
  return env.QOSWATCH_ONCALL ?? (existsSync(DEFAULT_ONCALL_FILE) ? DEFAULT_ONCALL_FILE : undefined);
}

/** Loads the on-call file (an invalid one, or a P0/P1 coverage gap, stops the start). */
export const onCallPlugin = fp<{ env: Env; clock: () => number }>(
  async (app, { env, clock }) => {
    const path = onCallPath(env);
    const config = path ? loadOnCall(path, clock()) : EMPTY_ONCALL;
    if (!path) app.log.warn(`no ${DEFAULT_ONCALL_FILE} and QOSWATCH_ONCALL is not set: nobody is on call`);
    else app.log.info({ file: path, people: config.people.size, schedules: config.schedules.size, policies: config.policies.size }, 'on-call configuration loaded');
    const unreachable = unreachablePeople(config);
    if (unreachable.length) app.log.warn({ people: unreachable }, 'people on P0/P1 escalations have no email and no chat channel: they cannot be paged');
    app.decorate('oncall', await OnCallService.load(app.state.overrides, config));
  },
  { name: 'qoswatch-oncall', dependencies: ['qoswatch-storage'] },
);

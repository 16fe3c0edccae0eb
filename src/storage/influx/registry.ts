import type { Env } from '../../config/env.js';
import { ConfigError } from '../../config/env.js';
import type { InfluxSink } from './sink.js';
import { createV1Sink } from './v1.js';
import { createV2Sink } from './v2.js';

interface SinkDefinition {
  /** Variables this API needs besides INFLUX_URL. */
  required: readonly (keyof Env)[];
  create(env: Env & { INFLUX_URL: string }): InfluxSink;
}

/**
 * One entry per value of INFLUX_API: adding a value to the env schema is a compile error here until its sink
 * exists.
 */
export const SINKS: Record<Env['INFLUX_API'], SinkDefinition> = {
  v1: {
    required: ['INFLUX_DB'],
    create: (e) => createV1Sink({ url: e.INFLUX_URL, db: e.INFLUX_DB!, rp: e.INFLUX_RP, user: e.INFLUX_USER, password: e.INFLUX_PASSWORD, timeoutMs: e.INFLUX_TIMEOUT }),
  },
  v2: {
    required: ['INFLUX_ORG', 'INFLUX_BUCKET'],
    create: (e) => createV2Sink({ url: e.INFLUX_URL, org: e.INFLUX_ORG!, bucket: e.INFLUX_BUCKET!, token: e.INFLUX_TOKEN, timeoutMs: e.INFLUX_TIMEOUT, maxLines: e.INFLUX_BATCH_LINES }),
  },
};

/** The configured sink, or undefined when INFLUX_URL is unset (aggregation and evaluation only). */
export function createSink(env: Env): InfluxSink | undefined {
  if (!env.INFLUX_URL) return undefined;
  const def = SINKS[env.INFLUX_API];
  const missing = def.required.filter((n) => !env[n]);
  if (missing.length) {
    throw new ConfigError(`invalid environment:\n${missing.map((n) => `  ${n}: required when INFLUX_URL is set and INFLUX_API=${env.INFLUX_API}`).join('\n')}`);
  }
  return def.create({ ...env, INFLUX_URL: env.INFLUX_URL });
}

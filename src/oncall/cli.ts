import { ConfigError, loadEnv } from '../config/env.js';
import { loadOnCall, unreachablePeople } from './config.js';
import { onCallPath } from './plugin.js';
import { type Incident, formatPagingPlan, pagingPlan } from './route-test.js';
import { onCallAt } from './schedule.js';

/** `qoswatch oncall check [file]` and `qoswatch oncall who [--at time] [file]` (API overrides are not included). */
export function onCallCommand(sub: string | undefined, file: string | undefined, at: string | undefined): number {
  let path = file;
  try {
    path ??= onCallPath(loadEnv());
    if (!path) throw new ConfigError('no on-call file: pass one, set QOSWATCH_ONCALL, or create ./oncall.yaml');
    const now = Date.now();
    const config = loadOnCall(path, now);
    if (sub === 'check') {
      const unreachable = unreachablePeople(config);
      if (unreachable.length) process.stderr.write(`warning: ${unreachable.join(', ')} can be paged for P0/P1 but have no email and no chat channel\n`);
      process.stdout.write(`${path}: valid (${config.people.size} people, ${config.channels.size} channels, ${config.schedules.size} schedules, ${config.policies.size} escalation policies; P0/P1 schedules covered for the next 28 days)\n`);
      return 0;
    }
    const t = at === undefined ? now : /^\d+$/.test(at) ? Number(at) : Date.parse(at);
    if (!Number.isFinite(t)) throw new ConfigError(`--at: "${at}" is not a time (use RFC 3339, e.g. 2026-12-01T03:00:00Z)`);
    process.stdout.write(`on call at ${new Date(t).toISOString()}:\n`);
    for (const [id, s] of config.schedules) {
      const who = onCallAt(s, t);
      const p = who && config.people.get(who.person);
      process.stdout.write(`  ${id}: ${who ? `${p?.name ?? who.person} (${who.person}${p?.email ? `, ${p.email}` : ''}) via ${who.source}` : 'NOBODY'}\n`);
    }
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return 1;
  }
}

/**
 * `qoswatch oncall test --tenant T [--region R] --priority P [--at time] [file]`: which policy an incident with these
 * labels gets and whom each escalation step pages, opened at `at` (API overrides are not included). Exit 0 with the
 * answer, even "nobody is paged"; 1 when the file is invalid.
 */
export function onCallTestCommand(file: string | undefined, incident: Incident, at: number | undefined): number {
  try {
    const path = file ?? onCallPath(loadEnv());
    if (!path) throw new ConfigError('no on-call file: pass one, set QOSWATCH_ONCALL, or create ./oncall.yaml');
    const now = Date.now();
    const config = loadOnCall(path, now);
    const openedAt = at ?? now;
    process.stdout.write(formatPagingPlan(config, incident, openedAt, pagingPlan(config, incident, openedAt)));
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return 1;
  }
}

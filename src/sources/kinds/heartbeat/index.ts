import { z } from 'zod';
import { sourceKind } from '../../kind.js';
import { MAX_UNIT_TEXT, parseDuration } from '../../../util/units.js';

/** A duration kept as written ("5m": what the API shows back), between 1 s and 30 days. */
const duration = z
  .string()
  .max(MAX_UNIT_TEXT)
  .refine((d) => {
    const ms = parseDuration(d);
    return ms !== undefined && ms >= 1000 && ms <= 30 * 86_400_000;
  }, 'must be a duration between 1s and 30d, such as 30s, 5m or 1h');

export const heartbeatConfig = z.strictObject({
  period: duration.describe('how often the job pings'),
  grace: duration.default('1m').describe('how late a ping may be before the alert fires'),
  summary: z.string().min(1).max(200).optional().describe('what the alert says (default: "no heartbeat from <name>")'),
});
export type HeartbeatConfig = z.output<typeof heartbeatConfig>;

/** How long after a ping (or the watch's start) the alert fires. */
export const deadlineMs = (c: HeartbeatConfig): number => parseDuration(c.period)! + parseDuration(c.grace)!;

/**
 * A dead man's switch: the monitored job pings the source's URL at least every `period`; no ping for `period` +
 * `grace` fires an alert, and the next ping clears it. It posts no alerts: the heartbeat watch judges its pings.
 */
export const heartbeat = sourceKind({
  title: "Heartbeat (a monitored job's dead man's switch)",
  config: heartbeatConfig,
});

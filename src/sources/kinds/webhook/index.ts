import { z } from 'zod';
import { sourceKind } from '../../kind.js';
import { type IncomingAlert, LIMITS, boundLabels, cut } from '../../model.js';
import { parsePath, readPath } from './path.js';

const path = z.string().min(1).max(256).refine((p) => parsePath(p) !== undefined, 'must be a field path such as alert.id, events[0].id or data["host name"]');
const words = z.array(z.string().min(1).max(64)).min(1).max(32);

/** Where the generic webhook finds each part of an alert in the JSON it is sent. */
const configSchema = z.strictObject({
  alerts: path.optional().describe('the array of alerts; absent: the body is one alert'),
  fingerprint: path.describe("the alert's identity (its dedup key)"),
  status: path.optional().describe('firing or resolved (see firing/resolved); absent: every alert is firing'),
  firing: words.default(['firing', 'trigger', 'triggered', 'alerting', 'problem', 'open', 'critical', 'error', 'warning']),
  resolved: words.default(['resolved', 'resolve', 'ok', 'recovered', 'recovery', 'closed', 'normal']),
  acknowledged: words.default(['acknowledged', 'acknowledge', 'ack']),
  summary: path.optional().describe('the text of the alert (default: its fingerprint)'),
  severity: path.optional(),
  url: path.optional(),
  labels: z.record(z.string().min(1).max(LIMITS.labelName), path).default({}).describe('label name → field path (tenant, region, priority, severity and any other)'),
});
type Config = z.output<typeof configSchema>;

const scalar = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined);

/** Reads one alert out of its part of the body; an alert without a fingerprint or status is named in the error. */
function toIncoming(item: unknown, c: Config, where: string): IncomingAlert {
  const at = (p: string | undefined) => (p === undefined ? undefined : scalar(readPath(item, parsePath(p)!)));
  const fingerprint = at(c.fingerprint);
  if (!fingerprint) throw new Error(`${where}${c.fingerprint}: the fingerprint is missing (or not a string or number)`);
  const status = c.status === undefined ? 'firing' : at(c.status)?.toLowerCase();
  const action = status === undefined ? undefined : c.firing.includes(status) ? 'trigger' : c.resolved.includes(status) ? 'resolve' : c.acknowledged.includes(status) ? 'acknowledge' : undefined;
  if (!action) throw new Error(`${where}${c.status}: "${cut(status ?? '', 64)}" is none of firing (${c.firing.join(', ')}), resolved (${c.resolved.join(', ')}) or acknowledged (${c.acknowledged.join(', ')})`);
  const labels = boundLabels(Object.fromEntries(Object.entries(c.labels).map(([k, p]) => [k, at(p)])));
  const severity = at(c.severity);
  const url = at(c.url);
  return {
    fingerprint: cut(fingerprint, LIMITS.fingerprint), action, labels, summary: cut(at(c.summary) ?? fingerprint, LIMITS.summary),
    ...(severity !== undefined && { severity: cut(severity, 64) }),
    ...(url !== undefined && { url: cut(url, LIMITS.url) }),
  };
}

export const webhook = sourceKind({
  title: 'Generic JSON webhook (field paths)',
  config: configSchema,
  payload: z.unknown(),
  parse(body, c) {
    if (c.alerts === undefined) return [toIncoming(body, c, '')];
    const list = readPath(body, parsePath(c.alerts)!);
    if (!Array.isArray(list)) throw new Error(`${c.alerts}: not an array of alerts`);
    if (list.length > LIMITS.alerts) throw new Error(`${c.alerts}: at most ${LIMITS.alerts} alerts per payload`);
    return list.map((item, i) => toIncoming(item, c, `${c.alerts}[${i}].`));
  },
});

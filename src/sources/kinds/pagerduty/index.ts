import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { sourceKind } from '../../kind.js';
import { type IncomingAlert, LIMITS, boundLabels, cut } from '../../model.js';

/** The PagerDuty Events API v2 event (`POST /v2/enqueue`); `routing_key` is the source's secret. */
export const eventSchema = z.object({
  routing_key: z.string().min(1).max(256),
  event_action: z.enum(['trigger', 'acknowledge', 'resolve']),
  dedup_key: z.string().min(1).max(LIMITS.fingerprint).optional(),
  payload: z
    .object({
      summary: z.string().min(1).max(LIMITS.summary),
      source: z.string().min(1).max(LIMITS.labelValue),
      severity: z.enum(['critical', 'error', 'warning', 'info']),
      timestamp: z.string().optional(),
      component: z.string().max(LIMITS.labelValue).optional(),
      group: z.string().max(LIMITS.labelValue).optional(),
      class: z.string().max(LIMITS.labelValue).optional(),
      custom_details: z.unknown().optional(),
    })
    .optional(),
  client: z.string().optional(),
  client_url: z.string().optional(),
  links: z.array(z.object({ href: z.string(), text: z.string().optional() })).optional(),
  images: z.array(z.unknown()).optional(),
}).superRefine((e, ctx) => {
  if (e.event_action === 'trigger' && !e.payload) ctx.addIssue({ code: 'custom', path: ['payload'], message: 'a trigger needs a payload (summary, source, severity)' });
  if (e.event_action !== 'trigger' && !e.dedup_key) ctx.addIssue({ code: 'custom', path: ['dedup_key'], message: `${e.event_action} needs the dedup_key of the alert` });
});
export type PagerDutyEvent = z.output<typeof eventSchema>;

/**
 * An Events v2 event as qoswatch reads it: the labels are the payload's source, component, group and class and the
 * flat values of custom_details (where a tenant or region can be named); a trigger without a dedup_key gets one,
 * returned to the sender as PagerDuty does.
 */
export function toIncoming(e: PagerDutyEvent): IncomingAlert {
  const p = e.payload;
  const details = p?.custom_details && typeof p.custom_details === 'object' && !Array.isArray(p.custom_details) ? (p.custom_details as Record<string, unknown>) : {};
  const labels = boundLabels({ ...details, ...(p && { source: p.source, component: p.component, group: p.group, class: p.class }) });
  const url = e.client_url ?? e.links?.[0]?.href;
  return {
    fingerprint: e.dedup_key ?? randomUUID(),
    action: e.event_action,
    labels,
    summary: p ? cut(p.summary, LIMITS.summary) : e.dedup_key!,
    ...(p && { severity: p.severity }),
    ...(url && { url: cut(url, LIMITS.url) }),
  };
}

export const pagerduty = sourceKind({
  title: 'PagerDuty Events API v2 (POST /v2/enqueue)',
  config: z.strictObject({}),
  payload: eventSchema,
  parse: (body) => [toIncoming(body)],
});

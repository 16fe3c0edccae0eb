import { z } from 'zod';
import { sourceKind } from '../../kind.js';
import { type IncomingAlert, LIMITS, boundLabels, cut } from '../../model.js';

const strings = z.record(z.string(), z.string());

/** One alert of Alertmanager's webhook payload (version 4). */
export const alertSchema = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: strings,
  annotations: strings.default({}),
  startsAt: z.string().optional(),
  endsAt: z.string().optional(),
  generatorURL: z.string().optional(),
  fingerprint: z.string().min(1).optional(),
});

/** Alertmanager's `webhook_config` body, version 4: a group of alerts. */
export const payloadSchema = z.object({
  version: z.string().optional(),
  status: z.enum(['firing', 'resolved']).optional(),
  receiver: z.string().optional(),
  groupKey: z.string().optional(),
  alerts: z.array(alertSchema).max(LIMITS.alerts, `at most ${LIMITS.alerts} alerts per payload`),
});

/**
 * An Alertmanager alert as qoswatch reads it: the summary from the `summary` (else `description`) annotation, else
 * the alert name; the runbook from `runbook_url`; without a fingerprint (older senders), the sorted labels are it.
 */
export function toIncoming(a: z.output<typeof alertSchema>, url?: string): IncomingAlert {
  const labels = boundLabels(a.labels);
  const fingerprint = a.fingerprint ?? Object.keys(a.labels).sort().map((k) => `${k}=${a.labels[k]}`).join(',');
  const summary = a.annotations.summary ?? a.annotations.description ?? a.labels.alertname ?? fingerprint;
  return {
    fingerprint: cut(fingerprint, LIMITS.fingerprint),
    action: a.status === 'firing' ? 'trigger' : 'resolve',
    labels,
    summary: cut(summary, LIMITS.summary),
    ...(a.labels.severity !== undefined && { severity: cut(a.labels.severity, 64) }),
    ...((url ?? a.generatorURL) && { url: cut((url ?? a.generatorURL)!, LIMITS.url) }),
    ...(a.annotations.runbook_url !== undefined && { runbook: cut(a.annotations.runbook_url, LIMITS.url) }),
  };
}

export const alertmanager = sourceKind({
  title: 'Prometheus Alertmanager (webhook_config)',
  config: z.strictObject({}),
  payload: payloadSchema,
  parse: (body) => body.alerts.map((a) => toIncoming(a)),
});

import { z } from 'zod';
import { sourceKind } from '../../kind.js';
import { LIMITS } from '../../model.js';
import { alertSchema, toIncoming } from '../alertmanager/index.js';

/** Grafana Alerting's webhook contact point: Alertmanager's payload with Grafana's links on each alert. */
const payloadSchema = z.object({
  version: z.string().optional(),
  status: z.enum(['firing', 'resolved']).optional(),
  title: z.string().optional(),
  alerts: z.array(alertSchema.extend({ panelURL: z.string().optional(), dashboardURL: z.string().optional(), valueString: z.string().optional() })).max(LIMITS.alerts, `at most ${LIMITS.alerts} alerts per payload`),
});

export const grafana = sourceKind({
  title: 'Grafana Alerting (webhook contact point)',
  config: z.strictObject({}),
  payload: payloadSchema,
  // The panel shows what fired; the generator URL (the alert rule's page) when there is none.
  parse: (body) => body.alerts.map((a) => toIncoming(a, a.panelURL || a.dashboardURL || undefined)),
});

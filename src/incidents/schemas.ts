import { z } from 'zod';
import { PRIORITIES } from '../shared/priority.js';
import { INCIDENT_STATES, TIMELINE_KINDS } from './model.js';

const iso = z.string().describe('RFC 3339 time');
const labels = z.record(z.string(), z.string());

export const valuesSchema = z
  .object({
    metric: z.string(),
    value: z.number(),
    threshold: z.string().optional(),
    window_ms: z.number().optional(),
    samples: z.number().optional(),
    sessions: z.number().optional(),
    baseline: z.number().optional(),
    current: z.number().optional(),
    external: z
      .object({
        source: z.string(), kind: z.string(), summary: z.string(), labels, severity: z.string().optional(),
        url: z.string().optional(), runbook: z.string().optional(),
      })
      .optional()
      .describe('an alert from an alert source: what it said (metric is "external")'),
  })
  .meta({ id: 'AlertValues' });

export const incidentSchema = z
  .object({
    id: z.number().int(),
    tenant: z.string(),
    region: z.string().optional(),
    title: z.string(),
    state: z.enum(INCIDENT_STATES),
    priority: z.enum(PRIORITIES),
    silenced: z.boolean().describe('every firing alert is covered by a silence: recorded, not paged'),
    opened_at: iso,
    acknowledged_at: iso.optional(),
    acknowledged_by: z.string().optional(),
    mitigated_at: iso.optional(),
    mitigated_by: z.string().optional(),
    resolved_at: iso.optional(),
    resolved_by: z.string().optional(),
    reopened: z.number().int().describe('times a recurrence within the reopen window brought it back'),
    updated_at: iso,
  })
  .meta({ id: 'Incident' });

export const incidentAlertSchema = z.object({
  rule: z.string(),
  group: z.string(),
  labels,
  priority: z.enum(PRIORITIES),
  firing: z.boolean(),
  silenced: z.boolean(),
  fired_at: iso,
  cleared_at: iso.optional(),
  trigger: valuesSchema.optional(),
});

export const timelineEntrySchema = z.object({
  id: z.number().int(),
  at: iso,
  actor: z.string(),
  kind: z.enum(TIMELINE_KINDS),
  data: z.record(z.string(), z.unknown()).optional(),
});

const csv = <T extends readonly [string, ...string[]]>(values: T) =>
  z
    .string()
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(z.enum(values)));

/** Epoch ms (number or digits) or RFC 3339, within 2000–2100 (null, "", booleans and absurd instants are refused). */
export const timeParam = z
  .union([z.number().int(), z.string().regex(/^\d+$/).transform(Number), z.iso.datetime({ offset: true }).transform((v) => Date.parse(v))], {
    error: 'must be epoch milliseconds or an RFC 3339 time',
  })
  .refine((v) => v >= Date.UTC(2000, 0, 1) && v < Date.UTC(2100, 0, 1), 'must be a time between 2000 and 2100');

export const listQuerySchema = z.strictObject({
  state: csv(INCIDENT_STATES).optional().describe('comma-separated states'),
  priority: csv(PRIORITIES).optional().describe('comma-separated priorities'),
  tenant: z.string().optional(),
  region: z.string().optional(),
  from: timeParam.optional().describe('opened at or after (epoch ms or RFC 3339)'),
  to: timeParam.optional().describe('opened before'),
  before: z.coerce.number().int().positive().optional().describe('paging cursor: incidents with a smaller id (next_before of the previous page)'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export const actorBodySchema = z.strictObject({
  by: z.string().min(1).max(200).optional().describe('admin token only: on whose behalf (recorded on the timeline; default "admin"); people are recorded as themselves'),
  note: z.string().max(10_000).optional(),
});

export const commentBodySchema = z.strictObject({
  by: z.string().min(1).max(200).optional(),
  text: z.string().min(1).max(10_000),
});

export const idParams = z.object({ id: z.coerce.number().int().positive() });

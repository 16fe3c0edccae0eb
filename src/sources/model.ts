import { z } from 'zod';
import { PRIORITIES, type Priority } from '../shared/priority.js';

/**
 * One alert as a source reported it, whatever its format: a parser of each kind (kinds/) makes these. Every string is
 * bounded there — a source's secret can leak, and its payloads reach pages and chat messages.
 */
export interface IncomingAlert {
  /** The source's identity of the alert (Alertmanager's fingerprint, a PagerDuty dedup_key): its group key here. */
  readonly fingerprint: string;
  readonly action: 'trigger' | 'acknowledge' | 'resolve';
  /** The alert's labels, as the source named them (mapping reads tenant, region and priority from them). */
  readonly labels: Readonly<Record<string, string>>;
  readonly summary: string;
  readonly severity?: string;
  readonly url?: string;
  readonly runbook?: string;
}

/** Bounds of what a source may send. */
export const LIMITS = {
  /** Alerts in one payload (Alertmanager sends a group at once). */
  alerts: 1000,
  labels: 64,
  labelName: 128,
  labelValue: 1024,
  fingerprint: 255,
  summary: 1024,
  url: 2048,
} as const;

/** Cuts a string to `max` characters, marking the cut. */
export const cut = (s: string, max: number): string => (s.length <= max ? s : `${s.slice(0, max - 1)}…`);

/** Labels bounded in count and size; non-string values (a custom_details object) are skipped. */
export function boundLabels(raw: Readonly<Record<string, unknown>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  let n = 0;
  for (const [k, v] of Object.entries(raw ?? {})) {
    if (n >= LIMITS.labels) break;
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') continue;
    out[cut(k, LIMITS.labelName)] = cut(String(v), LIMITS.labelValue);
    n++;
  }
  return out;
}

const PRIORITY = z.enum(PRIORITIES);
const name = z.string().min(1).max(128);

/**
 * How a source's alerts become qoswatch alerts: the tenant, region and priority come from the first matching route,
 * else from the alert's labels (names configurable), else from the source's defaults.
 */
export const mappingSchema = z.strictObject({
  tenant: z.string().min(1).max(100).optional().describe('the tenant of alerts that do not name one (default: the default tenant)'),
  region: z.string().min(1).max(100).optional().describe('the region of alerts that do not name one (default: none: the incident spans the tenant)'),
  priority: PRIORITY.default('P2').describe('the priority of alerts whose labels and severity say none'),
  labels: z
    .strictObject({ tenant: name.default('tenant'), region: name.default('region'), priority: name.default('priority'), severity: name.default('severity') })
    .default({ tenant: 'tenant', region: 'region', priority: 'priority', severity: 'severity' })
    .describe('which alert labels name the tenant, region, priority (P0-P3) and severity'),
  severities: z
    .record(z.string().min(1).max(64), PRIORITY)
    .default({ critical: 'P1', error: 'P2', warning: 'P3', info: 'P3' })
    .describe('severity value (case-insensitive) → priority'),
  routes: z
    .array(
      z.strictObject({
        match: z.record(name, z.union([z.string().max(1024), z.array(z.string().max(1024)).min(1).max(100)])).describe('every label listed must have the value (or one of the values)'),
        tenant: z.string().min(1).max(100).optional(),
        region: z.string().min(1).max(100).optional(),
        priority: PRIORITY.optional(),
      }),
    )
    .max(100)
    .default([])
    .describe('a mapping table: the first route whose labels match sets tenant, region and priority'),
  max_firing: z.number().int().min(1).max(100_000).default(1000).describe('most alerts of this source firing at once; more are refused'),
});
export type Mapping = z.output<typeof mappingSchema>;

export interface Mapped {
  readonly tenant: string;
  readonly region: string | undefined;
  readonly priority: Priority;
}

/** Where a source's alert goes (pure): a route of the table, else labels, else the source's defaults. */
export function mapAlert(a: IncomingAlert, m: Mapping, defaultTenant: string): Mapped {
  const route = m.routes.find((r) => Object.entries(r.match).every(([k, v]) => (Array.isArray(v) ? v.includes(a.labels[k] ?? '') : a.labels[k] === v)));
  const label = (k: string): string | undefined => a.labels[k] || undefined;
  const named = label(m.labels.priority)?.toUpperCase();
  const severity = (label(m.labels.severity) ?? a.severity)?.toLowerCase();
  const bySeverity = severity === undefined ? undefined : Object.entries(m.severities).find(([k]) => k.toLowerCase() === severity)?.[1];
  return {
    tenant: route?.tenant ?? label(m.labels.tenant) ?? m.tenant ?? defaultTenant,
    region: route?.region ?? label(m.labels.region) ?? m.region,
    priority: route?.priority ?? (PRIORITIES.includes(named as Priority) ? (named as Priority) : undefined) ?? bySeverity ?? m.priority,
  };
}

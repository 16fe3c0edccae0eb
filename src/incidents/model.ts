import type { Values } from '../rules/alert-state.js';
import type { Labels } from '../shared/labels.js';
import type { Priority } from '../shared/priority.js';

export const INCIDENT_STATES = ['open', 'acknowledged', 'mitigated', 'resolved'] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];

export interface Incident {
  id: number;
  tenant: string;
  region: string | undefined;
  group_key: string;
  title: string;
  state: IncidentState;
  priority: Priority;
  silenced: boolean;
  opened_at: number;
  acknowledged_at: number | undefined;
  acknowledged_by: string | undefined;
  mitigated_at: number | undefined;
  mitigated_by: string | undefined;
  resolved_at: number | undefined;
  resolved_by: string | undefined;
  /** How many times a recurrence within the reopen window brought it back (flapping). */
  reopened: number;
  updated_at: number;
}

export interface IncidentAlert {
  rule_id: string;
  group_key: string;
  labels: Labels;
  priority: Priority;
  firing: boolean;
  silenced: boolean;
  fired_at: number;
  cleared_at: number | undefined;
  /** The values that fired it (or the latest priority change). */
  trigger: Values | undefined;
}

export const TIMELINE_KINDS = [
  'opened', 'reopened', 'alert_fired', 'alert_priority_changed', 'alert_cleared', 'priority_changed', 'acknowledged',
  'mitigated', 'resolved', 'commented', 'silenced', 'unsilenced',
  // Paging (written by the pager; not re-published as pages). 'grouped': paged as part of its tenant's storm;
  // 'page_held': a page waits for its tenant's page budget.
  'paged', 'escalated', 'page_delivered', 'page_failed', 'page_fallback', 'not_paged', 'grouped', 'page_held',
  // SLA clocks of the incident's tickets.
  'sla_warning', 'sla_breach',
] as const;
export type TimelineKind = (typeof TIMELINE_KINDS)[number];

export interface TimelineEntry {
  id: number;
  at: number;
  actor: string;
  kind: TimelineKind;
  data: Record<string, unknown> | undefined;
}

/** Published on the event bus after the change is committed; `entry` is the timeline row it wrote. */
export interface IncidentEvent {
  readonly type: TimelineKind;
  readonly incident: Incident;
  readonly entry: TimelineEntry;
}

/** Who did it: a person (from the request) or qoswatch itself (rule evaluation). */
export const SYSTEM_ACTOR = 'qoswatch';

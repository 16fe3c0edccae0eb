import type { Transition, Values } from '../rules/alert-state.js';
import type { AlertEvent } from '../rules/engine.js';
import type { IncidentAlertRecord, IncidentRecord, TimelineRecord } from '../storage/state/incidents.js';

export const INCIDENT_STATES = ['open', 'acknowledged', 'mitigated', 'resolved'] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];

export type Incident = Omit<IncidentRecord, 'state'> & { state: IncidentState };

/** An alert group of an incident, with the values that fired it (or the latest priority change). */
export type IncidentAlert = Omit<IncidentAlertRecord, 'trigger'> & { trigger: Values | undefined };

export const TIMELINE_KINDS = [
  'opened', 'reopened', 'alert_fired', 'alert_priority_changed', 'alert_cleared', 'priority_changed', 'acknowledged',
  'mitigated', 'resolved', 'commented', 'silenced', 'unsilenced',
  // A responder handed the incident to someone (paged at once).
  'reassigned',
  // Paging (written by the pager; not re-published as pages). 'grouped': paged as part of its tenant's storm;
  // 'page_held': a page waits for its tenant's page budget.
  'paged', 'escalated', 'page_delivered', 'page_failed', 'page_fallback', 'not_paged', 'grouped', 'page_held',
  // SLA clocks of the incident's tickets.
  'sla_warning', 'sla_breach',
] as const;
export type TimelineKind = (typeof TIMELINE_KINDS)[number];

export type TimelineEntry = Omit<TimelineRecord, 'kind'> & { kind: TimelineKind };

/** Published on the event bus after the change is committed; `entry` is the timeline row it wrote. */
export interface IncidentEvent {
  readonly type: TimelineKind;
  readonly incident: Incident;
  readonly entry: TimelineEntry;
}

/** Who did it: a person (from the request) or qoswatch itself (rule evaluation). */
export const SYSTEM_ACTOR = 'qoswatch';

/** The rule of an alert that came from an alert source: the source (`source:<name>`) stands for it. */
export interface ExternalRule {
  readonly kind: 'external';
  readonly id: string;
}

/** An alert transition of a source's alert (its fingerprint is the group key). */
export type ExternalAlertEvent = Transition & { readonly rule: ExternalRule; readonly key: string; readonly labels: AlertEvent['labels']; readonly at: number };

/** What incidents take: transitions of qoswatch's own rules and of alert sources alike. */
export type AnyAlertEvent = AlertEvent | ExternalAlertEvent;

import { escapeHtml } from '../notify/render.js';
import { line } from '../storage/influx/line-protocol.js';
import type { IncidentEvent } from './model.js';

/** Measurement of incident events (Grafana annotations), documented in the README. */
export const INCIDENT_MEASUREMENT = 'qos_incident';

/** The incident's page in the console of the qoswatch reached at `publicUrl`. */
export const consoleIncidentUrl = (publicUrl: string, id: number): string => `${publicUrl}/console/#/incidents/${id}`;

/**
 * One point per timeline event. Tags are bounded (tenant, region, priority, event kind); the incident id is a field.
 * `annotation` is what a Grafana annotation shows (Grafana renders it as sanitised HTML): the text, escaped, and a link
 * to the incident in the console at `publicUrl`. The timeline id goes into the nanoseconds so that two events in the
 * same millisecond are two points.
 */
export function incidentEventLine(e: IncidentEvent, publicUrl: string): string {
  const i = e.incident;
  const data = e.entry.data ?? {};
  const text = typeof data.summary === 'string' ? data.summary : typeof data.note === 'string' ? data.note : typeof data.text === 'string' ? data.text : i.title;
  return line(
    INCIDENT_MEASUREMENT,
    { tenant: i.tenant, region: i.region ?? '*', priority: i.priority, event: e.type },
    {
      incident: { int: i.id },
      state: i.state,
      title: `#${i.id} ${i.priority} ${i.title}`,
      text,
      annotation: `${escapeHtml(text)}<br><a href="${escapeHtml(consoleIncidentUrl(publicUrl, i.id))}">Incident #${i.id} in qoswatch</a>`,
      actor: e.entry.actor,
      silenced: i.silenced,
    },
    BigInt(e.entry.at) * 1_000_000n + BigInt(e.entry.id % 1_000_000),
  );
}

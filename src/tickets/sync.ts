import type { FastifyBaseLogger as Logger } from 'fastify';
import type { IncidentEvent, TimelineKind } from '../incidents/model.js';
import { AppError } from '../shared/http-errors.js';
import type { Tickets } from './tickets.js';

const SYSTEM = 'qoswatch';

/** The incident events that move tickets. */
export const TICKET_KINDS = new Set<TimelineKind>(['opened', 'reopened', 'priority_changed', 'acknowledged', 'mitigated', 'resolved']);

/**
 * Keeps an incident's tickets in step with it: an incident opens a ticket for its tenant with its priority; priority
 * changes, acknowledgement and mitigation carry over (the ticket's clocks stop accordingly). A P0/P1 ticket is not
 * resolved with its incident — it waits for a root-cause note, which is recorded as an internal reminder.
 */
export function syncTicket(tickets: Tickets, e: IncidentEvent, log: Logger): void {
  const inc = e.incident;
  const at = e.entry.at;
  const actor = e.entry.actor;
  if (e.type === 'opened') {
    tickets.open({ tenant: inc.tenant, incidentId: inc.id, title: `${inc.region ?? inc.tenant}: ${inc.title}`, priority: inc.priority, actor: SYSTEM }, at);
    return;
  }
  for (const t of tickets.forIncident(inc.id)) {
    try {
      switch (e.type) {
        case 'priority_changed':
          tickets.setPriority(t.id, inc.priority, actor, at);
          break;
        case 'reopened':
          tickets.comment(t.id, SYSTEM, `incident #${inc.id} reopened: the problem came back`, 'internal', at);
          break;
        case 'acknowledged':
        case 'mitigated':
          if (t.state === 'new' || (e.type === 'mitigated' && t.state === 'acknowledged')) tickets.move(t.id, e.type, actor, { note: `incident #${inc.id} ${e.type}` }, at);
          break;
        case 'resolved':
          if (t.rootCause || (t.priority !== 'P0' && t.priority !== 'P1')) {
            if (t.state !== 'resolved' && t.state !== 'closed') tickets.move(t.id, 'resolved', actor, { note: `incident #${inc.id} resolved` }, at);
          } else {
            tickets.comment(t.id, SYSTEM, `incident #${inc.id} resolved; resolving this ${t.priority} ticket needs a root-cause note`, 'internal', at);
          }
          break;
        default:
          break;
      }
    } catch (err) {
      // A ticket moved by hand may already be past the incident's state: that is not an error.
      if (err instanceof AppError && err.status === 409) continue;
      log.error({ err, ticket: t.id, event: e.type }, 'cannot update the ticket of an incident');
    }
  }
}

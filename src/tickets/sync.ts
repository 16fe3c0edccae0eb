import type { FastifyBaseLogger as Logger } from 'fastify';
import type { IncidentEvent, TimelineKind } from '../incidents/model.js';
import { AppError } from '../shared/http-errors.js';
import type { StateStore } from '../storage/state/store.js';
import type { Tickets } from './tickets.js';

const SYSTEM = 'qoswatch';

/** The incident events that move tickets. */
export const TICKET_KINDS = new Set<TimelineKind>(['opened', 'reopened', 'priority_changed', 'acknowledged', 'mitigated', 'resolved']);

/**
 * Keeps an incident's tickets in step with it: an incident opens a ticket for its tenant with its priority; priority
 * changes, acknowledgement and mitigation carry over (the ticket's clocks stop accordingly). A P0/P1 ticket is not
 * resolved with its incident — it waits for a root-cause note, which is recorded as an internal reminder. Writes go
 * to `t`, the follower's transaction; a ticket already past the incident's state is left as it is.
 */
export async function syncTicket(tickets: Tickets, e: IncidentEvent, log: Logger, t: StateStore): Promise<void> {
  const inc = e.incident;
  const at = e.entry.at;
  const actor = e.entry.actor;
  if (e.type === 'opened') {
    await tickets.open({ tenant: inc.tenant, incidentId: inc.id, title: `${inc.region ?? inc.tenant}: ${inc.title}`, priority: inc.priority, actor: SYSTEM }, at, t);
    return;
  }
  for (const ticket of await tickets.forIncident(inc.id, t)) {
    try {
      switch (e.type) {
        case 'priority_changed':
          await tickets.setPriority(ticket.id, inc.priority, actor, at, undefined, t);
          break;
        case 'reopened':
          await tickets.comment(ticket.id, SYSTEM, `incident #${inc.id} reopened: the problem came back`, 'internal', at, undefined, t);
          break;
        case 'acknowledged':
        case 'mitigated':
          if (ticket.state === 'new' || (e.type === 'mitigated' && ticket.state === 'acknowledged')) await tickets.move(ticket.id, e.type, actor, { note: `incident #${inc.id} ${e.type}` }, at, t);
          break;
        case 'resolved':
          if (ticket.rootCause || (ticket.priority !== 'P0' && ticket.priority !== 'P1')) {
            if (ticket.state !== 'resolved' && ticket.state !== 'closed') await tickets.move(ticket.id, 'resolved', actor, { note: `incident #${inc.id} resolved` }, at, t);
          } else {
            await tickets.comment(ticket.id, SYSTEM, `incident #${inc.id} resolved; resolving this ${ticket.priority} ticket needs a root-cause note`, 'internal', at, undefined, t);
          }
          break;
        default:
          break;
      }
    } catch (err) {
      // A ticket moved by hand may already be past the incident's state: that is not an error.
      if (err instanceof AppError && err.status === 409) continue;
      log.error({ err, ticket: ticket.id, event: e.type }, 'cannot update the ticket of an incident');
    }
  }
}

import fp from 'fastify-plugin';
import { TimelineFollower } from '../incidents/follower.js';
import { DEFAULT_SLA } from './sla-policy.js';
import { TICKET_KINDS, syncTicket } from './sync.js';
import { Tickets } from './tickets.js';

declare module 'fastify' {
  interface FastifyInstance {
    tickets: Tickets;
  }
}

/** Tickets, kept in step with incidents through a crash-safe follower of the incident timeline. */
export const ticketsPlugin = fp(
  async (app) => {
    const tickets = new Tickets(app.stateDb, (tier) => DEFAULT_SLA[tier]);
    const follower = new TimelineFollower('tickets', { db: app.stateDb, incidents: app.incidents, bus: app.incidentBus, log: app.log }, TICKET_KINDS, (e) =>
      syncTicket(tickets, e, app.log),
    );
    app.decorate('tickets', tickets);
    app.addHook('onReady', async () => follower.start());
    app.addHook('onClose', async () => follower.stop());
  },
  { name: 'qoswatch-tickets', dependencies: ['qoswatch-incidents', 'qoswatch-tenants'] },
);

import fp from 'fastify-plugin';
import { TimelineFollower } from '../incidents/follower.js';
import { SlaWatch } from './sla-watch.js';
import { TICKET_KINDS, syncTicket } from './sync.js';
import { Tickets } from './tickets.js';

declare module 'fastify' {
  interface FastifyInstance {
    tickets: Tickets;
    slaWatch: SlaWatch;
  }
}

/** Tickets, kept in step with incidents through a crash-safe follower of the incident timeline. */
export const ticketsPlugin = fp<{ clock: () => number }>(
  async (app, { clock }) => {
    const tickets = new Tickets(app.stateDb);
    const follower = new TimelineFollower('tickets', { db: app.stateDb, incidents: app.incidents, bus: app.incidentBus, log: app.log }, TICKET_KINDS, (e) =>
      syncTicket(tickets, e, app.log),
    );
    const watch = new SlaWatch({ tickets, tenants: app.tenants, incidents: app.incidents, pager: app.pager, log: app.log, clock }, 1000);
    app.decorate('tickets', tickets);
    app.decorate('slaWatch', watch);
    app.addHook('onReady', async () => {
      follower.start();
      watch.start();
    });
    app.addHook('onClose', async () => {
      watch.stop();
      follower.stop();
    });
  },
  { name: 'qoswatch-tickets', dependencies: ['qoswatch-incidents', 'qoswatch-tenants', 'qoswatch-pager'] },
);

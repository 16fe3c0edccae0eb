import fp from 'fastify-plugin';
import { TimelineFollower } from '../incidents/follower.js';
import { customerUpdates } from './customer-updates.js';
import { slaBreachLine, slaStopLines } from './sla-points.js';
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
    const tickets = new Tickets(app.state);
    const watch = new SlaWatch({ tickets, tenants: app.tenants, incidents: app.incidents, pager: app.pager, log: app.log, clock }, 1000);
    tickets.onEvent = async (t, e, events, now, tx) => {
      watch.touch(t.id);
      const tenant = app.tenants.get(t.tenant);
      if (!tenant) return;
      const clocks = tickets.clocks(t, tenant, now, events);
      if (e.kind === 'state_changed') app.points.enqueue(slaStopLines(t, tenant, clocks.filter((c) => c.stoppedAt === e.at)));
      if (e.kind === 'sla_breach') {
        const c = clocks.find((x) => x.target === e.data?.target);
        if (c?.dueAt !== undefined) app.points.enqueue([slaBreachLine(t, tenant, c)]);
      }
      if (e.visibility !== 'customer') return;
      const channel = tenant.customerChannel && app.oncall.config.channels.has(tenant.customerChannel) ? tenant.customerChannel : undefined;
      const items = customerUpdates(t, e, tenant, clocks, channel);
      if (items.length && (await app.pager.outbox.enqueue(items, now, tx)).length) app.pager.wake();
    };
    for (const t of app.tenants.list()) {
      if (t.customerChannel && !app.oncall.config.channels.has(t.customerChannel)) {
        app.log.warn({ tenant: t.id, channel: t.customerChannel }, 'customer_channel is not a channel of the on-call file: customer updates go to the contacts only');
      }
    }
    const follower = new TimelineFollower('tickets', { state: app.state, incidents: app.incidents, bus: app.incidentBus, log: app.log }, TICKET_KINDS, (e, t) =>
      syncTicket(tickets, e, app.log, t),
    );
    app.decorate('tickets', tickets);
    app.decorate('slaWatch', watch);
    app.leadership.duty('tickets follower', follower);
    app.leadership.duty('SLA watch', watch);
  },
  { name: 'qoswatch-tickets', dependencies: ['qoswatch-coordination', 'qoswatch-storage', 'qoswatch-incidents', 'qoswatch-tenants', 'qoswatch-pager', 'qoswatch-oncall'] },
);

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFound, unauthorized } from '../errors.js';
import { PRIORITIES } from '../rules/rule-schema.js';
import { errorBodySchema, keyQuerySchema } from '../telemetry/schemas.js';
import { AUTH_MESSAGES, authenticateIngest, requireAdmin } from '../tenants/auth.js';
import { TICKET_STATES } from './lifecycle.js';
import { renderPostmortem } from './postmortem.js';
import { TICKET_EVENT_KINDS, type Ticket, type TicketEvent, type Visibility } from './tickets.js';
import { toIso } from '../util/units.js';

const iso = toIso;
const csv = <T extends readonly [string, ...string[]]>(values: T) =>
  z.string().transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean)).pipe(z.array(z.enum(values)));

const clockView = z.object({
  target: z.enum(['response', 'restore', 'resolve']),
  target_ms: z.number(),
  calendar: z.enum(['24x7', 'business']),
  elapsed_ms: z.number(),
  running: z.boolean(),
  warn_at: z.string().optional(),
  due_at: z.string().optional(),
  stopped_at: z.string().optional(),
  breached: z.boolean(),
});
const ticketView = z
  .object({
    id: z.number().int(), tenant: z.string(), incident_id: z.number().int().optional(), title: z.string(), priority: z.enum(PRIORITIES),
    state: z.enum(TICKET_STATES), assignee: z.string().optional(), root_cause: z.string().optional(), opened_at: z.string(), updated_at: z.string(),
    sla: z.array(clockView),
  })
  .meta({ id: 'Ticket' });
const eventView = z.object({ id: z.number().int(), at: z.string(), actor: z.string(), kind: z.enum(TICKET_EVENT_KINDS), visibility: z.enum(['internal', 'customer']), data: z.record(z.string(), z.unknown()).optional() });
const idParams = z.object({ id: z.coerce.number().int().positive() });
const listQuery = z.strictObject({
  state: csv(TICKET_STATES).optional(), priority: csv(PRIORITIES).optional(),
  before: z.coerce.number().int().positive().optional(), limit: z.coerce.number().int().min(1).max(500).default(50),
});
const by = z.string().min(1).max(200).optional().describe('who (recorded on the ticket; default "admin")');

/** Tickets API: the support team's (admin token) and each tenant's read-only view (its ingest key). */
export const ticketRoutes: FastifyPluginAsyncZod<{ clock: () => number }> = async (app, { clock }) => {
  const errors = { 400: errorBodySchema, 401: errorBodySchema, 404: errorBodySchema, 409: errorBodySchema };
  const view = (t: Ticket, now: number) => {
    const tenant = app.tenants.get(t.tenant);
    const clocks = tenant ? app.tickets.clocks(t, tenant, now) : [];
    return {
      id: t.id, tenant: t.tenant, incident_id: t.incidentId, title: t.title, priority: t.priority, state: t.state, assignee: t.assignee,
      root_cause: t.rootCause, opened_at: iso(t.openedAt)!, updated_at: iso(t.updatedAt)!,
      sla: clocks.map((c) => ({
        target: c.target, target_ms: c.targetMs, calendar: c.calendar, elapsed_ms: c.elapsedMs, running: c.running,
        warn_at: iso(c.warnAt), due_at: iso(c.dueAt), stopped_at: iso(c.stoppedAt), breached: c.breached,
      })),
    };
  };
  const eventOut = (e: TicketEvent) => ({ ...e, at: iso(e.at)! });

  // The support team's API.
  await app.register(async (admin) => {
    admin.addHook('onRequest', requireAdmin(app.keys));
    const a = admin.withTypeProvider<import('fastify-type-provider-zod').ZodTypeProvider>();
    a.get('/v1/tickets', { schema: { tags: ['tickets'], summary: 'Tickets, newest first', querystring: listQuery.extend({ tenant: z.string().optional() }), response: { 200: z.object({ tickets: z.array(ticketView), next_before: z.number().int().optional() }), ...errors } } }, async (req) => {
      const list = app.tickets.list(req.query);
      const now = clock();
      return { tickets: list.map((t) => view(t, now)), next_before: list.length === req.query.limit ? list.at(-1)!.id : undefined };
    });
    a.get('/v1/tickets/:id', { schema: { tags: ['tickets'], summary: 'A ticket with its SLA clocks and every event', params: idParams, response: { 200: ticketView.extend({ events: z.array(eventView) }), ...errors } } }, async (req) => {
      const t = app.tickets.require(req.params.id);
      return { ...view(t, clock()), events: app.tickets.events(t.id).map(eventOut) };
    });
    a.get('/v1/tickets/:id/postmortem', { schema: { tags: ['tickets'], summary: 'The postmortem as Markdown (timeline, impact, SLA outcome, root cause)', params: idParams, response: { 200: z.string(), ...errors } } }, async (req, reply) => {
      const t = app.tickets.require(req.params.id);
      const tenant = app.tenants.get(t.tenant);
      const inc = t.incidentId === undefined ? undefined : app.incidents.get(t.incidentId);
      const md = renderPostmortem({
        ticket: t, tier: tenant?.tier ?? 'unknown', events: app.tickets.events(t.id), clocks: tenant ? app.tickets.clocks(t, tenant, clock()) : [],
        incident: inc, alerts: inc ? app.incidents.alerts(inc.id) : [], timeline: inc ? app.incidents.timeline(inc.id).filter((e) => !/^(paged|page_|not_paged)/.test(e.kind)) : [],
      });
      return reply.type('text/markdown; charset=utf-8').send(md);
    });
    a.post(
      '/v1/tickets',
      {
        schema: {
          tags: ['tickets'], summary: 'Open a ticket by hand (a customer report); the same SLA clocks apply',
          body: z.strictObject({ tenant: z.string().min(1), title: z.string().min(1).max(500), priority: z.enum(PRIORITIES), note: z.string().max(10_000).optional(), by }),
          response: { 201: ticketView, ...errors },
        },
      },
      async (req, reply) => {
        if (!app.tenants.get(req.body.tenant)) throw notFound(`no tenant ${req.body.tenant}`);
        const now = clock();
        const { ticket } = app.tickets.open({ tenant: req.body.tenant, title: req.body.title, priority: req.body.priority, note: req.body.note, actor: req.body.by ?? 'admin' }, now);
        return reply.code(201).send(view(ticket, now));
      },
    );
    a.post(
      '/v1/tickets/:id/state',
      {
        schema: {
          tags: ['tickets'], summary: 'Move a ticket (acknowledged, mitigated, resolved, closed, waiting_on_customer, or resume)',
          params: idParams,
          body: z.strictObject({ to: z.enum([...TICKET_STATES, 'resume']), note: z.string().max(10_000).optional(), root_cause: z.string().trim().min(1, 'must not be blank').max(20_000).optional(), by }),
          response: { 200: ticketView, ...errors },
        },
      },
      async (req) => {
        const now = clock();
        return view(app.tickets.move(req.params.id, req.body.to, req.body.by ?? 'admin', { note: req.body.note, rootCause: req.body.root_cause }, now), now);
      },
    );
    a.post('/v1/tickets/:id/priority', { schema: { tags: ['tickets'], summary: 'Change the priority: clocks follow the new targets', params: idParams, body: z.strictObject({ priority: z.enum(PRIORITIES), by }), response: { 200: ticketView, ...errors } } }, async (req) => {
      const now = clock();
      return view(app.tickets.setPriority(req.params.id, req.body.priority, req.body.by ?? 'admin', now), now);
    });
    a.post('/v1/tickets/:id/assign', { schema: { tags: ['tickets'], summary: 'Assign a ticket', params: idParams, body: z.strictObject({ assignee: z.string().min(1).max(200), by }), response: { 200: ticketView, ...errors } } }, async (req) => {
      const now = clock();
      return view(app.tickets.assign(req.params.id, req.body.assignee, req.body.by ?? 'admin', now), now);
    });
    a.post(
      '/v1/tickets/:id/comment',
      { schema: { tags: ['tickets'], summary: 'Comment: internal, or visible to the customer', params: idParams, body: z.strictObject({ text: z.string().min(1).max(10_000), visibility: z.enum(['internal', 'customer']).default('internal'), by }), response: { 201: eventView, ...errors } } },
      async (req, reply) => reply.code(201).send(eventOut(app.tickets.comment(req.params.id, req.body.by ?? 'admin', req.body.text, req.body.visibility as Visibility, clock()))),
    );
  });

  // Each tenant's read-only view with its own key: customer-visible events only; other tenants' tickets are 404.
  await app.register(async (tenantApi) => {
    tenantApi.addHook('onRequest', async (req) => {
      const k = authenticateIngest(app.keys, req);
      if (typeof k === 'string') throw unauthorized(AUTH_MESSAGES[k]);
      req.ingestKey = k;
    });
    const a = tenantApi.withTypeProvider<import('fastify-type-provider-zod').ZodTypeProvider>();
    a.get('/v1/tenant/tickets', { schema: { tags: ['tickets'], summary: "The tenant's own tickets (tenant key)", querystring: listQuery.extend(keyQuerySchema.shape), response: { 200: z.object({ tickets: z.array(ticketView.omit({ assignee: true })) }), ...errors } } }, async (req) => {
      const now = clock();
      const { key: _key, ...query } = req.query;
      return { tickets: app.tickets.list({ ...query, tenant: req.ingestKey!.tenant }).map((t) => view(t, now)) };
    });
    a.get('/v1/tenant/tickets/:id', { schema: { tags: ['tickets'], summary: "One of the tenant's tickets with its customer-visible updates (tenant key)", params: idParams, querystring: keyQuerySchema, response: { 200: ticketView.omit({ assignee: true }).extend({ events: z.array(eventView) }), ...errors } } }, async (req) => {
      const t = app.tickets.require(req.params.id, req.ingestKey!.tenant);
      return { ...view(t, clock()), events: app.tickets.events(t.id, 'customer').map(eventOut) };
    });
  });
};

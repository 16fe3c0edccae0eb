import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Env } from '../config/env.js';
import { notFound, tooManyRequests, unauthorized, unavailable } from '../shared/http-errors.js';
import { PRIORITIES } from '../shared/priority.js';
import { SECURITY, errorResponses, jsonResponse, textResponse } from '../shared/openapi.js';
import { TokenBucket } from '../telemetry/token-bucket.js';
import { READ_MESSAGES, authenticateTenant } from '../tenants/auth.js';
import { actorOf } from '../accounts/access.js';
import { isIncidentNote } from './customer-updates.js';
import { TICKET_STATES } from './lifecycle.js';
import { renderPostmortem } from './postmortem.js';
import { TICKET_EVENT_KINDS, type Ticket, type TicketEvent, type Visibility } from './tickets.js';
import { formatDuration, toIso } from '../util/units.js';

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
    id: z.number().int(), public_id: z.string().describe("the id the tenant's view shows"), tenant: z.string(), incident_id: z.number().int().optional(), title: z.string(), priority: z.enum(PRIORITIES),
    state: z.enum(TICKET_STATES), assignee: z.string().optional(), root_cause: z.string().optional(), opened_at: z.string(), updated_at: z.string(),
    sla: z.array(clockView),
  })
  .meta({ id: 'Ticket' });
const eventView = z.object({ id: z.number().int(), at: z.string(), actor: z.string(), kind: z.enum(TICKET_EVENT_KINDS), visibility: z.enum(['internal', 'customer']), data: z.record(z.string(), z.unknown()).optional() });
/** What a tenant sees: its tickets by public id, without the global numbers (ticket, incident) or the assignee. */
const tenantTicketView = ticketView
  .omit({ id: true, public_id: true, incident_id: true, assignee: true })
  .extend({ id: z.string().describe('public id (random)') })
  .meta({ id: 'TenantTicket' });
/** A tenant reads what happened and when, not who did it: the engineers stay unnamed, as the assignee does. */
const tenantEventView = eventView.omit({ id: true, actor: true });
const idParams = z.object({ id: z.coerce.number().int().positive() });
const filters = { state: csv(TICKET_STATES).optional(), priority: csv(PRIORITIES).optional(), limit: z.coerce.number().int().min(1).max(500).default(50) };
const listQuery = z.strictObject({ ...filters, before: z.coerce.number().int().positive().optional() });
const tenantListQuery = z.strictObject({ ...filters, before: z.string().max(64).optional().describe('a public id: tickets opened before it') });
const by = z.string().min(1).max(200).optional().describe('admin token only: on whose behalf (default "admin"); people are recorded as themselves');

/** Tickets API: the support team's (admin token) and each tenant's read-only view (its tenant API tokens). */
export const ticketRoutes: FastifyPluginAsyncZod<{ env: Env; clock: () => number }> = async (app, { env, clock }) => {
  const errors = errorResponses(400, 401, 403);
  const one = errorResponses(400, 401, 403, 404);
  const change = errorResponses(400, 401, 403, 404, 409);
  const view = async (t: Ticket, now: number) => {
    const tenant = app.tenants.get(t.tenant);
    const clocks = tenant ? app.tickets.clocks(t, tenant, now, await app.tickets.events(t.id)) : [];
    return {
      id: t.id, public_id: t.publicId, tenant: t.tenant, incident_id: t.incidentId, title: t.title, priority: t.priority, state: t.state, assignee: t.assignee,
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
    admin.addHook('onRequest', app.requireRole({ read: 'viewer', write: 'responder' }));
    const a = admin.withTypeProvider<import('fastify-type-provider-zod').ZodTypeProvider>();
    const page = z.object({ tickets: z.array(ticketView), next_before: z.number().int().optional() });
    a.get('/v1/tickets', { schema: { operationId: 'listTickets', tags: ['tickets'], summary: 'Tickets, newest first', security: SECURITY.staff, querystring: listQuery.extend({ tenant: z.string().optional() }), response: { 200: jsonResponse(page, 'A page of tickets'), ...errors } } }, async (req) => {
      const list = await app.tickets.list(req.query);
      const now = clock();
      return { tickets: await Promise.all(list.map((t) => view(t, now))), next_before: list.length === req.query.limit ? list.at(-1)!.id : undefined };
    });
    a.get('/v1/tickets/:id', { schema: { operationId: 'getTicket', tags: ['tickets'], summary: 'A ticket with its SLA clocks and every event', security: SECURITY.staff, params: idParams, response: { 200: jsonResponse(ticketView.extend({ events: z.array(eventView) }), 'The ticket'), ...one } } }, async (req) => {
      const t = await app.tickets.require(req.params.id);
      return { ...(await view(t, clock())), events: (await app.tickets.events(t.id)).map(eventOut) };
    });
    a.get('/v1/tickets/:id/postmortem', { schema: { operationId: 'getPostmortem', tags: ['tickets'], summary: 'The postmortem as Markdown (timeline, impact, SLA outcome, root cause)', security: SECURITY.staff, params: idParams, response: { 200: textResponse('text/markdown', 'The postmortem (a draft until the ticket is resolved)'), ...one } } }, async (req, reply) => {
      const t = await app.tickets.require(req.params.id);
      const tenant = app.tenants.get(t.tenant);
      const inc = t.incidentId === undefined ? undefined : await app.incidents.get(t.incidentId);
      const events = await app.tickets.events(t.id);
      const md = renderPostmortem({
        ticket: t, tier: tenant?.tier ?? 'unknown', events, clocks: tenant ? app.tickets.clocks(t, tenant, clock(), events) : [],
        incident: inc, alerts: inc ? await app.incidents.alerts(inc.id) : [], timeline: inc ? (await app.incidents.timeline(inc.id)).filter((e) => !/^(paged|page_|not_paged)/.test(e.kind)) : [],
      });
      return reply.type('text/markdown; charset=utf-8').send(md);
    });
    a.post(
      '/v1/tickets',
      {
        schema: {
          operationId: 'createTicket', tags: ['tickets'], summary: 'Open a ticket by hand (a customer report); the same SLA clocks apply', security: SECURITY.staff,
          body: z.strictObject({ tenant: z.string().min(1), title: z.string().min(1).max(500), priority: z.enum(PRIORITIES), note: z.string().max(10_000).optional(), by }),
          response: { 201: jsonResponse(ticketView, 'Opened'), ...one },
        },
      },
      async (req, reply) => {
        if (!app.tenants.get(req.body.tenant)) throw notFound(`no tenant ${req.body.tenant}`);
        const now = clock();
        const { ticket } = await app.tickets.open({ tenant: req.body.tenant, title: req.body.title, priority: req.body.priority, note: req.body.note, actor: actorOf(req, req.body.by) }, now);
        return reply.code(201).send(await view(ticket, now));
      },
    );
    a.post(
      '/v1/tickets/:id/state',
      {
        schema: {
          operationId: 'changeTicketState', tags: ['tickets'], summary: 'Move a ticket (acknowledged, mitigated, resolved, closed, waiting_on_customer, or resume)', security: SECURITY.staff,
          params: idParams,
          body: z.strictObject({ to: z.enum([...TICKET_STATES, 'resume']), note: z.string().max(10_000).optional(), root_cause: z.string().trim().min(1, 'must not be blank').max(20_000).optional(), by }),
          response: { 200: jsonResponse(ticketView, 'Moved'), ...change },
        },
      },
      async (req) => {
        const now = clock();
        return view(await app.tickets.move(req.params.id, req.body.to, actorOf(req, req.body.by), { note: req.body.note, rootCause: req.body.root_cause }, now), now);
      },
    );
    a.post('/v1/tickets/:id/priority', { schema: { operationId: 'setTicketPriority', tags: ['tickets'], summary: 'Change the priority: clocks follow the new targets', security: SECURITY.staff, params: idParams, body: z.strictObject({ priority: z.enum(PRIORITIES), by }), response: { 200: jsonResponse(ticketView, 'Changed'), ...change } } }, async (req) => {
      const now = clock();
      return view(await app.tickets.setPriority(req.params.id, req.body.priority, actorOf(req, req.body.by), now), now);
    });
    a.post('/v1/tickets/:id/assign', { schema: { operationId: 'assignTicket', tags: ['tickets'], summary: 'Assign a ticket', security: SECURITY.staff, params: idParams, body: z.strictObject({ assignee: z.string().min(1).max(200), by }), response: { 200: jsonResponse(ticketView, 'Assigned'), ...change } } }, async (req) => {
      const now = clock();
      return view(await app.tickets.assign(req.params.id, req.body.assignee, actorOf(req, req.body.by), now), now);
    });
    a.post(
      '/v1/tickets/:id/comment',
      {
        schema: {
          operationId: 'commentOnTicket', tags: ['tickets'], summary: 'Comment: internal, or visible to the customer', security: SECURITY.staff, params: idParams,
          body: z.strictObject({ text: z.string().min(1).max(10_000), visibility: z.enum(['internal', 'customer']).default('internal'), by }),
          response: { 201: jsonResponse(eventView, 'The event'), ...change },
        },
      },
      async (req, reply) => reply.code(201).send(eventOut(await app.tickets.comment(req.params.id, actorOf(req, req.body.by), req.body.text, req.body.visibility as Visibility, clock()))),
    );
  });

  // Each tenant's read-only view with its tenant API tokens: customer-visible events only, by public ids; another
  // tenant's tickets are 404. Shed when the loop is busy, then authenticated, then limited per token — cheapest first.
  await app.register(async (tenantApi) => {
    const buckets = new Map<string, TokenBucket>();
    app.keys.tokens.onRevoke((tok) => buckets.delete(`${tok.tenant}/${tok.id}`));
    tenantApi.addHook('onRequest', async (req) => {
      const busy = app.loopBusy();
      if (busy) throw unavailable(`qoswatch is busy (${busy}); retry after the Retry-After delay`);
      const tok = authenticateTenant(app.keys, req);
      if (typeof tok === 'string') throw unauthorized(READ_MESSAGES[tok]);
      const rate = tok.rateLimit ?? env.QOSWATCH_TENANT_API_RATE;
      const id = `${tok.tenant}/${tok.id}`;
      let bucket = buckets.get(id);
      if (!bucket) buckets.set(id, (bucket = new TokenBucket(rate.max, rate.windowMs)));
      if (!bucket.take(Date.now())) {
        const wait = Math.max(1, Math.ceil(bucket.msUntilNext(Date.now()) / 1000));
        throw tooManyRequests(`rate limit of ${rate.max} requests per ${formatDuration(rate.windowMs)} for this tenant API token exceeded; retry later`, wait);
      }
      req.tenantToken = tok;
    });
    const tenantView = async (t: Ticket, now: number) => {
      const { id: _id, public_id: publicId, incident_id: _incident, assignee: _assignee, ...rest } = await view(t, now);
      return { ...rest, id: publicId };
    };
    // Event data as the customer reads it: no incident numbers.
    const tenantEvent = ({ id: _id, actor: _actor, ...e }: TicketEvent) => {
      const { incident: _incident, ...data } = e.data ?? {};
      if (isIncidentNote(data.note)) delete data.note;
      return { ...e, at: iso(e.at)!, data: e.data && data };
    };
    // Bad input, no or a wrong token, a ticket not the tenant's, the token's rate limit, a saturated event loop.
    const tenantErrors = errorResponses(400, 401, 404, 429, 503);
    const a = tenantApi.withTypeProvider<import('fastify-type-provider-zod').ZodTypeProvider>();
    a.get(
      '/v1/tenant/tickets',
      {
        schema: {
          operationId: 'listTenantTickets', tags: ['tickets'], summary: "The tenant's own tickets, newest first (tenant API token)", security: SECURITY.tenant, querystring: tenantListQuery,
          response: { 200: jsonResponse(z.object({ tickets: z.array(tenantTicketView), next_before: z.string().optional() }), 'A page of tickets'), ...tenantErrors },
        },
      },
      async (req) => {
        const tenant = req.tenantToken!.tenant;
        const { before, ...query } = req.query;
        const list = await app.tickets.list({ ...query, tenant, before: before === undefined ? undefined : (await app.tickets.requirePublic(before, tenant)).id });
        const now = clock();
        return { tickets: await Promise.all(list.map((t) => tenantView(t, now))), next_before: list.length === req.query.limit ? list.at(-1)!.publicId : undefined };
      },
    );
    a.get(
      '/v1/tenant/tickets/:id',
      {
        schema: {
          operationId: 'getTenantTicket', tags: ['tickets'], summary: "One of the tenant's tickets with its customer-visible updates (tenant API token)", security: SECURITY.tenant,
          params: z.object({ id: z.string().max(64) }), response: { 200: jsonResponse(tenantTicketView.extend({ events: z.array(tenantEventView) }), 'The ticket'), ...tenantErrors },
        },
      },
      async (req) => {
        const t = await app.tickets.requirePublic(req.params.id, req.tenantToken!.tenant);
        return { ...(await tenantView(t, clock())), events: (await app.tickets.events(t.id, 'customer')).map(tenantEvent) };
      },
    );
  });
};

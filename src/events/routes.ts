import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { idParams, timeParam } from '../incidents/schemas.js';
import { badRequest } from '../shared/http-errors.js';
import { SECURITY, errorResponses, jsonResponse } from '../shared/openapi.js';
import { actorOf } from '../accounts/access.js';
import { toIso } from '../util/units.js';
import { type PlannedEvent, eventSpecSchema, stateOf } from './events.js';
import { overlaidRules } from './readiness.js';

const bodySchema = eventSpecSchema.extend({
  tenant: z.string().min(1).optional().describe('default: the default tenant'),
  starts_at: timeParam,
  ends_at: timeParam,
  by: z.string().min(1).max(200).optional().describe('admin token only: on whose behalf (default "admin"); people are recorded as themselves'),
});

const eventSchema = z.object({
  id: z.number(), tenant: z.string(), name: z.string(), regions: z.array(z.string()), starts_at: z.string(), ends_at: z.string(),
  factor: z.number(), rules: z.array(z.string()).nullable(), state: z.enum(['upcoming', 'active', 'ended', 'cancelled']),
  readiness: z.object({ due_at: z.string(), sent_at: z.string().nullable(), attempts: z.number(), error: z.string().nullable(), to: z.array(z.string()).optional() }),
  thresholds: z.array(z.object({ id: z.string(), metric: z.string(), levels: z.array(z.object({ priority: z.string(), normal: z.string(), during: z.string() })) })),
  created_by: z.string(), created_at: z.string(), cancelled_at: z.string().nullable(),
});

/** Planned high-traffic events: register, list, show, cancel. */
export const eventRoutes: FastifyPluginAsyncZod<{ clock: () => number }> = async (app, { clock }) => {
  app.addHook('onRequest', app.requireRole({ read: 'viewer', write: 'responder' }));
  const out = (e: PlannedEvent) => ({
    id: e.id, tenant: e.tenant, name: e.name, regions: [...e.regions], starts_at: toIso(e.startsAt)!, ends_at: toIso(e.endsAt)!,
    factor: e.factor, rules: e.rules && [...e.rules], state: stateOf(e, clock()),
    readiness: { due_at: toIso(e.readinessAt)!, sent_at: toIso(e.readinessSentAt) ?? null, attempts: e.readinessAttempts, error: e.readinessError ?? null },
    thresholds: overlaidRules(e, app.alerting.engine.ruleList).map((r) => ({ ...r, levels: [...r.levels] })),
    created_by: e.createdBy, created_at: toIso(e.createdAt)!, cancelled_at: toIso(e.cancelledAt) ?? null,
  });

  app.post(
    '/v1/events',
    {
      schema: {
        operationId: 'createEvent',
        tags: ['events'],
        security: SECURITY.staff,
        summary: 'Register a planned high-traffic event: a readiness report goes out readiness_lead before it starts, and its regions get tighter thresholds (× factor) while it runs',
        body: bodySchema,
        response: { 201: jsonResponse(eventSchema, 'Registered, with the thresholds it applies'), ...errorResponses(400, 401, 403) },
      },
    },
    async (req, reply) => {
      const { by, ...spec } = req.body;
      const tenant = spec.tenant ?? app.tenants.defaultId;
      if (!app.tenants.get(tenant)) throw badRequest(`tenant: no tenant "${tenant}"`);
      const known = new Set(app.alerting.engine.ruleList.filter((r) => r.kind === 'threshold').map((r) => r.id));
      spec.rules?.forEach((id, i) => {
        if (!known.has(id)) throw badRequest(`rules[${i}]: no threshold rule "${id}" is loaded`);
      });
      const actor = actorOf(req, by);
      const e = out(await app.events.create({ ...spec, tenant }, actor, clock()));
      await app.audit.record(actor, 'event.create', `event:${e.id}`, { after: e }, clock());
      await app.eventsChanged();
      return reply.code(201).send(e);
    },
  );

  app.get(
    '/v1/events',
    {
      schema: {
        operationId: 'listEvents', tags: ['events'], summary: 'Planned events, latest start first', security: SECURITY.staff,
        querystring: z.strictObject({ tenant: z.string().optional(), state: z.enum(['upcoming', 'active', 'ended', 'cancelled']).optional() }),
        response: { 200: jsonResponse(z.object({ events: z.array(eventSchema) }), 'The events'), ...errorResponses(400, 401, 403) },
      },
    },
    async (req) => {
      const now = clock();
      return { events: (await app.events.list(req.query.tenant)).filter((e) => !req.query.state || stateOf(e, now) === req.query.state).map(out) };
    },
  );

  app.get(
    '/v1/events/:id',
    {
      schema: {
        operationId: 'getEvent', tags: ['events'], summary: 'One event with its thresholds in normal times and during it', security: SECURITY.staff,
        params: idParams, response: { 200: jsonResponse(eventSchema, 'The event'), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (req) => out(await app.events.require(req.params.id)),
  );

  app.delete(
    '/v1/events/:id',
    {
      schema: {
        operationId: 'cancelEvent', tags: ['events'], summary: 'Cancel an event (its overlay stops at once)', security: SECURITY.staff,
        params: idParams, response: { 200: jsonResponse(eventSchema, 'Cancelled'), ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      const before = out(await app.events.require(req.params.id));
      const e = out(await app.events.cancel(req.params.id, clock()));
      await app.audit.record(actorOf(req), 'event.cancel', `event:${e.id}`, { before, after: e }, clock());
      await app.eventsChanged();
      return e;
    },
  );
};

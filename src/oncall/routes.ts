import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { timeParam } from '../incidents/schemas.js';
import { SECURITY, errorResponses, jsonResponse, noContent } from '../shared/openapi.js';
import { actorOf } from '../accounts/access.js';
import type { ApiOverride } from './oncall.js';
import { toIso } from '../util/units.js';

const iso = toIso;
const personView = z.object({ id: z.string(), name: z.string(), email: z.string().optional(), timezone: z.string() });
const shiftView = z.object({ start: z.string(), end: z.string(), person: personView, source: z.string().describe('layer id, or "override"') });
const overrideView = z
  .object({ id: z.number().int(), schedule: z.string(), person: z.string(), start: z.string(), end: z.string(), comment: z.string().optional(), created_by: z.string(), created_at: z.string() })
  .meta({ id: 'OnCallOverride' });
const scheduleParams = z.object({ id: z.string().min(1) });

/** On-call API: who is on call now, resolved shifts, overrides. */
export const onCallRoutes: FastifyPluginAsyncZod<{ clock: () => number }> = async (app, { clock }) => {
  app.addHook('onRequest', app.requireRole({ read: 'viewer', write: 'responder' }));
  const errors = errorResponses(400, 401, 403);
  const one = errorResponses(400, 401, 403, 404);
  const person = (id: string) => {
    const p = app.oncall.person(id);
    return { id, name: p?.name ?? id, email: p?.email, timezone: p?.timezone ?? 'UTC' };
  };
  const overrideOut = (o: ApiOverride) => ({
    id: o.id, schedule: o.schedule, person: o.person, start: iso(o.start), end: iso(o.end), comment: o.comment, created_by: o.createdBy, created_at: iso(o.createdAt),
  });

  app.get(
    '/v1/oncall/now',
    {
      schema: {
        operationId: 'getOnCallNow', tags: ['oncall'], summary: 'Who is on call in each schedule right now (or at ?at=)', security: SECURITY.staff,
        querystring: z.strictObject({ at: timeParam.optional().describe('epoch ms or RFC 3339; default now') }),
        response: { 200: jsonResponse(z.array(z.object({ schedule: z.string(), person: personView.optional(), source: z.string().optional(), until: z.string().optional() })), 'Each schedule'), ...errors },
      },
    },
    async (req) =>
      app.oncall.now(req.query.at ?? clock()).map((s) => ({
        schedule: s.schedule,
        person: s.onCall && person(s.onCall.person),
        source: s.onCall?.source,
        until: s.until === undefined ? undefined : iso(s.until),
      })),
  );

  app.get(
    '/v1/oncall/schedules/:id',
    {
      schema: {
        operationId: 'getSchedule', tags: ['oncall'], summary: 'Resolved shifts of a schedule over [from, to) (default: the next 7 days), with gaps', security: SECURITY.staff,
        params: scheduleParams,
        querystring: z.strictObject({ from: timeParam.optional(), to: timeParam.optional() }),
        response: { 200: jsonResponse(z.object({ schedule: z.string(), from: z.string(), to: z.string(), shifts: z.array(shiftView), gaps: z.array(z.object({ start: z.string(), end: z.string() })) }), 'The shifts and gaps'), ...one },
      },
    },
    async (req) => {
      const from = req.query.from ?? clock();
      const to = req.query.to ?? from + 7 * 86_400_000;
      const r = app.oncall.resolve(req.params.id, from, to);
      return {
        schedule: req.params.id, from: iso(from), to: iso(to),
        shifts: r.shifts.map((s) => ({ start: iso(s.start), end: iso(s.end), person: person(s.person), source: s.source })),
        gaps: r.gaps.map((g) => ({ start: iso(g.start), end: iso(g.end) })),
      };
    },
  );

  app.get(
    '/v1/oncall/schedules/:id/overrides',
    { schema: { operationId: 'listOverrides', tags: ['oncall'], summary: 'Overrides made through the API', security: SECURITY.staff, params: scheduleParams, response: { 200: jsonResponse(z.array(overrideView), 'The overrides'), ...one } } },
    async (req) => {
      app.oncall.schedule(req.params.id);
      return app.oncall.overrides(req.params.id).map(overrideOut);
    },
  );

  app.post(
    '/v1/oncall/schedules/:id/overrides',
    {
      schema: {
        operationId: 'createOverride', tags: ['oncall'], summary: 'Put a person on call for a time range (takes precedence over layers and earlier overrides)', security: SECURITY.staff,
        params: scheduleParams,
        body: z.strictObject({ person: z.string().min(1), start: timeParam, end: timeParam, comment: z.string().max(2000).optional(), by: z.string().min(1).max(200).optional() }),
        response: { 201: jsonResponse(overrideView, 'Created'), ...one },
      },
    },
    async (req, reply) => {
      const { by, ...o } = req.body;
      const actor = actorOf(req, by);
      const created = overrideOut(await app.oncall.addOverride(req.params.id, o, actor, clock()));
      await app.audit.record(actor, 'override.create', `override:${created.id}`, { after: created }, clock());
      return reply.code(201).send(created);
    },
  );

  app.delete(
    '/v1/oncall/schedules/:id/overrides/:override',
    {
      schema: {
        operationId: 'deleteOverride', tags: ['oncall'], summary: 'Remove an override (kept for the record)', security: SECURITY.staff,
        params: scheduleParams.extend({ override: z.coerce.number().int().positive() }),
        querystring: z.strictObject({ by: z.string().min(1).max(200).optional() }),
        response: { 204: noContent('Removed'), ...one },
      },
    },
    async (req, reply) => {
      const actor = actorOf(req, req.query.by);
      const before = app.oncall.overrides(req.params.id).find((o) => o.id === req.params.override);
      await app.oncall.deleteOverride(req.params.id, req.params.override, actor, clock());
      await app.audit.record(actor, 'override.delete', `override:${req.params.override}`, { before: before && overrideOut(before) }, clock());
      return reply.code(204).send();
    },
  );
};

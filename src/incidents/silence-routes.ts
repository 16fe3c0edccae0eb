import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { badRequest } from '../shared/http-errors.js';
import { SECURITY, errorResponses, jsonResponse, noContent } from '../shared/openapi.js';
import { actorOf } from '../accounts/access.js';
import { idParams, timeParam } from './schemas.js';
import { matchersSchema, recurrenceSchema } from './silence-match.js';
import type { Silence, SilenceInput } from './silences.js';
import { activeAt } from './silence-match.js';
import { toIso } from '../util/units.js';

const silenceBody = z.strictObject({
  matchers: matchersSchema.describe('tenant, region, rule and/or a dimension (isp, cdn, platform, country, sdk, protocol): a value or a list'),
  starts_at: timeParam.optional().describe('default: now'),
  ends_at: timeParam.optional().describe('exclusive; omit for open-ended (a recurring window usually is)'),
  recurrence: recurrenceSchema.optional().describe('a maintenance window: weekdays, start HH:MM and duration in an IANA time zone'),
  comment: z.string().min(1).max(2000).describe('why'),
  by: z.string().min(1).max(200).optional().describe('admin token only: on whose behalf (default "admin"); people are recorded as themselves'),
});

const silenceView = z
  .object({
    id: z.number().int(),
    matchers: z.record(z.string(), z.union([z.string(), z.array(z.string())])),
    starts_at: z.string(),
    ends_at: z.string().optional(),
    recurrence: z.object({ timezone: z.string(), days: z.array(z.string()), start: z.string(), duration_ms: z.number() }).optional(),
    comment: z.string(),
    created_by: z.string(),
    created_at: z.string(),
    updated_by: z.string().optional(),
    updated_at: z.string().optional(),
    deleted_by: z.string().optional(),
    deleted_at: z.string().optional(),
    active: z.boolean().describe('in force right now'),
  })
  .meta({ id: 'Silence' });

const iso = toIso;

/** Silences and maintenance windows: they stop paging for matching alerts, never the recording of incidents. */
export const silenceRoutes: FastifyPluginAsyncZod<{ clock: () => number }> = async (app, { clock }) => {
  app.addHook('onRequest', app.requireRole({ read: 'viewer', write: 'responder' }));
  const errors = errorResponses(400, 401, 403);
  const one = errorResponses(400, 401, 403, 404);
  const view = (s: Silence) => ({
    id: s.id,
    matchers: s.matchers as Record<string, string | string[]>,
    starts_at: iso(s.startsAt)!,
    ends_at: iso(s.endsAt),
    recurrence: s.recurrence && { timezone: s.recurrence.timezone, days: s.recurrence.days, start: s.recurrence.start, duration_ms: s.recurrence.duration },
    comment: s.comment,
    created_by: s.createdBy,
    created_at: iso(s.createdAt)!,
    updated_by: s.updatedBy,
    updated_at: iso(s.updatedAt),
    deleted_by: s.deletedBy,
    deleted_at: iso(s.deletedAt),
    active: s.deletedAt === undefined && activeAt(s, clock()),
  });
  const input = (b: z.output<typeof silenceBody>): SilenceInput => {
    const startsAt = b.starts_at ?? clock();
    if (b.ends_at !== undefined && b.ends_at <= startsAt) throw badRequest('ends_at: must be after starts_at');
    return { matchers: b.matchers, startsAt, endsAt: b.ends_at, recurrence: b.recurrence, comment: b.comment };
  };
  // Silencing changes who gets paged for incidents already open: re-check them at once.
  const refresh = async () => {
    for (const e of await app.incidents.refreshSilences(clock())) app.incidentBus.emit(e);
  };

  app.get(
    '/v1/silences',
    {
      schema: {
        operationId: 'listSilences', tags: ['silences'], summary: 'Silences and maintenance windows', security: SECURITY.staff,
        querystring: z.strictObject({ deleted: z.enum(['true', 'false']).default('false') }), response: { 200: jsonResponse(z.array(silenceView), 'The silences'), ...errors },
      },
    },
    async (req) => (await app.silences.list(req.query.deleted === 'true')).map(view),
  );
  app.get(
    '/v1/silences/:id',
    { schema: { operationId: 'getSilence', tags: ['silences'], summary: 'One silence', security: SECURITY.staff, params: idParams, response: { 200: jsonResponse(silenceView, 'The silence'), ...one } } },
    async (req) => view(await app.silences.get(req.params.id)),
  );
  app.post(
    '/v1/silences',
    { schema: { operationId: 'createSilence', tags: ['silences'], summary: 'Create a silence or maintenance window', security: SECURITY.staff, body: silenceBody, response: { 201: jsonResponse(silenceView, 'Created'), ...errors } } },
    async (req, reply) => {
      const actor = actorOf(req, req.body.by);
      const s = view(await app.silences.create(input(req.body), actor, clock()));
      await app.audit.record(actor, 'silence.create', `silence:${s.id}`, { after: s }, clock());
      await refresh();
      return reply.code(201).send(s);
    },
  );
  app.put(
    '/v1/silences/:id',
    { schema: { operationId: 'updateSilence', tags: ['silences'], summary: 'Replace a silence', security: SECURITY.staff, params: idParams, body: silenceBody, response: { 200: jsonResponse(silenceView, 'Replaced'), ...one } } },
    async (req) => {
      const actor = actorOf(req, req.body.by);
      const before = view(await app.silences.get(req.params.id));
      const s = view(await app.silences.update(req.params.id, input(req.body), actor, clock()));
      await app.audit.record(actor, 'silence.update', `silence:${s.id}`, { before, after: s }, clock());
      await refresh();
      return s;
    },
  );
  app.delete(
    '/v1/silences/:id',
    {
      schema: {
        operationId: 'deleteSilence', tags: ['silences'], summary: 'End a silence (kept, marked deleted, for the record)', security: SECURITY.staff,
        params: idParams, querystring: z.strictObject({ by: z.string().min(1).max(200).optional() }), response: { 204: noContent('Ended'), ...one },
      },
    },
    async (req, reply) => {
      const actor = actorOf(req, req.query.by);
      const before = view(await app.silences.get(req.params.id));
      await app.silences.delete(req.params.id, actor, clock());
      await app.audit.record(actor, 'silence.delete', `silence:${req.params.id}`, { before }, clock());
      await refresh();
      return reply.code(204).send();
    },
  );
};

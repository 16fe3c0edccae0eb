import rateLimit from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf } from '../accounts/access.js';
import type { Metrics } from '../metrics.js';
import { AppError, unauthorized } from '../shared/http-errors.js';
import { AUTHED_ERRORS, SECURITY, errorResponses, jsonResponse, noContent } from '../shared/openapi.js';
import { bearer } from '../tenants/auth.js';
import { toIso } from '../util/units.js';
import { mappingSchema } from './model.js';
import { KINDS, SOURCE_KINDS } from './registry.js';
import { type Source, createSourceSchema, secretHash, updateSourceSchema } from './sources.js';

declare module 'fastify' {
  interface FastifyRequest {
    alertSource?: Source;
  }
}

const iso = z.string().describe('RFC 3339 time');
const sourceView = z
  .object({
    id: z.string(), name: z.string(), kind: z.enum(SOURCE_KINDS), title: z.string(), mapping: mappingSchema, settings: z.record(z.string(), z.unknown()),
    created_by: z.string(), created_at: iso, updated_at: iso, seen_at: iso.optional().describe('when it last sent something accepted'),
    endpoint: z.string().describe('where it sends (POST), relative to the service'),
  })
  .meta({ id: 'AlertSource' });
const outcomeView = z
  .object({
    accepted: z.number().int(), incidents: z.array(z.number().int()).describe('incidents the alerts changed'),
    rejected: z.array(z.object({ fingerprint: z.string(), error: z.string() })).describe('alerts refused one by one (an unknown tenant, too many firing)'),
  })
  .meta({ id: 'AlertSourceOutcome' });
const idParams = z.strictObject({ id: z.string().max(64) });

/** Where a source sends: its kind's endpoint. */
const endpointOf = (s: Source) => (s.kind === 'heartbeat' ? `/v1/sources/${s.id}/ping` : s.kind === 'pagerduty' ? '/v2/enqueue' : `/v1/sources/${s.id}/alerts`);
const view = (s: Source) => ({
  id: s.id, name: s.name, kind: s.kind, title: KINDS[s.kind].title, mapping: s.mapping, settings: s.settings, created_by: s.createdBy,
  created_at: toIso(s.createdAt)!, updated_at: toIso(s.updatedAt)!, seen_at: toIso(s.seenAt), endpoint: endpointOf(s),
});

/** Managing alert sources: staff read them, admins create, change, rotate and delete them (audited). */
export const sourceAdminRoutes: FastifyPluginAsyncZod<{ clock: () => number }> = async (app, { clock }) => {
  app.addHook('onRequest', app.requireRole({ read: 'viewer', write: 'admin' }));
  const tags = ['sources'];
  const security = SECURITY.staff;

  app.get('/v1/sources', { schema: { tags, security, operationId: 'listAlertSources', summary: 'Alert sources: Alertmanager, Grafana, PagerDuty Events v2, generic webhooks, heartbeats', response: { 200: jsonResponse(z.object({ sources: z.array(sourceView) }), 'The sources, oldest first'), ...AUTHED_ERRORS } } }, async () => ({
    sources: (await app.sources.list()).map(view),
  }));

  app.post(
    '/v1/sources',
    {
      schema: {
        tags, security, operationId: 'createAlertSource', summary: 'Creates an alert source; its secret is shown once', body: createSourceSchema,
        response: { 201: jsonResponse(z.object({ source: sourceView, secret: z.string().describe('send it as "Authorization: Bearer <secret>", ?token=, or (PagerDuty) the routing_key') }), 'Created; the secret is shown only here'), ...AUTHED_ERRORS, ...errorResponses(409) },
      },
    },
    async (req, reply) => {
      const { source, secret } = await app.sources.create(req.body, actorOf(req), clock());
      await app.audit.record(actorOf(req), 'source.create', `source:${source.name}`, { after: view(source) }, clock());
      return reply.code(201).send({ source: view(source), secret });
    },
  );

  app.get('/v1/sources/:id', { schema: { tags, security, operationId: 'getAlertSource', summary: 'One alert source', params: idParams, response: { 200: jsonResponse(sourceView, 'The source'), ...AUTHED_ERRORS, ...errorResponses(404) } } }, async (req) =>
    view(await app.sources.require(req.params.id)),
  );

  app.patch(
    '/v1/sources/:id',
    { schema: { tags, security, operationId: 'updateAlertSource', summary: "Changes a source's mapping or settings", params: idParams, body: updateSourceSchema, response: { 200: jsonResponse(sourceView, 'The source as changed'), ...AUTHED_ERRORS, ...errorResponses(404) } } },
    async (req) => {
      const before = await app.sources.require(req.params.id);
      const after = await app.sources.update(req.params.id, req.body, clock());
      await app.audit.record(actorOf(req), 'source.update', `source:${after.name}`, { before: view(before), after: view(after) }, clock());
      return view(after);
    },
  );

  app.post(
    '/v1/sources/:id/secret',
    { schema: { tags, security, operationId: 'rotateAlertSourceSecret', summary: 'A new secret for a source; the old one stops working at once', params: idParams, response: { 200: jsonResponse(z.object({ secret: z.string() }), 'The new secret, shown only here'), ...AUTHED_ERRORS, ...errorResponses(404) } } },
    async (req) => {
      const secret = await app.sources.rotate(req.params.id, clock());
      const s = await app.sources.require(req.params.id);
      await app.audit.record(actorOf(req), 'source.rotate_secret', `source:${s.name}`, {}, clock());
      return { secret };
    },
  );

  app.delete(
    '/v1/sources/:id',
    { schema: { tags, security, operationId: 'deleteAlertSource', summary: 'Deletes a source; its firing alerts clear', params: idParams, response: { 204: noContent('Deleted'), ...AUTHED_ERRORS, ...errorResponses(404) } } },
    async (req, reply) => {
      const s = await app.sources.remove(req.params.id, clock());
      await app.audit.record(actorOf(req), 'source.delete', `source:${s.name}`, { before: view(s) }, clock());
      return reply.code(204).send();
    },
  );
};

/** Requests a source's secret may make per minute (Alertmanager sends a group per group_interval; this is far above). */
const RATE_PER_MINUTE = 600;

/** The secret a sender presented: Authorization: Bearer, ?token=, or the Events v2 routing_key. */
function presented(req: FastifyRequest): string | undefined {
  const fromHeader = bearer(req.headers.authorization);
  if (fromHeader) return fromHeader;
  const q = (req.query as { token?: unknown } | undefined)?.token;
  if (typeof q === 'string' && q) return q;
  const key = (req.body as { routing_key?: unknown } | undefined)?.routing_key;
  return typeof key === 'string' && key ? key : undefined;
}

/**
 * Where sources send: their alerts (`/v1/sources/:id/alerts`), Events v2 events (`/v2/enqueue`, the path PagerDuty
 * clients use, so any of them can page qoswatch), heartbeat pings. Each authenticates with the source's own secret
 * and is limited per secret presented (so a stranger's guesses never use up a real source's allowance).
 */
export const sourceReceiverRoutes: FastifyPluginAsyncZod<{ clock: () => number; metrics: Metrics }> = async (app, { clock, metrics }) => {
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    max: RATE_PER_MINUTE,
    timeWindow: 60_000,
    keyGenerator: (req: FastifyRequest) => {
      const s = presented(req);
      return s ? `source:${secretHash(s)}` : `ip:${req.ip}`;
    },
    onExceeded: () => metrics.sourceRefused.inc({ reason: 'rate_limited' }),
    errorResponseBuilder: (_req, ctx) => Object.assign(new AppError(429, 'too_many_requests', `rate limit of ${ctx.max} requests per ${ctx.after} for this source exceeded; retry later`), { statusCode: 429 }),
  });
  app.addHook('onError', async (_req, _reply, err) => {
    const status = (err as { statusCode?: number; status?: number }).status ?? (err as { statusCode?: number }).statusCode;
    if (status === 400 || status === 413 || status === 415) metrics.sourceRefused.inc({ reason: 'invalid' });
  });

  /** The source the request's secret belongs to (the one named by the URL, if it names one); else 401. */
  const authenticate = async (req: FastifyRequest, id?: string): Promise<Source> => {
    const secret = presented(req);
    const s = secret === undefined ? undefined : await app.sources.bySecret(secret);
    if (!s || (id !== undefined && s.id !== id)) {
      metrics.sourceRefused.inc({ reason: 'unauthorized' });
      throw unauthorized(secret === undefined ? 'missing source secret: send "Authorization: Bearer <secret>" or ?token=<secret>' : 'unknown source secret (or it is not this source\'s)');
    }
    return s;
  };
  const tokenQuery = z.object({ token: z.string().max(256).optional().describe('the source secret, for senders that cannot set a header') });
  const tags = ['sources'];
  const security = SECURITY.integration;

  app.post(
    '/v1/sources/:id/alerts',
    {
      bodyLimit: 1024 * 1024,
      schema: {
        tags, security, operationId: 'postSourceAlerts', params: idParams, querystring: tokenQuery,
        summary: "A source's alerts: Alertmanager's webhook (v4), Grafana's webhook contact point, or the generic webhook's JSON",
        description: 'Each alert fires, changes or clears the alert of its fingerprint on an incident. 202 when at least one alert was taken; 422 when every alert was refused.',
        body: z.unknown(),
        response: { 202: jsonResponse(outcomeView, 'Taken (some alerts may be refused: see rejected)'), 422: jsonResponse(outcomeView, 'Every alert was refused'), ...errorResponses(400, 401, 413, 429) },
      },
    },
    async (req, reply) => {
      const s = await authenticate(req, req.params.id);
      const o = await app.sources.apply(s, app.sources.parse(s, req.body), clock());
      return reply.code(o.accepted === 0 && o.rejected.length > 0 ? 422 : 202).send(o);
    },
  );

  const ping = async (req: FastifyRequest, id: string) => {
    const s = await authenticate(req, id);
    const o = await app.sources.ping(s, clock());
    return { ok: true as const, incidents: [...o.incidents] };
  };
  const pingSchema = (operationId: string) => ({
    tags, security, operationId, params: idParams, querystring: tokenQuery,
    summary: "A monitored job's heartbeat: pings at least every period; a missed one fires an alert, the next ping clears it",
    response: { 200: jsonResponse(z.object({ ok: z.literal(true), incidents: z.array(z.number().int()) }), 'Noted; incidents its alert cleared'), ...errorResponses(400, 401, 429) },
  });
  app.post('/v1/sources/:id/ping', { bodyLimit: 64 * 1024, schema: pingSchema('pingHeartbeat') }, (req) => ping(req, req.params.id));
  app.get('/v1/sources/:id/ping', { schema: pingSchema('pingHeartbeatByGet') }, (req) => ping(req, req.params.id));

  // PagerDuty's own answers: a sender that checks them (status, dedup_key) sees what PagerDuty would say.
  const pdError = z.object({ status: z.string(), message: z.string(), errors: z.array(z.string()), error: z.string() }).meta({ id: 'PagerDutyError' });
  app.post(
    '/v2/enqueue',
    {
      bodyLimit: 512 * 1024,
      schema: {
        tags, security: SECURITY.none, operationId: 'enqueuePagerDutyEvent',
        summary: 'PagerDuty Events API v2: trigger, acknowledge or resolve an alert',
        description: "The event's routing_key is the credential: a PagerDuty Events v2 source's secret.",
        body: z.unknown(),
        response: {
          202: jsonResponse(z.object({ status: z.literal('success'), message: z.string(), dedup_key: z.string() }), 'Event processed'),
          400: jsonResponse(pdError, 'Invalid event (errors name the fields)'), 401: jsonResponse(pdError, 'Unknown routing key'),
          ...errorResponses(413, 429),
        },
      },
      errorHandler: (err, _req, reply) => {
        const e = err as AppError & { statusCode?: number };
        const status = e.status ?? e.statusCode ?? 500;
        if (status >= 500) throw err;
        void reply.code(status as 400).headers(e.headers ?? {}).send({ status: status === 401 ? 'invalid event' : status === 429 ? 'throttle event' : 'invalid event', message: e.message, errors: [e.message], error: e.code ?? 'bad_request' });
      },
    },
    async (req, reply) => {
      const s = await authenticate(req);
      if (s.kind !== 'pagerduty') throw unauthorized(`this routing key belongs to a ${s.kind} source, not a PagerDuty Events v2 one`);
      const [alert] = app.sources.parse(s, req.body);
      const o = await app.sources.apply(s, [alert!], clock());
      if (o.rejected.length) return reply.code(400).send({ status: 'invalid event', message: o.rejected[0]!.error, errors: o.rejected.map((r) => r.error), error: 'bad_request' });
      return reply.code(202).send({ status: 'success', message: 'Event processed', dedup_key: alert!.fingerprint });
    },
  );
};

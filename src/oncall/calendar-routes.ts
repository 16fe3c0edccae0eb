import { randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf } from '../accounts/access.js';
import { forbidden, notFound, unauthorized } from '../shared/http-errors.js';
import { SECURITY, errorResponses, jsonResponse, noContent, textResponse } from '../shared/openapi.js';
import { allows } from '../shared/roles.js';
import type { CalendarFeedRecord } from '../storage/state/calendar-feeds.js';
import { newSecret, sha256 } from '../tenants/keys.js';
import { toIso } from '../util/units.js';
import { feedWindow, personShifts, renderFeed, scheduleShifts } from './calendar.js';

/** Feed secrets start so, which tells them apart from other tokens. */
const FEED_PREFIX = 'qwc';
const FEED_PATH = '/v1/oncall/calendar.ics';

const feedView = z
  .object({ id: z.string(), schedule: z.string().optional(), person: z.string().optional(), name: z.string().optional(), created_by: z.string(), created_at: z.string() })
  .meta({ id: 'CalendarFeed' });
const feedOut = (f: CalendarFeedRecord) => ({ id: f.id, [f.kind]: f.target, name: f.name, created_by: f.createdBy, created_at: toIso(f.createdAt)! });
const name = z.string().min(1).max(200).optional();

/**
 * iCalendar feeds of on-call shifts, a schedule's or a person's. Calendar apps send no headers, so the feed's secret
 * rides in the URL (`?token=`, masked in every log line by redact-url); only its SHA-256 is stored, and a feed is
 * revoked like a share link. Admins manage every feed; a responder those of their own person (an on-call person
 * signs in with the same id).
 */
export const calendarRoutes: FastifyPluginAsyncZod<{ clock: () => number; publicUrl: string }> = async (app, { clock, publicUrl }) => {
  const feeds = app.state.calendarFeeds;
  const errors = errorResponses(400, 401, 403);
  const one = errorResponses(400, 401, 403, 404);

  app.get(
    FEED_PATH,
    {
      schema: {
        operationId: 'getCalendarFeed', tags: ['oncall'], summary: 'A calendar feed of on-call shifts (iCalendar), 14 days back to 8 weeks ahead', security: SECURITY.calendarFeed,
        querystring: z.strictObject({ token: z.string().max(200).describe('the secret shown when the feed was made') }),
        produces: ['text/calendar'],
        response: { 200: textResponse('text/calendar', 'The feed: one event per shift'), ...errorResponses(400, 401, 404) },
      },
    },
    async (req, reply) => {
      const { token } = req.query;
      const feed = token.startsWith(`${FEED_PREFIX}_`) ? await feeds.bySecret(sha256(token)) : undefined;
      if (!feed) throw unauthorized('this calendar feed is unknown or was revoked');
      const now = clock();
      const { from, to } = feedWindow(now);
      const { schedules, people } = app.oncall.config;
      if (feed.kind === 'schedule' && !schedules.has(feed.target)) throw notFound(`schedule ${feed.target} is no longer in the on-call file`);
      if (feed.kind === 'person' && !people.has(feed.target)) throw notFound(`person ${feed.target} is no longer in the on-call file`);
      const shifts = feed.kind === 'schedule'
        ? await scheduleShifts(app.oncall.schedule(feed.target), from, to)
        : await personShifts([...schedules.keys()].map((id) => app.oncall.schedule(id)), feed.target, from, to);
      const title = `On call: ${feed.kind === 'schedule' ? feed.target : people.get(feed.target)!.name}`;
      const text = renderFeed({ title, shifts, name: (p) => people.get(p)?.name ?? p, now });
      return reply.type('text/calendar; charset=utf-8').header('cache-control', 'private, no-cache').send(text);
    },
  );

  await app.register(async (scope) => {
    const signed = scope.withTypeProvider<ZodTypeProvider>();
    signed.addHook('onRequest', app.requireRole({ read: 'responder', write: 'responder' }));

    /** Whether the caller may see and manage a feed of `kind` on `target`: admins any, a responder their own person's. */
    const mayManage = (req: FastifyRequest, kind: string, target: string) => allows(req.principal!.role, 'admin') || (kind === 'person' && target === req.principal!.id);

    signed.get(
      '/v1/oncall/calendars',
      { schema: { operationId: 'listCalendarFeeds', tags: ['oncall'], summary: 'Calendar feeds (no secrets): every feed for admins, your own person\'s for responders', security: SECURITY.staff, response: { 200: jsonResponse(z.array(feedView), 'The feeds'), ...errors } } },
      async (req) => (await feeds.list()).filter((f) => mayManage(req, f.kind, f.target)).map(feedOut),
    );

    signed.post(
      '/v1/oncall/calendars',
      {
        schema: {
          operationId: 'createCalendarFeed', tags: ['oncall'], summary: 'Make a calendar feed of a schedule (admins) or a person (admins, or that person): its URL is shown only now', security: SECURITY.staff,
          body: z.union([z.strictObject({ schedule: z.string().min(1).max(100), name }), z.strictObject({ person: z.string().min(1).max(100), name })]),
          response: { 201: jsonResponse(feedView.extend({ secret: z.string(), url: z.string().describe('subscribe to it in a calendar app (on QOSWATCH_PUBLIC_URL)') }), 'Made'), ...one },
        },
      },
      async (req, reply) => {
        const [kind, target] = 'schedule' in req.body ? (['schedule', req.body.schedule] as const) : (['person', req.body.person] as const);
        if (!mayManage(req, kind, target)) throw forbidden(kind === 'schedule' ? 'a schedule\'s feed needs the admin role' : 'you may make a feed of your own shifts only');
        if (kind === 'schedule' ? !app.oncall.config.schedules.has(target) : !app.oncall.person(target)) throw notFound(`no ${kind} ${target}`);
        const actor = actorOf(req);
        const secret = newSecret(FEED_PREFIX);
        const record: CalendarFeedRecord = { id: `c_${randomBytes(6).toString('hex')}`, kind, target, name: req.body.name, sha256: sha256(secret), createdBy: actor, createdAt: clock() };
        await feeds.insert(record);
        await app.audit.record(actor, 'calendar_feed.create', `${kind}:${target}`, { after: feedOut(record) }, clock());
        return reply.code(201).send({ ...feedOut(record), secret, url: `${publicUrl}${FEED_PATH}?token=${secret}` });
      },
    );

    signed.delete(
      '/v1/oncall/calendars/:id',
      { schema: { operationId: 'revokeCalendarFeed', tags: ['oncall'], summary: 'Revoke a calendar feed: its URL stops working at once', security: SECURITY.staff, params: z.object({ id: z.string().max(100) }), response: { 204: noContent('Revoked'), ...one } } },
      async (req, reply) => {
        const feed = await feeds.get(req.params.id);
        if (!feed || !mayManage(req, feed.kind, feed.target)) throw notFound(`no calendar feed ${req.params.id}`);
        if (!(await feeds.revoke(feed.id, clock()))) throw notFound(`no calendar feed ${req.params.id}`);
        await app.audit.record(actorOf(req), 'calendar_feed.revoke', `${feed.kind}:${feed.target}`, { before: feedOut(feed) }, clock());
        return reply.code(204).send();
      },
    );
  });
};

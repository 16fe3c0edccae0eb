import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SECURITY, errorResponses, jsonResponse, textResponse } from '../shared/openapi.js';
import { actorOf } from '../accounts/access.js';
import type { Action } from './incidents.js';
import type { Incident, IncidentAlert, TimelineEntry } from './model.js';
import { actorBodySchema, commentBodySchema, idParams, incidentAlertSchema, incidentSchema, listQuerySchema, timelineEntrySchema } from './schemas.js';
import { toIso } from '../util/units.js';
import { notFound, unavailable } from '../shared/http-errors.js';
import { LiveFeed } from './live.js';
import { seriesPoints, seriesSpan, windowSeriesQuery } from './series.js';
import { InfluxQueryError } from '../storage/influx/query.js';
import type { RollupField } from '../storage/influx/rollup-points.js';

const iso = toIso;

/** Open live streams per process: each holds a connection and a subscriber. */
const MAX_STREAMS = 500;

export const incidentView = (i: Incident) => ({
  ...i,
  opened_at: iso(i.opened_at)!,
  acknowledged_at: iso(i.acknowledged_at),
  mitigated_at: iso(i.mitigated_at),
  resolved_at: iso(i.resolved_at),
  updated_at: iso(i.updated_at)!,
});

const alertView = (a: IncidentAlert) => ({
  rule: a.rule_id, group: a.group_key, labels: a.labels as Record<string, string>, priority: a.priority, firing: a.firing,
  silenced: a.silenced, fired_at: iso(a.fired_at)!, cleared_at: iso(a.cleared_at), trigger: a.trigger,
});

const entryView = (e: TimelineEntry) => ({ ...e, at: iso(e.at)! });

/** Incidents API (admin token). State changes are conditional: acting on an incident in the wrong state is a 409. */
export const incidentRoutes: FastifyPluginAsyncZod<{ clock: () => number }> = async (app, { clock }) => {
  app.addHook('onRequest', app.requireRole({ read: 'viewer', write: 'responder' }));
  const errors = errorResponses(400, 401, 403);
  const oneIncident = errorResponses(400, 401, 403, 404);
  const change = errorResponses(400, 401, 403, 404, 409);
  const detail = incidentSchema.extend({ alerts: z.array(incidentAlertSchema), timeline: z.array(timelineEntrySchema) });

  app.get(
    '/v1/incidents',
    {
      schema: {
        operationId: 'listIncidents', tags: ['incidents'], summary: 'Incidents, newest first', security: SECURITY.staff,
        querystring: listQuerySchema,
        response: { 200: jsonResponse(z.object({ incidents: z.array(incidentSchema), next_before: z.number().int().optional() }), 'A page of incidents'), ...errors },
      },
    },
    async (req) => {
      const q = req.query;
      const list = await app.incidents.list({ ...q });
      return { incidents: list.map(incidentView), next_before: list.length === q.limit ? list.at(-1)!.id : undefined };
    },
  );

  // Server-sent events: one `timeline` event per new timeline entry of any incident (a console then reads it).
  const feed = new LiveFeed({ state: app.state, bus: app.incidentBus, pollMs: 2000, onError: (err) => app.log.error({ err }, 'live incident feed failed') });
  const streams = new Set<() => void>();
  // A stream never goes idle: shutting down closes them, or closing the server would wait for the clients.
  app.addHook('preClose', async () => {
    for (const end of streams) end();
  });
  app.get(
    '/v1/incidents/live',
    {
      schema: {
        operationId: 'streamIncidentTimeline', tags: ['incidents'], security: SECURITY.staff, summary: 'Server-sent events: a `timeline` event (id, incident_id, kind, at) for every new timeline entry; comments every 25 s keep it open',
        response: { 200: textResponse('text/event-stream', 'The event stream, open until the client or the server closes it'), ...errorResponses(401, 403, 503) },
      },
    },
    async (req, reply) => {
      if (streams.size >= MAX_STREAMS) throw unavailable(`too many live streams open (${MAX_STREAMS}); retry later`, 10);
      const res = reply.hijack().raw;
      // Kept: by the time the response says 'close' it may have let go of its socket, which must close too.
      const socket = res.socket;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
      res.write('retry: 3000\n\n');
      let unsubscribe: (() => void) | undefined;
      const ping = setInterval(() => res.write(': ping\n\n'), 25_000);
      const end = () => {
        clearInterval(ping);
        unsubscribe?.();
        streams.delete(end);
        socket?.destroy();
      };
      streams.add(end);
      res.once('close', end);
      unsubscribe = await feed.subscribe((e) => res.write(`id: ${e.id}\nevent: timeline\ndata: ${JSON.stringify(e)}\n\n`));
      if (!streams.has(end)) unsubscribe();
      else res.write(': following\n\n');
    },
  );

  app.get(
    '/v1/incidents/:id',
    { schema: { operationId: 'getIncident', tags: ['incidents'], summary: 'One incident with its alerts and timeline', security: SECURITY.staff, params: idParams, response: { 200: jsonResponse(detail, 'The incident'), ...oneIncident } } },
    async (req) => {
      const i = await app.incidents.require(req.params.id);
      return { ...incidentView(i), alerts: (await app.incidents.alerts(i.id)).map(alertView), timeline: (await app.incidents.timeline(i.id)).map(entryView) };
    },
  );

  app.get(
    '/v1/incidents/:id/series',
    {
      schema: {
        operationId: 'getIncidentSeries', tags: ['incidents'], security: SECURITY.staff, summary: "The triggering metric's value in each window around the incident (from InfluxDB), for its chart",
        params: idParams,
        response: {
          200: jsonResponse(
            z.object({ metric: z.string(), threshold: z.string().optional(), region: z.string(), from: z.string(), to: z.string(), points: z.array(z.object({ t: z.number().describe('window start, epoch ms'), v: z.number() })) }),
            'The series',
          ),
          ...oneIncident, ...errorResponses(503),
        },
      },
    },
    async (req) => {
      const i = await app.incidents.require(req.params.id);
      // Alerts of alert sources carry what the source said, not a metric of qoswatch's windows.
      const trigger = (await app.incidents.alerts(i.id)).find((a) => a.trigger && !a.trigger.external)?.trigger;
      if (!trigger || !i.region) throw notFound(`incident ${i.id} has no metric of one region to chart`);
      const reader = app.influxReader;
      if (!reader) throw unavailable('the chart reads the windows stored in InfluxDB: set INFLUX_URL', 60);
      const { from, to } = seriesSpan(i.opened_at, i.resolved_at, clock());
      let rows;
      try {
        rows = await reader.query(windowSeriesQuery(trigger.metric as RollupField, i.tenant, i.region, from, to));
      } catch (err) {
        if (err instanceof InfluxQueryError) throw unavailable(err.message, 5);
        throw err;
      }
      return { metric: trigger.metric, threshold: trigger.threshold, region: i.region, from: iso(from)!, to: iso(to)!, points: seriesPoints(rows) };
    },
  );

  const actions: Record<string, Action> = { ack: 'ack', mitigate: 'mitigate', resolve: 'resolve' };
  for (const [path, action] of Object.entries(actions)) {
    app.post(
      `/v1/incidents/:id/${path}`,
      {
        schema: {
          operationId: `${action === 'ack' ? 'acknowledge' : action}Incident`, security: SECURITY.staff,
          tags: ['incidents'], summary: `${action === 'ack' ? 'Acknowledge' : action === 'mitigate' ? 'Mark mitigated (viewers fine again)' : 'Resolve'} an incident`,
          params: idParams, body: actorBodySchema.nullish(), response: { 200: jsonResponse(incidentSchema, 'The incident, changed'), ...change },
        },
      },
      async (req) => {
        const e = await app.incidents.act(req.params.id, action, actorOf(req, req.body?.by), req.body?.note, clock());
        app.incidentBus.emit(e);
        return incidentView(e.incident);
      },
    );
  }

  app.post(
    '/v1/incidents/:id/escalate',
    {
      schema: {
        operationId: 'escalateIncident', tags: ['incidents'], summary: 'Escalate now: page the next escalation level at once (responder)', security: SECURITY.staff, params: idParams,
        body: z.strictObject({ note: z.string().max(2000).optional().describe('why, for the people paged'), by: actorBodySchema.shape.by }).nullish(),
        response: { 201: jsonResponse(timelineEntrySchema, 'Paged: the timeline entry'), ...change },
      },
    },
    async (req, reply) => {
      const e = await app.pager.escalateNow(req.params.id, actorOf(req, req.body?.by), { note: req.body?.note }, clock());
      app.incidentBus.emit(e);
      return reply.code(201).send(entryView(e.entry));
    },
  );

  app.post(
    '/v1/incidents/:id/reassign',
    {
      schema: {
        operationId: 'reassignIncident', tags: ['incidents'], summary: 'Hand the incident to a person of the on-call file: they are paged at once (responder)', security: SECURITY.staff, params: idParams,
        body: z.strictObject({ to: z.string().min(1).max(63).describe('a person id of the on-call file'), note: z.string().max(2000).optional(), by: actorBodySchema.shape.by }),
        response: { 201: jsonResponse(timelineEntrySchema, 'Paged: the timeline entry'), ...change },
      },
    },
    async (req, reply) => {
      const e = await app.pager.escalateNow(req.params.id, actorOf(req, req.body.by), { to: req.body.to, note: req.body.note }, clock());
      app.incidentBus.emit(e);
      return reply.code(201).send(entryView(e.entry));
    },
  );

  app.post(
    '/v1/incidents/:id/comment',
    {
      schema: {
        operationId: 'commentOnIncident', tags: ['incidents'], summary: 'Add a comment to the timeline', security: SECURITY.staff,
        params: idParams, body: commentBodySchema, response: { 201: jsonResponse(timelineEntrySchema, 'The timeline entry'), ...oneIncident },
      },
    },
    async (req, reply) => {
      const e = await app.incidents.comment(req.params.id, actorOf(req, req.body.by), req.body.text, clock());
      app.incidentBus.emit(e);
      return reply.code(201).send(entryView(e.entry));
    },
  );
};

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { badRequest, notFound, unavailable } from '../shared/http-errors.js';
import { InfluxQueryError } from '../storage/influx/query.js';
import { renderQosReport } from './qos-report-email.js';
import { lastDue } from './report-schedule.js';
import { timeParam } from '../incidents/schemas.js';
import { PRIORITIES } from '../shared/priority.js';
import { SECURITY, errorResponses, jsonResponse } from '../shared/openapi.js';
import { TARGETS, TIERS } from '../shared/tenant.js';
import { type ReportTicket, reportCsv, slaReport } from './sla-report.js';
import { toIso } from '../util/units.js';

const figures = z.object({
  tickets: z.number(), met_or_missed: z.number(), mean_ms: z.number().optional(), p50_ms: z.number().optional(), p90_ms: z.number().optional(),
  within_target: z.number().optional(), breached: z.number(),
});
const reportSchema = z.object({
  from: z.string(),
  to: z.string(),
  groups: z.array(z.object({ tier: z.enum(TIERS), priority: z.enum(PRIORITIES), tickets: z.number(), targets: z.partialRecord(z.enum(TARGETS), figures) })),
  breaches: z.array(z.object({ ticket: z.number(), tenant: z.string(), tier: z.enum(TIERS), priority: z.enum(PRIORITIES), target: z.enum(TARGETS), due_at: z.string(), stopped_at: z.string().optional() })),
});

const TENANT_ID = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'not a tenant id');

/** GET /v1/sla/report: SLA attainment of the tickets opened in a range, as JSON or CSV (admin token). */
export const reportRoutes: FastifyPluginAsyncZod<{ clock: () => number }> = async (app, { clock }) => {
  app.addHook('onRequest', app.requireRole({ read: 'viewer', write: 'admin' }));
  app.get(
    '/v1/sla/report',
    {
      schema: {
        operationId: 'getSlaReport', security: SECURITY.staff,
        tags: ['reports'], summary: 'Counts, MTTA/MTTR, p50/p90, % within target and breaches per tier and priority (tickets opened in [from, to))',
        querystring: z.strictObject({ from: timeParam, to: timeParam, tenant: z.string().optional(), tier: z.enum(TIERS).optional(), format: z.enum(['json', 'csv']).default('json') }),
        response: {
          200: { description: 'The report: JSON, or with format=csv one row per tier, priority and target', content: { 'application/json': { schema: reportSchema }, 'text/csv': { schema: z.string() } } },
          ...errorResponses(400, 401, 403),
        },
      },
    },
    async (req, reply) => {
      const { from, to, tenant, tier, format } = req.query;
      if (to <= from) throw badRequest('to: must be after from');
      const now = clock();
      const rows: ReportTicket[] = [];
      for (const t of await app.tickets.openedBetween(from, to, tenant)) {
        const ten = app.tenants.get(t.tenant);
        if (!ten || (tier && ten.tier !== tier)) continue;
        rows.push({ id: t.id, tenant: t.tenant, tier: ten.tier, priority: t.priority, openedAt: t.openedAt, clocks: app.tickets.clocks(t, ten, now, await app.tickets.events(t.id)) });
      }
      const r = slaReport(rows);
      if (format === 'csv') return reply.type('text/csv; charset=utf-8').send(reportCsv(r.groups));
      const iso = toIso;
      return {
        from: iso(from)!, to: iso(to)!, groups: r.groups,
        breaches: r.breaches.map((b) => ({ ...b, due_at: iso(b.due_at)!, stopped_at: iso(b.stopped_at) })),
      };
    },
  );

  app.get(
    '/v1/reports/qos',
    {
      schema: {
        operationId: 'getQosReport',
        tags: ['reports'],
        security: SECURITY.staff,
        summary: "A tenant's QoS report for its last complete day or week (as scheduled), as JSON or as the email's HTML with the charts inline",
        querystring: z.strictObject({ tenant: TENANT_ID.optional(), kind: z.enum(['daily', 'weekly']).default('daily'), format: z.enum(['json', 'html']).default('json') }),
        response: {
          200: { description: "The report's figures (JSON), or with format=html the email as sent", content: { 'application/json': { schema: z.unknown() }, 'text/html': { schema: z.string() } } },
          ...errorResponses(400, 401, 403, 404, 503),
        },
      },
    },
    async (req, reply) => {
      const tenant = app.tenants.get(req.query.tenant ?? app.tenants.defaultId);
      if (!tenant) throw notFound(`tenant ${req.query.tenant} not found`);
      if (!app.qosReport) throw unavailable('QoS reports are read from InfluxDB: set INFLUX_URL');
      const { kind } = req.query;
      const s = tenant.reports[kind];
      const dueAt = lastDue({ kind, at: s?.at ?? '00:00', day: tenant.reports.weekly?.day ?? 'mon' }, tenant.timezone, clock());
      let report;
      try {
        report = await app.qosReport(tenant, kind, dueAt);
      } catch (err) {
        if (err instanceof InfluxQueryError) throw unavailable(`cannot read the report's figures: ${err.message}`, 30);
        throw err;
      }
      if (req.query.format === 'json') return report;
      const m = renderQosReport(report);
      let html = m.html;
      for (const a of m.attachments) html = html.replaceAll(`cid:${a.cid}`, `data:${a.contentType};base64,${a.content.toString('base64')}`);
      return reply.type('text/html; charset=utf-8').send(html);
    },
  );

  app.get(
    '/v1/reports/runs',
    {
      schema: {
        operationId: 'listReportRuns', security: SECURITY.staff,
        tags: ['reports'], summary: 'Scheduled report runs of a tenant, newest first: due time, status (sent, failed, pending), attempts, error',
        querystring: z.strictObject({ tenant: TENANT_ID.optional() }),
        response: {
          200: jsonResponse(z.object({ runs: z.array(z.object({ kind: z.string(), due_at: z.string(), status: z.string(), attempts: z.number(), error: z.string().nullable(), sent_at: z.string().nullable() })) }), 'The runs'),
          ...errorResponses(400, 401, 403),
        },
      },
    },
    async (req) => ({
      runs: (await app.reports.history(req.query.tenant ?? app.tenants.defaultId)).map((r) => ({ ...r, due_at: toIso(r.due_at)!, sent_at: toIso(r.sent_at ?? undefined) ?? null })),
    }),
  );
};

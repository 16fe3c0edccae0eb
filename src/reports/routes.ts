import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { badRequest } from '../errors.js';
import { timeParam } from '../incidents/schemas.js';
import { PRIORITIES } from '../rules/rule-schema.js';
import { errorBodySchema } from '../telemetry/schemas.js';
import { requireAdmin } from '../tenants/auth.js';
import { TARGETS, TIERS } from '../tickets/sla-policy.js';
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

/** GET /v1/sla/report: SLA attainment of the tickets opened in a range, as JSON or CSV (admin token). */
export const reportRoutes: FastifyPluginAsyncZod<{ clock: () => number }> = async (app, { clock }) => {
  app.addHook('onRequest', requireAdmin(app.keys));
  app.get(
    '/v1/sla/report',
    {
      schema: {
        tags: ['reports'], summary: 'Counts, MTTA/MTTR, p50/p90, % within target and breaches per tier and priority (tickets opened in [from, to))',
        querystring: z.strictObject({ from: timeParam, to: timeParam, tenant: z.string().optional(), tier: z.enum(TIERS).optional(), format: z.enum(['json', 'csv']).default('json') }),
        response: { 200: z.union([reportSchema, z.string()]), 400: errorBodySchema, 401: errorBodySchema },
      },
    },
    async (req, reply) => {
      const { from, to, tenant, tier, format } = req.query;
      if (to <= from) throw badRequest('to: must be after from');
      const now = clock();
      const rows: ReportTicket[] = app.tickets.openedBetween(from, to, tenant).flatMap((t) => {
        const ten = app.tenants.get(t.tenant);
        if (!ten || (tier && ten.tier !== tier)) return [];
        return [{ id: t.id, tenant: t.tenant, tier: ten.tier, priority: t.priority, openedAt: t.openedAt, clocks: app.tickets.clocks(t, ten, now) }];
      });
      const r = slaReport(rows);
      if (format === 'csv') return reply.type('text/csv; charset=utf-8').send(reportCsv(r.groups));
      const iso = toIso;
      return {
        from: iso(from)!, to: iso(to)!, groups: r.groups,
        breaches: r.breaches.map((b) => ({ ...b, due_at: iso(b.due_at)!, stopped_at: iso(b.stopped_at) })),
      };
    },
  );
};

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Metrics } from '../metrics.js';

const readySchema = z.object({
  ready: z.boolean(),
  storage: z.enum(['ok', 'spooling', 'disabled']).describe('InfluxDB: written, unreachable (points kept in the spool), or not configured'),
  detail: z.string().optional(),
  spool: z.object({ points: z.number(), bytes: z.number() }),
});

/** Liveness, readiness and the service's own Prometheus figures. */
export const healthRoutes: FastifyPluginAsyncZod<{ metrics: Metrics }> = async (app, { metrics }) => {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });

  app.get('/healthz', { schema: { tags: ['operations'], summary: 'The process is alive', response: { 200: z.object({ status: z.literal('ok') }) } } }, async () => ({ status: 'ok' as const }));

  app.get(
    '/readyz',
    { schema: { tags: ['operations'], summary: 'Ready to accept telemetry: storage reachable, or spooling', response: { 200: readySchema, 503: readySchema } } },
    async (_req, reply) => {
      const r = app.pipeline.readiness();
      const depth = app.pipeline.spool.depth;
      const body = { ...r, ready: r.ready && !closing, spool: { points: depth.lines, bytes: depth.bytes } };
      if (closing) body.detail = 'shutting down';
      return reply.code(body.ready ? 200 : 503).send(body);
    },
  );

  app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics of qoswatch itself', produces: ['text/plain'] } }, async (_req, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
};

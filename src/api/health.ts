import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type Env, ROLES } from '../config/env.js';
import type { Metrics } from '../metrics.js';
import { type ErrorBody, unauthorized } from '../shared/http-errors.js';
import { SECURITY, errorResponses, jsonResponse, textResponse } from '../shared/openapi.js';
import { bearer } from '../tenants/auth.js';
import { secretEquals } from '../tenants/keys.js';

const readySchema = z.object({
  ready: z.boolean(),
  storage: z.enum(['ok', 'spooling', 'disabled']).describe('InfluxDB: written, unreachable (points kept in the spool), or not configured'),
  detail: z.string().optional(),
  spool: z.object({ points: z.number(), bytes: z.number() }),
  node: z.object({ mode: z.enum(['embedded', 'cluster']), roles: z.array(z.enum(ROLES)), leader: z.boolean() }),
});

/** How long the state store may take to answer a readiness probe. */
const STATE_PROBE_MS = 2000;

/** The roles /readyz answers for. */
export const READY_ROLES = ['telemetry', 'worker', 'leader', 'api'] as const;
export type ReadyRole = (typeof READY_ROLES)[number];

/** Why this node is not ready for `role`, or undefined when it is: the checks of /readyz (the own heartbeat runs them too). */
export async function notReady(app: FastifyInstance, role: ReadyRole): Promise<string | undefined> {
  if (role === 'leader') return app.leadership.isLeader() ? undefined : 'this node does not lead now (a standby, or QOSWATCH_ROLES has no leader)';
  if (role === 'api') {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${STATE_PROBE_MS} ms`)), STATE_PROBE_MS)));
    try {
      await Promise.race([app.state.meta.get('readiness-probe'), timeout]);
      return undefined;
    } catch (err) {
      return `the state store does not answer: ${err instanceof Error ? err.message : String(err)}`;
    } finally {
      clearTimeout(timer);
    }
  }
  if (role === 'worker') {
    if (!app.roles.includes('worker')) return 'this node evaluates no partition (QOSWATCH_ROLES has no worker)';
    return app.nats?.nc.isClosed() ? 'the connection to NATS is closed: no partition can be read' : undefined;
  }
  if (!app.roles.includes('collector')) return 'this node takes no telemetry (QOSWATCH_ROLES has no collector)';
  if (app.nats?.nc.isClosed()) return 'the connection to NATS is closed: telemetry cannot be stored';
  const telemetry = app.pipeline.readiness();
  return telemetry.ready ? undefined : telemetry.detail;
}

const METRICS_AUTH = '/metrics needs "Authorization: Bearer <token>" with QOSWATCH_METRICS_TOKEN or the admin token';

/**
 * Liveness, readiness and the service's own Prometheus figures. /metrics names every tenant with open incidents,
 * so on the service's (public) port it needs the metrics token or the admin token; QOSWATCH_METRICS_LISTEN moves it
 * to an address of its own — private by choice, so open there unless a metrics token is set.
 */
export const healthRoutes: FastifyPluginAsyncZod<{ metrics: Metrics; env: Env }> = async (app, { metrics, env }) => {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });

  app.get(
    '/healthz',
    { schema: { operationId: 'getHealth', tags: ['operations'], summary: 'The process is alive', security: SECURITY.none, response: { 200: jsonResponse(z.object({ status: z.literal('ok') }), 'Alive') } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        operationId: 'getReadiness',
        tags: ['operations'],
        summary: 'Ready for a role: telemetry (default: takes telemetry; storage reachable, or spooling), worker (can own partitions), leader (runs paging now), or api (the state store answers)',
        security: SECURITY.none,
        querystring: z.strictObject({ role: z.enum(READY_ROLES).default('telemetry') }),
        response: { 200: jsonResponse(readySchema, 'Ready for the role'), ...errorResponses(400), 503: jsonResponse(readySchema, 'Not ready for the role: `detail` says why') },
      },
    },
    async (req, reply) => {
      const r = app.pipeline.readiness();
      const depth = app.pipeline.spool.depth;
      const why = closing ? 'shutting down' : await notReady(app, req.query.role);
      const node = { mode: env.QOSWATCH_MODE, roles: [...app.roles], leader: app.leadership.isLeader() };
      const detail = req.query.role === 'telemetry' ? (why ?? r.detail) : why;
      const body = { storage: r.storage, ready: why === undefined, detail, spool: { points: depth.lines, bytes: depth.bytes }, node };
      return reply.code(body.ready ? 200 : 503).send(body);
    },
  );

  const token = env.QOSWATCH_METRICS_TOKEN;
  const allowed = (authorization: string | undefined) => {
    const presented = bearer(authorization);
    return presented !== undefined && ((token !== undefined && secretEquals(presented, token)) || app.keys.isAdmin(presented));
  };

  const listen = env.QOSWATCH_METRICS_LISTEN;
  if (!listen) {
    app.get(
      '/metrics',
      {
        schema: {
          operationId: 'getMetrics',
          tags: ['operations'],
          summary: 'Prometheus metrics of qoswatch itself (metrics or admin token)',
          security: SECURITY.metrics,
          response: { 200: textResponse(metrics.registry.contentType, 'The Prometheus text exposition'), ...errorResponses(401) },
        },
      },
      async (req, reply) => {
        if (!allowed(req.headers.authorization)) throw unauthorized(METRICS_AUTH);
        return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
      },
    );
    return;
  }

  const send = (res: ServerResponse, status: number, type: string, body: string) => res.writeHead(status, { 'content-type': type }).end(body);
  const error = (res: ServerResponse, status: number, body: ErrorBody) => send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));
  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') return error(res, 404, { error: 'not_found', message: 'this address serves GET /metrics only' });
    if (req.method !== 'GET') return error(res, 405, { error: 'method_not_allowed', message: 'use GET' });
    if (token !== undefined && !allowed(req.headers.authorization)) return error(res, 401, { error: 'unauthorized', message: METRICS_AUTH });
    send(res, 200, metrics.registry.contentType, await metrics.registry.metrics());
  };
  const server = createServer((req, res) => {
    serve(req, res).catch(() => error(res, 500, { error: 'internal', message: 'cannot collect the metrics' }));
  });
  // Bound with the app (a taken address fails the start) and closed with it.
  app.addHook('onReady', () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, () => {
        server.off('error', reject);
        app.log.info({ address: `${listen.host}:${listen.port}` }, 'serving /metrics on its own address');
        resolve();
      });
    }),
  );
  app.addHook('onClose', () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  );
};

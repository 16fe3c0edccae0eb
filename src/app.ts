import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { type ZodTypeProvider, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { docsRoutes } from './api/docs.js';
import { healthRoutes } from './api/health.js';
import { heartbeatPlugin } from './api/heartbeat.js';
import { loopBusyPlugin } from './api/loop-busy.js';
import { type Env, publicUrlOf } from './config/env.js';
import type { FileConfig } from './config/file.js';
import { clientErrorHandler, registerErrorHandler } from './shared/http-errors.js';
import { SECURITY_SCHEMES, TAGS, openApiTransform, openApiTransformObject } from './shared/openapi.js';
import { createLogger } from './log.js';
import { RequestLog } from './request-log.js';
import type { Logger } from 'pino';
import { Metrics } from './metrics.js';
import { VERSION } from './version.js';
import { storagePlugin } from './storage/plugin.js';
import { createSink } from './storage/influx/registry.js';
import { selfMetricsPlugin } from './storage/influx/self-metrics-plugin.js';
import type { InfluxSink } from './storage/influx/sink.js';
import { collectors } from './telemetry/http-collector.js';
import { pipelinePlugin } from './telemetry/plugin.js';
import { configSyncPlugin } from './coordination/config-sync.js';
import { coordinationPlugin, leaderDutiesPlugin } from './coordination/plugin.js';
import { geoipPlugin } from './geoip/plugin.js';
import { incidentsPlugin } from './incidents/plugin.js';
import { incidentRoutes } from './incidents/routes.js';
import { silenceRoutes } from './incidents/silence-routes.js';
import { rulesPlugin } from './rules/plugin.js';
import { ruleRoutes } from './rules/routes.js';
import { workersPlugin } from './worker/plugin.js';
import { onCallPlugin } from './oncall/plugin.js';
import { onCallRoutes } from './oncall/routes.js';
import { calendarRoutes } from './oncall/calendar-routes.js';
import { linkRoutes } from './notify/link-routes.js';
import { pagerPlugin } from './notify/plugin.js';
import { eventsPlugin } from './events/plugin.js';
import { eventRoutes } from './events/routes.js';
import { reportsPlugin } from './reports/plugin.js';
import { reportRoutes } from './reports/routes.js';
import { tenantsPlugin } from './tenants/plugin.js';
import { ticketsPlugin } from './tickets/plugin.js';
import { ticketRoutes } from './tickets/routes.js';
import { keyRoutes } from './tenants/routes.js';
import { accountsPlugin } from './accounts/plugin.js';
import { accountRoutes } from './accounts/routes.js';
import { consoleRoutes } from './console/routes.js';
import { statusRoutes } from './status/routes.js';
import { sourcesPlugin } from './sources/plugin.js';
import { sourceAdminRoutes, sourceReceiverRoutes } from './sources/routes.js';

export interface AppOptions {
  env: Env;
  config: FileConfig;
  /** Wall clock, injectable for tests. */
  clock?: () => number;
  logger?: Logger;
  /** Overrides the sink built from env (tests). */
  sink?: InfluxSink;
}

export { VERSION };

export type App = FastifyInstance;

/** Builds the qoswatch app (not listening): testable with `inject`, started by server.ts. */
export async function buildApp(opts: AppOptions): Promise<App> {
  const { env, config } = opts;
  const clock = opts.clock ?? Date.now;
  const metrics = new Metrics();
  const app = Fastify({
    // pino's own Logger type is wider than fastify's view of it.
    loggerInstance: (opts.logger ?? createLogger(env.QOSWATCH_LOG_LEVEL)) as FastifyBaseLogger,
    forceCloseConnections: 'idle',
    // Slow clients (headers or body dribbled) are answered 408 and closed; Node checks every connection once a
    // second rather than its default 30 s, so a timeout is enforced within a second of falling due. The timeout
    // goes to the server's constructor too: Node derives its header timeout from it there, and a header timeout
    // longer than the request timeout (what setting it afterwards leaves) stops either from being enforced.
    requestTimeout: env.QOSWATCH_REQUEST_TIMEOUT,
    http: { connectionsCheckingInterval: 1000, requestTimeout: env.QOSWATCH_REQUEST_TIMEOUT },
    clientErrorHandler: clientErrorHandler(env.QOSWATCH_REQUEST_TIMEOUT, (reason) => metrics.refused.inc({ transport: 'http', reason })),
    // Signed link tokens in /v1/links/:token are longer than the default 100-character path parameter.
    routerOptions: { maxParamLength: 2048 },
    logController: new RequestLog(env.QOSWATCH_LOG_TELEMETRY_REQUESTS),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandler(app);

  const sink = opts.sink ?? createSink(env);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'qoswatch',
        version: VERSION,
        description: 'Live-stream QoS telemetry, alerting and SLA API (PRODUCT.md §6)',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      // Relative: the document describes the instance that serves it, whatever its address.
      servers: [{ url: '/', description: 'this qoswatch instance' }],
      tags: [...TAGS],
      // No document-wide security: each operation states its audience (SECURITY in shared/openapi.ts).
      components: { securitySchemes: SECURITY_SCHEMES },
    },
    transform: openApiTransform,
    transformObject: openApiTransformObject,
  });
  const postgres = env.QOSWATCH_MODE === 'cluster' ? { url: env.DATABASE_URL!, schema: env.DATABASE_SCHEMA } : undefined;
  await app.register(storagePlugin, { dataDir: env.QOSWATCH_DATA_DIR, fsync: env.QOSWATCH_FSYNC, influx: sink !== undefined, postgres });
  await app.register(tenantsPlugin, { config, ingestKey: env.QOSWATCH_INGEST_KEY, adminToken: env.QOSWATCH_ADMIN_TOKEN });
  await app.register(geoipPlugin, { env });
  await app.register(coordinationPlugin, { metrics, env });
  await app.register(pipelinePlugin, { env, config, sink, metrics, clock });
  // Without InfluxDB the snapshots would only be discarded.
  await app.register(selfMetricsPlugin, { metrics, intervalMs: sink ? env.QOSWATCH_SELF_METRICS_INTERVAL : 0, clock });
  await app.register(onCallPlugin, { env, clock });
  await app.register(accountsPlugin, { env, clock });
  await app.register(incidentsPlugin, { env, metrics });
  await app.register(eventsPlugin, { env, clock });
  await app.register(rulesPlugin, { env, metrics, clock });
  await app.register(workersPlugin, { env, config, sink, metrics, clock });
  await app.register(pagerPlugin, { env, metrics, clock });
  await app.register(ticketsPlugin, { clock });
  await app.register(sourcesPlugin, { metrics, clock });
  await app.register(reportsPlugin, { env, clock });
  await app.register(configSyncPlugin, { env });
  await app.register(leaderDutiesPlugin);
  await app.register(loopBusyPlugin, { maxMs: env.QOSWATCH_MAX_EVENT_LOOP_DELAY, metrics });
  await app.register(healthRoutes, { metrics, env });
  await app.register(heartbeatPlugin, { env, metrics });
  await app.register(collectors, { env, metrics, clock });
  await app.register(accountRoutes, { env, clock });
  await app.register(keyRoutes, { clock });
  await app.register(incidentRoutes, { clock });
  await app.register(silenceRoutes, { clock });
  await app.register(ruleRoutes);
  await app.register(onCallRoutes, { clock });
  await app.register(calendarRoutes, { clock, publicUrl: publicUrlOf(env) });
  await app.register(linkRoutes, { clock });
  await app.register(ticketRoutes, { env, clock });
  await app.register(reportRoutes, { clock });
  await app.register(eventRoutes, { clock });
  await app.register(statusRoutes, { clock });
  await app.register(sourceAdminRoutes, { clock });
  await app.register(sourceReceiverRoutes, { clock, metrics });
  await app.register(consoleRoutes);
  await app.register(docsRoutes);
  return app;
}

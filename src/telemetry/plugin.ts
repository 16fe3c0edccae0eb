import { getHeapStatistics } from 'node:v8';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Env } from '../config/env.js';
import { DEFAULT_DIM_CAPS, type FileConfig } from '../config/file.js';
import type { Metrics } from '../metrics.js';
import type { Dimension } from '../shared/labels.js';
import type { InfluxSink } from '../storage/influx/sink.js';
import { Budgets, autoGlobalLimits } from './budgets.js';
import type { Intake } from './intake.js';
import { IngestPipeline, type PipelineOptions } from './pipeline.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** This process's pipeline: journal, windows and the points spooled for InfluxDB. */
    pipeline: IngestPipeline;
    /** Where the collectors hand accepted telemetry (the pipeline, or in a cluster the raw log: intake.ts). */
    intake: Intake;
  }
}

export interface TelemetryPluginOptions {
  env: Env;
  config: FileConfig;
  sink: InfluxSink | undefined;
  metrics: Metrics;
  clock: () => number;
}

/** The ingest pipeline: replays the journal on start, flushes every window and drains on close. */
export const pipelinePlugin = fp<TelemetryPluginOptions>(
  async (app, { env, config, sink, metrics, clock }) => {
    const opts = pipelineOptions(app, env, config);
    const pipeline = new IngestPipeline(
      { ingestDb: app.ingestDb, ingestLog: app.ingestLog, dimValues: app.state.dimValues, admittedDims: await app.state.dimValues.all(), sink, points: app.points, metrics, log: app.log, clock, enrich: enrichOf(app) },
      opts,
    );
    // A cluster collector stores batches in the partitions' raw log (loaded only then); this process's pipeline then
    // only carries the service's own points (incident events, SLA clocks, self metrics) to InfluxDB.
    const nats = app.nats;
    let intake: Intake = pipeline;
    if (nats && app.roles.includes('collector')) {
      const [{ ClusterIntake }, { RawLog }] = await Promise.all([import('./cluster-intake.js'), import('../cluster/raw-log.js')]);
      const budgets = new Budgets(opts.tenantLimits, opts.globalLimits, opts.windowMs);
      intake = new ClusterIntake({ log: new RawLog(nats), partitions: nats.opts.partitions, budgets, metrics, clock, enrich: enrichOf(app) }, opts.maxSampleAgeMs);
    }
    app.decorate('intake', intake);
    app.decorate('pipeline', pipeline);
    app.addHook('onReady', async () => pipeline.start());
    app.addHook('onClose', async () => pipeline.shutdown(env.QOSWATCH_SHUTDOWN_TIMEOUT));
  },
  { name: 'qoswatch-pipeline', dependencies: ['qoswatch-storage', 'qoswatch-tenants', 'qoswatch-geoip', 'qoswatch-coordination'] },
);

const enrichOf = (app: FastifyInstance) => (app.geoip.enabled ? (ip: string) => app.geoip.lookup(ip) : undefined);

/** The pipeline's settings from the environment and the config file (the embedded pipeline's, a partition owner's). */
export function pipelineOptions(app: FastifyInstance, env: Env, config: FileConfig): PipelineOptions {
  const auto = autoGlobalLimits(getHeapStatistics().heap_size_limit);
  return {
    windowMs: env.QOSWATCH_WINDOW,
    graceMs: env.QOSWATCH_WINDOW_GRACE,
    horizonMs: env.QOSWATCH_EVAL_HORIZON,
    maxSampleAgeMs: env.QOSWATCH_MAX_SAMPLE_AGE,
    flushIntervalMs: env.QOSWATCH_FLUSH_INTERVAL,
    spoolMaxBytes: env.QOSWATCH_SPOOL_MAX,
    batchLines: env.INFLUX_BATCH_LINES,
    rawSamples: env.QOSWATCH_RAW_SAMPLES,
    capOf: (dim) => (dim === 'region' ? env.QOSWATCH_REGION_CAP : (config.dimensions[dim as Dimension]?.cap ?? DEFAULT_DIM_CAPS[dim as Dimension] ?? env.QOSWATCH_DIM_CAP)),
    tenantLimits: (tenant) => {
      const own = app.tenants.get(tenant)?.budgets;
      return {
        series: own?.series ?? env.QOSWATCH_TENANT_MAX_SERIES,
        points: own?.points ?? env.QOSWATCH_TENANT_MAX_POINTS,
        sessions: own?.sessions ?? env.QOSWATCH_TENANT_MAX_SESSIONS,
      };
    },
    globalLimits: {
      series: env.QOSWATCH_MAX_SERIES === 'auto' ? auto.series : env.QOSWATCH_MAX_SERIES,
      sessions: env.QOSWATCH_MAX_SESSIONS === 'auto' ? auto.sessions : env.QOSWATCH_MAX_SESSIONS,
    },
    dimTtlMs: env.QOSWATCH_DIM_TTL,
    maxLiveMs: env.QOSWATCH_MAX_LIVE,
  };
}

import fp from 'fastify-plugin';
import type { Env } from '../config/env.js';
import type { FileConfig } from '../config/file.js';
import type { Metrics } from '../metrics.js';
import type { InfluxSink } from '../storage/influx/sink.js';
import { IngestPipeline } from './pipeline.js';

declare module 'fastify' {
  interface FastifyInstance {
    pipeline: IngestPipeline;
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
    const pipeline = new IngestPipeline(
      { ingestDb: app.ingestDb, stateDb: app.stateDb, sink, metrics, log: app.log, clock },
      {
        windowMs: env.QOSWATCH_WINDOW,
        graceMs: env.QOSWATCH_WINDOW_GRACE,
        horizonMs: env.QOSWATCH_EVAL_HORIZON,
        maxSampleAgeMs: env.QOSWATCH_MAX_SAMPLE_AGE,
        flushIntervalMs: env.QOSWATCH_FLUSH_INTERVAL,
        spoolMaxBytes: env.QOSWATCH_SPOOL_MAX,
        batchLines: env.INFLUX_BATCH_LINES,
        rawSamples: env.QOSWATCH_RAW_SAMPLES,
        capOf: (dim) => (dim === 'region' ? env.QOSWATCH_REGION_CAP : (config.dimensions[dim as keyof typeof config.dimensions]?.cap ?? env.QOSWATCH_DIM_CAP)),
        dimTtlMs: env.QOSWATCH_DIM_TTL,
      },
    );
    app.decorate('pipeline', pipeline);
    app.addHook('onReady', async () => pipeline.start());
    app.addHook('onClose', async () => pipeline.shutdown(env.QOSWATCH_SHUTDOWN_TIMEOUT));
  },
  { name: 'qoswatch-pipeline', dependencies: ['qoswatch-storage'] },
);

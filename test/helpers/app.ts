import { rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { afterEach } from 'vitest';
import { type App, buildApp } from '../../src/app.js';
import { type Env, loadEnv } from '../../src/config/env.js';
import type { z } from 'zod';
import { fileConfigSchema } from '../../src/config/file.js';
import { createLogger } from '../../src/log.js';
import type { InfluxSink } from '../../src/storage/influx/sink.js';
import { tempDir } from './tmp.js';

export const INGEST_KEY = 'test-ingest-key-0123456789';
export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestApp {
  app: App;
  url: string;
  wsUrl: string;
  env: Env;
  dataDir: string;
  /** Everything the app logged, as raw JSON lines. */
  logs: string[];
  close(): Promise<void>;
}

export interface StartOptions {
  env?: Record<string, string>;
  /** As written in a config file (defaults applied by the schema). */
  config?: z.input<typeof fileConfigSchema>;
  dataDir?: string;
  clock?: () => number;
  sink?: InfluxSink;
  /** Keep the data dir on close (restart tests). */
  keepData?: boolean;
  /** Listen on this port (default: any free one), for URLs that must be known before the start. */
  port?: number;
}

/** Builds the real app on a loopback port with a temp data dir and captured logs. */
export async function startApp(o: StartOptions = {}): Promise<TestApp> {
  const dataDir = o.dataDir ?? tempDir('qoswatch-test');
  const env = loadEnv({
    QOSWATCH_DATA_DIR: dataDir,
    QOSWATCH_INGEST_KEY: INGEST_KEY,
    QOSWATCH_ADMIN_TOKEN: ADMIN_TOKEN,
    QOSWATCH_LOG_LEVEL: 'debug',
    QOSWATCH_SHUTDOWN_TIMEOUT: '2s',
    // Test code blocking the loop (building fixtures) must not shed the next request; the guard has its own tests.
    QOSWATCH_MAX_EVENT_LOOP_DELAY: '0',
    ...o.env,
  });
  const logs: string[] = [];
  const sinkStream = new Writable({
    write(chunk, _enc, cb) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  const config = fileConfigSchema.parse(o.config ?? {});
  const app = await buildApp({ env, config, clock: o.clock, sink: o.sink, logger: createLogger(env.QOSWATCH_LOG_LEVEL, sinkStream) });
  await app.listen({ port: o.port ?? 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return {
    app,
    env,
    dataDir,
    logs,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/v1/telemetry/ws`,
    async close() {
      await app.close();
      if (!o.keepData && !o.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A sample that passes validation, at `ts` (default now). */
export function sample(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { ts: Date.now(), region: 'eu-west', session: 's-1', latency_ms: 800, play_ms: 9500, stall_ms: 500, stall_count: 1, ...over };
}

export async function postTelemetry(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${url}/v1/telemetry`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${INGEST_KEY}`, ...headers },
    body: typeof body === 'string' || body instanceof Uint8Array ? (body as string) : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** A startApp for a test file whose apps are all closed after each test (even when it fails). */
export function appsClosedAfterEach(): (o?: StartOptions) => Promise<TestApp> {
  let apps: TestApp[] = [];
  afterEach(async () => {
    const open = apps;
    apps = [];
    await Promise.allSettled(open.map((t) => t.close()));
  });
  return async (o) => {
    const t = await startApp(o);
    apps.push(t);
    return t;
  };
}

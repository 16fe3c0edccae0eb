import { setFlagsFromString } from 'node:v8';
import closeWithGrace from 'close-with-grace';
import { type App, buildApp } from './app.js';
import { reloadRules } from './rules/routes.js';
import { ConfigError, type Env, loadEnv } from './config/env.js';
import { loadFileConfig } from './config/file.js';
import { createLogger } from './log.js';
import { redactUrl } from './util/redact-url.js';

/**
 * Owns the process: validates configuration (a bad value stops the start naming the variable), listens, and on
 * SIGTERM/SIGINT stops accepting, flushes open windows and spooled points, closes sockets and exits 0.
 */
export async function serve(source: NodeJS.ProcessEnv = process.env): Promise<App> {
  let env: Env;
  let config;
  try {
    env = loadEnv(source);
    config = loadFileConfig(env.QOSWATCH_CONFIG);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`qoswatch: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  // V8 sizes the next full collection by how fast it collects, up to 4 × the live state: on a large machine a few
  // hundred MiB of the aggregation windows' garbage. Read at every collection, so set here is early enough.
  setFlagsFromString(`--heap-growing-percent=${env.QOSWATCH_HEAP_GROWTH}`);
  // Whatever the process writes is its owner's alone (the data dir holds secrets; see storage/permissions.ts).
  process.umask(0o077);
  const log = createLogger(env.QOSWATCH_LOG_LEVEL, undefined, env.QOSWATCH_LOG_FORMAT);
  let app: App;
  try {
    app = await buildApp({ env, config, logger: log });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`qoswatch: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  announce(app, env);

  // SIGHUP is not a stop signal here: it reloads the rules (below).
  closeWithGrace({ delay: env.QOSWATCH_SHUTDOWN_TIMEOUT + 5000, logger: log, skip: ['SIGHUP'] }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an error');
    else log.info({ signal }, 'shutting down');
    await app.close();
  });
  // SIGHUP reloads the alert rules; a bad file keeps the rules in force (the reload logs why).
  // A signal handler that throws would end the process (close-with-grace treats it as a crash): never let it.
  process.on('SIGHUP', () => {
    reloadRules(app, 'SIGHUP').catch((err: unknown) => log.error({ err }, 'rule reload failed; the service keeps running'));
  });
  try {
    await app.listen({ port: env.PORT, host: env.HOST, backlog: 4096 });
  } catch (err) {
    const why = LISTEN_ERRORS[(err as NodeJS.ErrnoException).code ?? ''];
    if (!why) throw err;
    process.stderr.write(`qoswatch: cannot listen on ${env.HOST.includes(':') ? `[${env.HOST}]` : env.HOST}:${env.PORT}: ${why}\n`);
    await app.close();
    process.exit(1);
  }
  return app;
}

/** Where a browser on this host finds the console. */
function consoleUrl(env: Env): string {
  const host = env.HOST === '0.0.0.0' || env.HOST === '::' ? 'localhost' : env.HOST.includes(':') ? `[${env.HOST}]` : env.HOST;
  return `http://${host}:${env.PORT}/console/`;
}

/** Why a listen failed, in words, with what to do about it. */
const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'the port is in use by another process (choose another with --port or PORT)',
  EACCES: 'permission denied (ports below 1024 need privileges; choose another with --port or PORT)',
  EADDRNOTAVAIL: 'the address is not one of this host\'s (check --host or HOST)',
};

function announce(app: App, env: Env): void {
  const g = app.keys.generated;
  const password = app.generatedAdminPassword;
  if (g.ingestKey || g.adminToken || password) {
    // Printed once, to the terminal rather than the log: only their hashes are kept.
    const lines = ['', 'qoswatch generated credentials for this data dir (shown only now; only their hashes are stored):'];
    if (g.ingestKey) lines.push(`  ingest key (tenant ${app.tenants.defaultId}): ${g.ingestKey}`);
    if (g.adminToken) lines.push(`  admin token:                ${g.adminToken}`);
    if (password) lines.push(`  console:                    ${consoleUrl(env)}  user admin, password ${password}`);
    lines.push('  Set QOSWATCH_INGEST_KEY / QOSWATCH_ADMIN_TOKEN / QOSWATCH_ADMIN_PASSWORD to choose your own.', '');
    process.stderr.write(`${lines.join('\n')}\n`);
  }
  if (!env.INFLUX_URL) {
    app.log.warn('INFLUX_URL is not set: telemetry is aggregated and rules are evaluated, but metrics are NOT being stored');
  } else {
    app.log.info({ influx: redactUrl(env.INFLUX_URL), api: env.INFLUX_API }, 'writing rollups to InfluxDB');
  }
}

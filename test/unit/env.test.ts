import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigError, ENV_VARS, loadEnv } from '../../src/config/env.js';
import { parseFileConfig } from '../../src/config/file.js';
import { createSink } from '../../src/storage/influx/registry.js';
import { parseDuration, parseSize } from '../../src/util/units.js';
import { billionLaughs } from '../helpers/yaml-bombs.js';

const root = resolve(import.meta.dirname, '../..');
const readme = readFileSync(resolve(root, 'README.md'), 'utf8');

describe('environment', () => {
  it('has sensible defaults for an embedded start', () => {
    const env = loadEnv({});
    expect(env).toMatchObject({ PORT: 8080, QOSWATCH_DATA_DIR: './data', INFLUX_API: 'v2', QOSWATCH_WINDOW: 10_000, QOSWATCH_MAX_BODY: 5 * 1024 ** 2 });
    expect(env.INFLUX_URL).toBeUndefined();
    expect(env).toMatchObject({ QOSWATCH_MAX_SERIES: 'auto', QOSWATCH_MAX_SESSIONS: 'auto', QOSWATCH_TENANT_MAX_SERIES: 12_000, QOSWATCH_MAX_LIVE: 300_000, QOSWATCH_HEAP_GROWTH: 50 });
    expect(loadEnv({ QOSWATCH_MAX_SERIES: '30000' }).QOSWATCH_MAX_SERIES).toBe(30_000);
    expect(createSink(env)).toBeUndefined();
  });

  it.each([
    [{ PORT: '70000' }, 'PORT'],
    [{ QOSWATCH_WINDOW: '500ms' }, 'QOSWATCH_WINDOW'],
    [{ QOSWATCH_SPOOL_MAX: 'lots' }, 'QOSWATCH_SPOOL_MAX'],
    [{ QOSWATCH_RATE_LIMIT: 'fast' }, 'QOSWATCH_RATE_LIMIT'],
    [{ QOSWATCH_RAW_SAMPLES: 'maybe' }, 'QOSWATCH_RAW_SAMPLES'],
    [{ INFLUX_URL: 'ftp://x' }, 'INFLUX_URL'],
    [{ QOSWATCH_LOG_LEVEL: 'loud' }, 'QOSWATCH_LOG_LEVEL'],
    [{ QOSWATCH_MAX_SERIES: 'lots' }, 'QOSWATCH_MAX_SERIES'],
    [{ QOSWATCH_TENANT_MAX_POINTS: '0' }, 'QOSWATCH_TENANT_MAX_POINTS'],
    [{ QOSWATCH_METRICS_LISTEN: '9464' }, 'QOSWATCH_METRICS_LISTEN'],
    [{ QOSWATCH_METRICS_LISTEN: '127.0.0.1:99999' }, 'QOSWATCH_METRICS_LISTEN'],
    [{ QOSWATCH_METRICS_TOKEN: 'short' }, 'QOSWATCH_METRICS_TOKEN'],
    [{ QOSWATCH_HEAP_GROWTH: '-5' }, 'QOSWATCH_HEAP_GROWTH'],
    [{ QOSWATCH_HEAP_GROWTH: '1e9' }, 'QOSWATCH_HEAP_GROWTH'],
  ])('%o is refused naming %s', (env, name) => {
    expect(() => loadEnv(env)).toThrow(ConfigError);
    expect(() => loadEnv(env)).toThrow(new RegExp(`\\b${name}\\b`));
  });

  it('never echoes a rejected secret', () => {
    const err = (() => {
      try {
        loadEnv({ QOSWATCH_INGEST_KEY: 'tiny-secret' });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).toContain('QOSWATCH_INGEST_KEY');
    expect(err?.message).not.toContain('tiny-secret');
  });

  it('requires what the chosen InfluxDB API needs', () => {
    expect(() => createSink(loadEnv({ INFLUX_URL: 'http://127.0.0.1:8086', INFLUX_API: 'v1' }))).toThrow(/INFLUX_DB/);
    expect(() => createSink(loadEnv({ INFLUX_URL: 'http://127.0.0.1:8086' }))).toThrow(/INFLUX_ORG[\s\S]*INFLUX_BUCKET/);
    expect(createSink(loadEnv({ INFLUX_URL: 'http://127.0.0.1:8086', INFLUX_API: 'v1', INFLUX_DB: 'q', INFLUX_PASSWORD: 'pw-secret' }))!.target).not.toContain('pw-secret');
  });

  it('a cluster needs PostgreSQL, and NATS where telemetry is taken or evaluated; roles are known ones; raw samples are refused', () => {
    const pg = { QOSWATCH_MODE: 'cluster', DATABASE_URL: 'postgres://db/q' };
    expect(() => loadEnv({ QOSWATCH_MODE: 'cluster' })).toThrow(/DATABASE_URL: required/);
    expect(() => loadEnv(pg)).toThrow(/NATS_URL: required .* collector or worker role/);
    expect(loadEnv({ ...pg, QOSWATCH_ROLES: 'leader' }).QOSWATCH_ROLES, 'a leader-only node needs no NATS').toEqual(['leader']);
    const env = loadEnv({ ...pg, NATS_URL: 'nats://a:4222,nats://b:4222' });
    expect(env).toMatchObject({ QOSWATCH_ROLES: ['collector', 'worker', 'leader'], QOSWATCH_PARTITIONS: 16, QOSWATCH_LEASE_TTL: 3000, QOSWATCH_NATS_PREFIX: 'QOS_' });
    expect(() => loadEnv({ ...pg, QOSWATCH_ROLES: 'worker,janitor' })).toThrow(/QOSWATCH_ROLES: a comma-separated list of collector, worker, leader/);
    expect(() => loadEnv({ ...pg, NATS_URL: 'http://a' })).toThrow(/NATS_URL/);
    expect(() => loadEnv({ ...pg, NATS_URL: 'nats://a:4222', QOSWATCH_RAW_SAMPLES: 'true' })).toThrow(/QOSWATCH_RAW_SAMPLES: not supported/);
    expect(() => loadEnv({ ...pg, NATS_URL: 'nats://a:4222', QOSWATCH_NATS_PREFIX: 'bad-prefix' })).toThrow(/QOSWATCH_NATS_PREFIX/);
  });

  it('the README documents every variable, and nothing else', () => {
    const documented = [...readme.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual([...ENV_VARS].sort());
  });

  it('the README has each top-level section once', () => {
    // An edit that pasted a section over the wrong range once repeated a third of the README.
    const sections = [...readme.matchAll(/^## (.+)$/gm)].map((m) => m[1]!);
    expect(sections.filter((h, i) => sections.indexOf(h) !== i)).toEqual([]);
    expect(sections).toContain('Running a cluster');
  });

  it('refuses a 100 KB duration, size or rate at once, naming the variable, without echoing the value', () => {
    // Built to make the old patterns backtrack: digits, then 100 000 spaces, then a character that fails the match.
    const long = (head: string) => `${head}${' '.repeat(100_000)}x`;
    for (const [name, value] of [['QOSWATCH_WINDOW', long('1')], ['QOSWATCH_MAX_BODY', long('1')], ['QOSWATCH_RATE_LIMIT', long('1/1')], ['QOSWATCH_CHAT_RATE', `1/${'1'.repeat(50_000)}${' '.repeat(50_000)}x`]] as const) {
      const err = (() => {
        try {
          loadEnv({ [name]: value });
        } catch (e) {
          return e as Error;
        }
      })();
      expect(err, name).toBeInstanceOf(ConfigError);
      expect(err!.message).toMatch(new RegExp(`${name}: must be at most 64 characters`));
      expect(err!.message.length, 'the message must not carry the value').toBeLessThan(300);
    }
    expect(parseDuration(long('1'))).toBeUndefined();
    expect(parseSize(long('1'))).toBeUndefined();
  });

  it('reads QOSWATCH_METRICS_LISTEN as host and port', () => {
    expect(loadEnv({ QOSWATCH_METRICS_LISTEN: '127.0.0.1:9464' }).QOSWATCH_METRICS_LISTEN).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(loadEnv({ QOSWATCH_METRICS_LISTEN: '[::1]:9464' }).QOSWATCH_METRICS_LISTEN).toEqual({ host: '::1', port: 9464 });
    expect(loadEnv({ QOSWATCH_METRICS_LISTEN: ':9464' }).QOSWATCH_METRICS_LISTEN).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(loadEnv({}).QOSWATCH_METRICS_LISTEN).toBeUndefined();
  });

  it('parses durations and sizes', () => {
    expect([parseDuration('250ms'), parseDuration('10s'), parseDuration('5m'), parseDuration('1.5h'), parseDuration('100')]).toEqual([250, 10_000, 300_000, 5_400_000, 100]);
    expect(parseDuration('ten')).toBeUndefined();
    expect([parseSize('5MiB'), parseSize('1GB'), parseSize('512')]).toEqual([5 * 1024 ** 2, 1e9, 512]);
  });
});

describe('config file', () => {
  it('accepts the README example shape and names bad fields with their path', () => {
    const ok = parseFileConfig(
      `tenants:\n  - id: acme\n    tier: strategic\n    ingest_keys:\n      - id: web\n        sha256: ${'a'.repeat(64)}\n        rate_limit: 500/1s\n`,
      'q.yaml',
    );
    expect(ok.tenants[0]).toMatchObject({ id: 'acme', tier: 'strategic', ingest_keys: [{ id: 'web', rate_limit: { max: 500, windowMs: 1000 } }] });
    expect(() => parseFileConfig('tenants:\n  - id: Acme\n    tier: gold\n', 'q.yaml')).toThrow(/q\.yaml[\s\S]*tenants\[0\]\.id[\s\S]*tenants\[0\]\.tier/);
    expect(() => parseFileConfig('tenants:\n  - id: a\n    ingest_keys:\n      - id: k\n', 'q.yaml')).toThrow(/ingest_keys\[0\].*exactly one of sha256 or key_env/);
    expect(() => parseFileConfig('tenants: [\n', 'q.yaml')).toThrow(/q\.yaml/);
    expect(() => parseFileConfig('tenants:\n  - id: a\n  - id: a\n', 'q.yaml')).toThrow(/duplicate tenant id "a"/);
  });

  it('refuses anchors that would expand without bound as a clean ConfigError; one anchor shared widely is fine', () => {
    const refused = () => parseFileConfig(billionLaughs('tenants: []'), 'q.yaml');
    expect(refused).toThrow(ConfigError);
    expect(refused).toThrow(/^q\.yaml: too many YAML aliases/);
    const shared = Array.from({ length: 150 }, (_, i) => `  - { id: t${i}, business_hours: ${i ? '*bh' : '&bh { start: "08:00", end: "20:00" }'} }`);
    expect(parseFileConfig(`tenants:\n${shared.join('\n')}\n`, 'q.yaml').tenants[149]!.business_hours).toMatchObject({ start: '08:00', end: '20:00' });
  });
});

describe('docker-compose.yml and Dockerfile', () => {
  const compose = parse(readFileSync(resolve(root, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, { build?: string; environment?: Record<string, string>; healthcheck?: unknown; depends_on?: Record<string, unknown>; volumes?: string[] }>;
  };

  it('mounts host paths that exist, and the rules dir where QOSWATCH_RULES_DIR points', () => {
    const q = compose.services.qoswatch!;
    const binds = (q.volumes ?? []).map((v) => v.split(':')).filter(([src]) => src!.startsWith('./'));
    for (const [src] of binds) expect(existsSync(resolve(root, src!)), src).toBe(true);
    expect(binds.find(([src]) => src === './alert-rules')?.[1]).toBe(q.environment!.QOSWATCH_RULES_DIR);
  });

  it('configures qoswatch only with variables it knows, pointing at the compose InfluxDB', () => {
    const q = compose.services.qoswatch!;
    for (const name of Object.keys(q.environment ?? {})) expect(ENV_VARS).toContain(name);
    const env = q.environment!;
    expect(env.INFLUX_URL).toBe('http://influxdb:8086');
    const influx = compose.services.influxdb!.environment!;
    expect(env.INFLUX_ORG).toBe(influx.DOCKER_INFLUXDB_INIT_ORG);
    expect(env.INFLUX_BUCKET).toBe(influx.DOCKER_INFLUXDB_INIT_BUCKET);
    expect(env.INFLUX_TOKEN).toBe(influx.DOCKER_INFLUXDB_INIT_ADMIN_TOKEN);
    expect(q.depends_on).toHaveProperty('influxdb');
    // The values compose passes must pass the service's own validation.
    expect(() => createSink(loadEnv({ ...env, QOSWATCH_INGEST_KEY: '', QOSWATCH_ADMIN_TOKEN: '' }))).not.toThrow();
  });

  it('builds from a Dockerfile whose copied paths exist, runs as non-root with a healthcheck', () => {
    expect(compose.services.qoswatch!.build).toBe('.');
    const dockerfile = readFileSync(resolve(root, 'Dockerfile'), 'utf8');
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const path of m[1]!.split(' ')) expect(existsSync(resolve(root, path)), path).toBe(true);
    }
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*/m);
    expect(dockerfile).toContain('/healthz');
  });
});

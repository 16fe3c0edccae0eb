import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useInfluxServer } from '../helpers/influx-suite.js';
import { HAVE_INFLUXD, NO_INFLUXD_MESSAGE, rows } from '../helpers/influxd.js';
import { ADMIN_TOKEN, INGEST_KEY, postTelemetry } from '../helpers/app.js';
import { waitFor } from '../helpers/ports.js';
import { CLI, ServiceProcess, runCli } from '../helpers/service.js';
import { metric } from '../helpers/metrics.js';
import { tempDir } from '../helpers/tmp.js';
import { signLink } from '../../src/notify/links.js';

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);
if (!HAVE_INFLUXD) console.warn(NO_INFLUXD_MESSAGE);


describe('configuration errors stop the start, naming the variable', () => {
  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ INFLUX_API: 'v9' }, 'INFLUX_API'],
    [{ QOSWATCH_WINDOW: '10 parsecs' }, 'QOSWATCH_WINDOW'],
    [{ QOSWATCH_ADMIN_TOKEN: 'short' }, 'QOSWATCH_ADMIN_TOKEN'],
    [{ INFLUX_URL: 'http://127.0.0.1:1', INFLUX_API: 'v1' }, 'INFLUX_DB'],
    [{ QOSWATCH_CONFIG: '/nonexistent/qoswatch.yaml' }, 'QOSWATCH_CONFIG'],
  ])('%o → exit 2 naming %s', async (env, name) => {
    const r = await runCli(['serve'], { QOSWATCH_DATA_DIR: '/tmp/qoswatch-never-created', ...env });
    expect(r.code).toBe(2);
    expect(r.output).toContain(name);
    // A rejected secret is never echoed back.
    if (name === 'QOSWATCH_ADMIN_TOKEN') expect(r.output).not.toContain('short');
  });
});

describe('first start without credentials', () => {
  it('generates an ingest key and admin token once, prints them, and accepts them', async () => {
    const svc = new ServiceProcess({ QOSWATCH_INGEST_KEY: '', QOSWATCH_ADMIN_TOKEN: '' });
    await svc.start();
    const key = /ingest key \(tenant default\): (\S+)/.exec(svc.output)?.[1];
    const token = /admin token:\s+(\S+)/.exec(svc.output)?.[1];
    expect(key).toMatch(/^qw_/);
    expect(token).toMatch(/^qwa_/);
    expect(svc.output).toContain('metrics are NOT being stored');
    const r = await postTelemetry(svc.url, { samples: [{ ts: Date.now(), region: 'eu', latency_ms: 1 }] }, { authorization: `Bearer ${key}` });
    expect(r.status).toBe(202);
    const admin = await fetch(`${svc.url}/v1/admin/tenants`, { headers: { authorization: `Bearer ${token}` } });
    expect(admin.status).toBe(200);
    expect(await svc.stop('SIGTERM')).toBe(0);
    const again = new ServiceProcess({ QOSWATCH_INGEST_KEY: '', QOSWATCH_ADMIN_TOKEN: '' }, svc.dataDir);
    await again.start();
    expect(again.output).not.toContain('generated credentials');
    const r2 = await postTelemetry(again.url, { samples: [{ ts: Date.now(), region: 'eu', latency_ms: 1 }] }, { authorization: `Bearer ${key}` });
    expect(r2.status).toBe(202);
    expect(await again.stop('SIGINT')).toBe(0);
  });
});

describe('the data dir holds secrets (key hashes, the link secret): owner-only', () => {
  const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);
  const DBS = ['state.db', 'ingest.db'];
  const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  it('tightens a data dir made 0755 and files left 0644 at start, warning with each path', async () => {
    const dir = join(tempDir('perms'), 'data');
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    const svc = new ServiceProcess({}, dir);
    await svc.start();
    expect(svc.output).toMatch(new RegExp(`${literal(dir)} was mode 755; changed to 700`));
    expect(mode(dir)).toBe('700');
    // New files (and SQLite's -wal and -shm beside them, while it runs) are created owner-only.
    for (const f of DBS.flatMap((db) => [db, `${db}-wal`, `${db}-shm`])) expect(mode(join(dir, f)), f).toBe('600');
    expect(await svc.stop('SIGTERM')).toBe(0);

    // As a backup restored with a loose umask would leave them.
    chmodSync(dir, 0o755);
    for (const db of DBS) chmodSync(join(dir, db), 0o644);
    const again = new ServiceProcess({}, dir);
    await again.start();
    for (const path of [dir, ...DBS.map((db) => join(dir, db))]) {
      expect(again.output).toMatch(new RegExp(`${literal(path)} was mode (755|644); changed to (700|600)`));
      expect(mode(path), path).toBe(path === dir ? '700' : '600');
    }
    expect(await again.stop('SIGTERM')).toBe(0);
  });
});

describe('secrets in URLs never reach the log', () => {
  it('masks credential parameters however they are encoded, and signed-link tokens in the path', async () => {
    const LINK_SECRET = 'link-secret-for-the-log-test-0123456789';
    const svc = new ServiceProcess({ QOSWATCH_LINK_SECRET: LINK_SECRET });
    await svc.start();
    const link = signLink(LINK_SECRET, { incident: 1, reopened: 0, action: 'ack', recipient: 'alice', expires: Date.now() + 3_600_000 });
    const secrets = ['upper-case-key-0123456789', 'repeated-key-0123456789', 'encoded-token-0123456789', 'plus-secret-0123456789'];
    const paths = [
      // %6B is "k": the router reads this as ?key= (and authenticates with it).
      `/v1/tenant/tickets?%6Bey=${INGEST_KEY}`,
      `/v1/tenant/tickets?%6bey=${INGEST_KEY}&KEY=${secrets[0]}`,
      `/v1/tenant/tickets?key=x&key=${secrets[1]}`,
      `/v1/tenant/tickets?to%6Ben=${secrets[2]}&access%5Ftoken=${secrets[2]}`,
      `/v1/tenant/tickets?secret=${secrets[3]!.replace('-', '+')}`,
      `/v1/links/${link}`,
      `/v1/links/${encodeURIComponent(link)}?x=1`,
      `/v1/%6Cinks/${link}`,
    ];
    for (const path of paths) await (await fetch(`${svc.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
    await waitFor('every request in the log', () => (svc.output.match(/request completed/g) ?? []).length >= paths.length || undefined);
    expect(await svc.stop('SIGTERM')).toBe(0);
    expect(svc.output).toContain('/v1/links/[redacted]');
    expect(svc.output).toContain('key=[redacted]');
    for (const s of [INGEST_KEY, ADMIN_TOKEN, link, encodeURIComponent(link), link.split('.')[0]!, link.split('.')[1]!, ...secrets, secrets[3]!.replace('-', '+')]) {
      expect(svc.output.includes(s), `the log holds ${s}:\n${svc.output.split('\n').filter((l) => l.includes(s)).join('\n')}`).toBe(false);
    }
  });
});

describe.skipIf(!HAVE_INFLUXD)('the service process with a real InfluxDB', () => {
  const influx = useInfluxServer();

  it('SIGTERM stores the open window before exiting 0', async () => {
    await influx().createDb('term');
    const svc = new ServiceProcess({ INFLUX_URL: influx().url, INFLUX_API: 'v1', INFLUX_DB: 'term' }); // 10 s windows, 15 s grace
    await svc.start();
    const ts = Date.now();
    const r = await postTelemetry(svc.url, { samples: [{ ts, region: 'eu', session: 'a', latency_ms: 120 }, { ts, region: 'eu', session: 'b', latency_ms: 80 }] });
    expect(r.body.accepted).toBe(2);
    expect(await svc.stop('SIGTERM')).toBe(0);
    const stored = rows(await influx().query("SELECT samples FROM qos_region WHERE samples > 0", 'term'));
    expect(stored).toEqual([{ time: Math.floor(ts / 10_000) * 10_000, samples: 2 }]);
  });

  it('after kill -9 with a non-empty spool, the restarted service drains it', async () => {
    await influx().createDb('kill');
    await influx().stop(); // InfluxDB away: points pile up in the spool
    const env = { INFLUX_URL: influx().url, INFLUX_API: 'v1', INFLUX_DB: 'kill', INFLUX_TIMEOUT: '500ms', QOSWATCH_WINDOW: '1s', QOSWATCH_WINDOW_GRACE: '200ms', QOSWATCH_FLUSH_INTERVAL: '100ms' };
    const svc = new ServiceProcess(env);
    await svc.start();
    const perWindow = new Map<number, number>();
    for (let i = 0; i < 30; i++) {
      const ts = Date.now();
      const r = await postTelemetry(svc.url, { samples: [{ ts, region: 'ap', session: `k${i}`, rtt_ms: 40 }] });
      expect(r.status).toBe(202);
      const w = Math.floor(ts / 1000) * 1000;
      perWindow.set(w, (perWindow.get(w) ?? 0) + 1);
      await new Promise((res) => setTimeout(res, 50));
    }
    await waitFor('points in the spool', async () => (await metric(svc.url, 'qoswatch_spool_depth_points')) >= 2 || undefined);
    expect(await svc.stop('SIGKILL')).toBe('SIGKILL');
    await influx().start();
    const again = new ServiceProcess(env, svc.dataDir);
    await again.start();
    await waitFor('the spool to drain', async () => (await metric(again.url, 'qoswatch_spool_depth_points')) === 0 || undefined, 30_000);
    const last = Math.max(...perWindow.keys());
    const stored = await waitFor('every window', async () => {
      const r = rows(await influx().query("SELECT samples FROM qos_region WHERE samples > 0", 'kill'));
      return r.some((p) => p.time === last) ? r : undefined;
    });
    expect(new Map(stored.map((p) => [p.time as number, p.samples as number]))).toEqual(perWindow);
    expect(await again.stop('SIGTERM')).toBe(0);
    expect(again.output).not.toContain(INGEST_KEY);
  });
});

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitFor } from './ports.js';
import { tempDir } from './tmp.js';

/** Debian's influxd (InfluxDB 1.x), if installed. */
export function influxdPath(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v influxd'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export const HAVE_INFLUXD = influxdPath() !== undefined;

/** The visible reason integration tests against InfluxDB are skipped. */
export const NO_INFLUXD_MESSAGE =
  'influxd is not installed: InfluxDB integration tests are SKIPPED. Install Debian\'s influxdb package (apt-get install influxdb) to run them; .ci/run always does.';

export interface InfluxSeriesResult {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

/**
 * A throwaway InfluxDB 1.x on loopback with its own data dir. `stop()` and `start()` keep the port and data,
 * for outage tests.
 */
export class InfluxServer {
  readonly url: string;
  private proc: ChildProcess | undefined;
  private constructor(
    private readonly dir: string,
    readonly port: number,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  /** The influxd process id while it runs (benchmarks read its CPU time). */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  static async launch(): Promise<InfluxServer> {
    const dir = tempDir('qoswatch-influxd');
    const [http, rpc] = [await freePort(), await freePort()];
    writeFileSync(
      join(dir, 'influxdb.conf'),
      `reporting-disabled = true
bind-address = "127.0.0.1:${rpc}"
[meta]
  dir = "${dir}/meta"
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
  trace-logging-enabled = false
[http]
  bind-address = "127.0.0.1:${http}"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
`,
    );
    const s = new InfluxServer(dir, http);
    await s.start();
    return s;
  }

  async start(): Promise<void> {
    if (this.proc) return;
    this.proc = spawn(influxdPath()!, ['run', '-config', join(this.dir, 'influxdb.conf')], { stdio: 'ignore' });
    const proc = this.proc;
    proc.once('exit', () => {
      if (this.proc === proc) this.proc = undefined;
    });
    await waitFor('influxd to answer /ping', async () => (await fetch(`${this.url}/ping`)).status === 204 || undefined);
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    this.proc = undefined;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Runs InfluxQL; throws on an error in the answer. */
  async query(q: string, db?: string): Promise<InfluxSeriesResult[]> {
    const u = new URL('/query', this.url);
    u.searchParams.set('q', q);
    if (db) u.searchParams.set('db', db);
    u.searchParams.set('epoch', 'ms');
    const res = await fetch(u, { method: 'POST' });
    const body = (await res.json()) as { results?: { series?: InfluxSeriesResult[]; error?: string }[]; error?: string };
    const err = body.error ?? body.results?.find((r) => r.error)?.error;
    if (err) throw new Error(`InfluxQL error for "${q}": ${err}`);
    return body.results?.[0]?.series ?? [];
  }

  async createDb(name: string): Promise<void> {
    await this.query(`CREATE DATABASE "${name}"`);
  }
}

/** Rows of a query result as objects keyed by column (tags merged in). */
export function rows(series: InfluxSeriesResult[]): Record<string, unknown>[] {
  return series.flatMap((s) => s.values.map((v) => ({ ...s.tags, ...Object.fromEntries(s.columns.map((c, i) => [c, v[i]])) })));
}

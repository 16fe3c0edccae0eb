import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ENV_VARS, loadEnv } from '../../src/config/env.js';
import { parseFileConfig } from '../../src/config/file.js';
import { parseOnCall } from '../../src/oncall/config.js';
import { appsClosedAfterEach } from '../helpers/app.js';

/**
 * docker-compose.yml, its Dockerfile, the Grafana provisioning files and the InfluxDB init script, checked against
 * each other and against the repo: there is no Docker engine to `docker compose up` on the machines the tests run on.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (rel: string) => readFileSync(resolve(root, rel), 'utf8');

/** Environment variables the service reads. */
const KNOWN_ENV = new Set<string>(ENV_VARS);

type EnvBlock = Record<string, string | number | boolean | null> | string[];
type Volume = string | { type?: string; source?: string; target: string; read_only?: boolean };
type Port = string | number | { target: number | string; published?: number | string };
interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  environment?: EnvBlock;
  ports?: Port[];
  volumes?: Volume[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: unknown; disable?: boolean };
  restart?: string;
  mem_limit?: string;
  deploy?: { resources?: { limits?: { memory?: string } } };
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const composeText = read('docker-compose.yml');
const compose = parse(composeText) as Compose;
const services = compose.services ?? {};
const service = (name: string): Service => {
  const s = services[name];
  if (!s) throw new Error(`docker-compose.yml has no service "${name}"`);
  return s;
};

/**
 * Compose interpolation with nothing set in the environment (no .env): `${X:-default}` and `${X-default}` give the
 * default, `${X}` and `$X` give "", `$$` is a literal `$`, `${X:?message}` fails like `docker compose up` would.
 */
function interpolate(value: string): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m, name: string | undefined, op: string | undefined, arg: string | undefined) => {
    if (m === '$$') return '$';
    if (op?.endsWith('?')) throw new Error(`\${${name}} is required: ${arg}`);
    return op ? (arg ?? '') : '';
  });
}

/** Every string of a parsed YAML document, with its path. */
function* strings(node: unknown, path = ''): Generator<[string, string]> {
  if (typeof node === 'string') yield [path, node];
  else if (Array.isArray(node)) for (const [i, v] of node.entries()) yield* strings(v, `${path}[${i}]`);
  else if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) yield* strings(v, path ? `${path}.${k}` : k);
}

function envOf(s: Service): Record<string, string> {
  const out: Record<string, string> = {};
  const block = s.environment ?? {};
  if (Array.isArray(block)) {
    for (const line of block) {
      const eq = line.indexOf('=');
      out[eq < 0 ? line : line.slice(0, eq)] = eq < 0 ? '' : interpolate(line.slice(eq + 1));
    }
  } else {
    for (const [k, v] of Object.entries(block)) out[k] = v === null ? '' : interpolate(String(v));
  }
  return out;
}

interface Mount {
  source: string;
  target: string;
  bind: boolean;
  readOnly: boolean;
}
function mountsOf(s: Service): Mount[] {
  return (s.volumes ?? []).map((v) => {
    if (typeof v !== 'string') {
      const source = interpolate(v.source ?? '');
      return { source, target: v.target, bind: v.type === 'bind', readOnly: v.read_only === true };
    }
    const [source = '', target = '', mode = ''] = interpolate(v).split(':');
    return { source, target, bind: /^[./~]/.test(source), readOnly: mode.split(',').includes('ro') };
  });
}

/** The host file or directory behind a path inside a service's container (through its bind mounts), if any. */
function hostPathOf(s: Service, containerPath: string): string | undefined {
  const m = mountsOf(s)
    .filter((x) => x.bind && (containerPath === x.target || containerPath.startsWith(`${x.target}/`)))
    .sort((a, b) => b.target.length - a.target.length)[0];
  return m && resolve(root, m.source, posix.relative(m.target, containerPath));
}

interface Published {
  /** The host address it binds (compose's default: every interface). */
  address: string;
  host: number | undefined;
  container: number;
}
function portsOf(s: Service): Published[] {
  return (s.ports ?? []).map((p) => {
    if (typeof p === 'object') return { address: (p as { host_ip?: string }).host_ip ?? '0.0.0.0', host: p.published === undefined ? undefined : Number(p.published), container: Number(p.target) };
    const parts = String(p).replace(/\/(tcp|udp)$/, '').split(':');
    const container = Number(parts.at(-1));
    return { address: parts.length > 2 ? parts.slice(0, -2).join(':') : '0.0.0.0', host: parts.length > 1 ? Number(parts.at(-2)) : undefined, container };
  });
}
const LOOPBACK = ['127.0.0.1', '[::1]', '::1'];

/** Restart policies that bring a crashed or killed (out of memory) container back. */
const RESTARTS = ['unless-stopped', 'always', 'on-failure'];
const memoryLimitOf = (s: Service) => s.mem_limit ?? s.deploy?.resources?.limits?.memory;
/** Compose's memory sizes ("512m", "1g", "1gb") in bytes. */
const bytesOf = (size: string) => {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmg])?b?$/i.exec(size.trim());
  if (!m) throw new Error(`not a memory size: ${size}`);
  return Number(m[1]) * 1024 ** 'bkmg'.indexOf((m[2] ?? 'b').toLowerCase());
};
const hostPortFor = (s: Service, container: number) => portsOf(s).find((p) => p.container === container)?.host;

const dependsOn = (s: Service): [string, string][] =>
  Array.isArray(s.depends_on) ? s.depends_on.map((d) => [d, 'service_started']) : Object.entries(s.depends_on ?? {}).map(([d, v]) => [d, v?.condition ?? 'service_started']);

const buildContext = (s: Service): string | undefined => (typeof s.build === 'string' ? s.build : s.build?.context);

/** The Dockerfile, split into stages (each from its FROM line), with line continuations joined. */
const dockerfile = read('Dockerfile')
  .replace(/\\\r?\n/g, ' ')
  .split(/\r?\n/)
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const stages = dockerfile.reduce<string[][]>((acc, line) => {
  if (/^FROM\s/i.test(line)) acc.push([line]);
  else acc.at(-1)?.push(line);
  return acc;
}, []);
const runtime = stages.at(-1) ?? [];
const instr = (stage: string[], name: string) => stage.filter((l) => new RegExp(`^${name}\\s`, 'i').test(l)).map((l) => l.replace(/^\S+\s+/, ''));

// Grafana provisioning, as the compose file mounts it.
const grafana = service('grafana');
const provisioningFiles = (containerDir: string): [string, unknown][] => {
  const dir = hostPathOf(grafana, containerDir);
  if (!dir || !existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => [join(dir, f), parse(readFileSync(join(dir, f), 'utf8'))]);
};
interface DatasourceDoc {
  name?: string;
  uid?: string;
  type?: string;
  access?: string;
  url?: string;
  isDefault?: boolean;
  jsonData?: Record<string, unknown>;
  secureJsonData?: Record<string, unknown>;
}
const datasources = provisioningFiles('/etc/grafana/provisioning/datasources').flatMap(([, doc]) => ((doc as { datasources?: DatasourceDoc[] }).datasources ?? []));
const datasource = datasources[0];

// The InfluxDB init script, as the compose file mounts it.
const influxdb = service('influxdb');
const initScripts = mountsOf(influxdb).filter((m) => m.bind && m.target.startsWith('/docker-entrypoint-initdb.d'));
const dbrpScriptPath = resolve(root, 'docker/influxdb/init-dbrp.sh');
const dbrpScript = existsSync(dbrpScriptPath) ? readFileSync(dbrpScriptPath, 'utf8') : '';
const scriptVar = (name: string) => new RegExp(`^${name}=["']?([^"'\\s]+)["']?\\s*$`, 'm').exec(dbrpScript)?.[1];

describe('docker-compose.yml', () => {
  it('has InfluxDB 2.7, Grafana, Mailpit and qoswatch, on pinned images or built from the repo', () => {
    expect(Object.keys(services).sort()).toEqual(['grafana', 'influxdb', 'mailpit', 'qoswatch']);
    expect(influxdb.image).toMatch(/^influxdb:2\.7(\.\d+)?$/);
    expect(grafana.image).toMatch(/^grafana\/grafana:1[12]\.\d+\.\d+$/);
    expect(service('mailpit').image).toMatch(/^axllent\/mailpit:v\d+\.\d+/);
    expect(buildContext(service('qoswatch'))).toBe('.');
  });

  it('gives every variable it interpolates a default, so `docker compose up` needs no .env', () => {
    const refs = [...strings(compose)].flatMap(([path, v]) => [...v.matchAll(/\$\$|\$\{[^}]*\}|\$[A-Za-z_]\w*/g)].map((m) => [path, m[0]] as const));
    expect(refs.length).toBeGreaterThan(0);
    for (const [path, ref] of refs) if (ref !== '$$') expect(ref, path).toMatch(/^\$\{[A-Za-z_]\w*:-[^}]*\}$/);
  });

  it('bind-mounts only paths of the repo that exist, and declares its named volumes', () => {
    let binds = 0;
    for (const [name, s] of Object.entries(services)) {
      for (const m of mountsOf(s)) {
        if (m.bind) {
          binds++;
          expect(m.source, `${name}: host paths relative to the repo`).toMatch(/^\.\//);
          expect(existsSync(resolve(root, m.source)), `${name}: ${m.source} exists`).toBe(true);
          expect(m.readOnly, `${name}: ${m.source} is mounted read-only`).toBe(true);
        } else {
          expect(Object.keys(compose.volumes ?? {}), `${name}: volume ${m.source}`).toContain(m.source);
        }
      }
    }
    expect(binds).toBeGreaterThan(0);
  });

  it('publishes qoswatch on PORT, Grafana on 3000, Mailpit on 8025 and 1025, InfluxDB on 8086, as its header says', () => {
    const qoswatch = service('qoswatch');
    const port = Number(envOf(qoswatch).PORT);
    expect(port).toBe(8080);
    const expected: [string, number][] = [['qoswatch', port], ['grafana', 3000], ['mailpit', 8025], ['mailpit', 1025], ['influxdb', 8086]];
    for (const [name, p] of expected) expect(hostPortFor(service(name), p), `${name} publishes ${p}`).toBe(p);
    const hostPorts = Object.values(services).flatMap((s) => portsOf(s).map((p) => p.host));
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
    const header = composeText.slice(0, composeText.indexOf('\nservices:'));
    for (const p of [port, 3000, 8025, 8086]) expect(header).toContain(`http://localhost:${p}`);
  });

  it('restarts every service unless stopped by hand and limits its memory (qoswatch: at least twice its heap limit)', () => {
    for (const [name, s] of Object.entries(services)) {
      expect(RESTARTS, `${name}: restart`).toContain(s.restart);
      expect(memoryLimitOf(s), `${name}: memory limit`).toBeDefined();
    }
    const heapMiB = Number(/--max-old-space-size=(\d+)/.exec(instr(runtime, 'ENV').join(' '))?.[1]);
    expect(heapMiB).toBeGreaterThan(0);
    expect(bytesOf(memoryLimitOf(service('qoswatch'))!)).toBeGreaterThanOrEqual(2 * heapMiB * 1024 ** 2);
    expect(bytesOf('512m')).toBe(512 * 1024 ** 2);
    expect(bytesOf('1gb')).toBe(1024 ** 3);
  });

  it("checks qoswatch's health on /readyz with Node (the slim image has no curl or wget)", () => {
    const test = service('qoswatch').healthcheck?.test as string[];
    expect(test.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
    expect(test[3]).toContain(`'http://127.0.0.1:${envOf(service('qoswatch')).PORT}/readyz'`);
  });

  it('publishes on loopback only, but qoswatch (players send it telemetry), whose own credentials have no public default', () => {
    for (const [name, s] of Object.entries(services)) {
      expect(portsOf(s).length, `${name} publishes ports`).toBeGreaterThan(0);
      if (name !== 'qoswatch') for (const p of portsOf(s)) expect(LOOPBACK, `${name}: ${p.container} bound to ${p.address}`).toContain(p.address);
    }
    expect(portsOf({ ports: ['8080:8080', '127.0.0.1:3000:3000', '[::1]:9:9'] }).map((p) => p.address)).toEqual(['0.0.0.0', '127.0.0.1', '[::1]']);
    const env = envOf(service('qoswatch'));
    const own = Object.keys(env).filter((k) => /^QOSWATCH_\w*(PASSWORD|TOKEN|KEY|SECRET)$/.test(k));
    expect(own).toEqual(expect.arrayContaining(['QOSWATCH_INGEST_KEY', 'QOSWATCH_ADMIN_TOKEN']));
    for (const k of own) expect(env[k], `${k}: generated at first start unless set`).toBe('');
  });

  it('makes services depend only on existing services, waiting for health only where there is a healthcheck', () => {
    const deps = Object.entries(services).flatMap(([name, s]) => dependsOn(s).map(([d, c]) => [name, d, c] as const));
    expect(deps).toContainEqual(['qoswatch', 'influxdb', 'service_healthy']);
    expect(deps).toContainEqual(['qoswatch', 'mailpit', 'service_started']);
    for (const [name, dep, condition] of deps) {
      expect(services, `${name} depends on ${dep}`).toHaveProperty([dep]);
      expect(['service_started', 'service_healthy', 'service_completed_successfully']).toContain(condition);
      if (condition === 'service_healthy') {
        const d = service(dep);
        const composeCheck = d.healthcheck !== undefined && d.healthcheck.disable !== true;
        const imageCheck = buildContext(d) === '.' && instr(runtime, 'HEALTHCHECK').some((h) => !/^NONE\b/i.test(h));
        expect(composeCheck || imageCheck, `${dep} has a healthcheck for ${name} to wait on`).toBe(true);
      }
    }
  });
});

describe('Grafana provisioning', () => {
  it('mounts the datasource and dashboard provisioning folders of the repo', () => {
    expect(hostPathOf(grafana, '/etc/grafana/provisioning/datasources')).toBe(resolve(root, 'dashboards/provisioning/datasources'));
    expect(hostPathOf(grafana, '/etc/grafana/provisioning/dashboards')).toBe(resolve(root, 'dashboards/provisioning/dashboards'));
  });

  it('loads the dashboards from where the compose file mounts the generated JSON files', () => {
    const providers = provisioningFiles('/etc/grafana/provisioning/dashboards').flatMap(([, doc]) => (doc as { apiVersion?: number; providers?: Record<string, unknown>[] }).providers ?? []);
    expect(providers).toHaveLength(1);
    const p = providers[0]!;
    expect(p).toMatchObject({ type: 'file', folder: 'qoswatch', allowUiUpdates: false, updateIntervalSeconds: 30, options: { foldersFromFilesStructure: false } });
    const path = (p.options as { path: string }).path;
    const mount = mountsOf(grafana).find((m) => m.target === path);
    expect(mount, `a grafana volume mounts ${path}`).toBeDefined();
    expect(resolve(root, mount!.source)).toBe(resolve(root, 'dashboards'));
    const boards = (readdirSync(resolve(root, mount!.source), { recursive: true }) as string[]).filter((f) => f.endsWith('.json'));
    expect(boards.length, 'dashboards/ holds at least one *.json dashboard').toBeGreaterThan(0);
    // Grafana loads every *.json file under the path: each must be a dashboard that picks an InfluxDB datasource.
    for (const f of boards) {
      const board = JSON.parse(readFileSync(resolve(root, mount!.source, f), 'utf8')) as { uid?: unknown; title?: unknown; templating?: { list?: { name?: string; type?: string; query?: unknown }[] } };
      expect(typeof board.uid, `${f}: uid`).toBe('string');
      expect(typeof board.title, `${f}: title`).toBe('string');
      const dsVar = board.templating?.list?.find((v) => v.type === 'datasource');
      expect(dsVar, `${f}: a datasource variable`).toMatchObject({ name: 'datasource', query: datasource?.type });
    }
    const home = envOf(grafana).GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    if (home) expect(existsSync(hostPathOf(grafana, home) ?? ''), `home dashboard ${home}`).toBe(true);
  });

  it('provisions one default InfluxQL datasource on the influxdb service', () => {
    expect(datasources).toHaveLength(1);
    expect(datasource).toMatchObject({ name: 'InfluxDB (qoswatch)', uid: 'qoswatch-influxdb', type: 'influxdb', access: 'proxy', isDefault: true });
    expect(datasource!.jsonData).toMatchObject({ dbName: 'qos', httpMode: 'POST', httpHeaderName1: 'Authorization' });
    expect(datasource!.jsonData!.version ?? 'InfluxQL').toBe('InfluxQL');
    const url = new URL(datasource!.url ?? '');
    expect(services).toHaveProperty([url.hostname]);
    expect(portsOf(service(url.hostname)).map((p) => p.container)).toContain(Number(url.port));
  });

  it('authenticates with the token InfluxDB was set up with, the one qoswatch writes with', () => {
    const header = String(datasource?.secureJsonData?.httpHeaderValue1 ?? '');
    const name = /^Token \$\{?([A-Za-z_]\w*)\}?$/.exec(header)?.[1];
    expect(name, `httpHeaderValue1 "${header}" reads the token from Grafana's environment`).toBeDefined();
    const token = envOf(grafana)[name!];
    expect(token, `grafana sets ${name}`).toBeTruthy();
    expect(envOf(influxdb).DOCKER_INFLUXDB_INIT_ADMIN_TOKEN).toBe(token);
    expect(envOf(service('qoswatch')).INFLUX_TOKEN).toBe(token);
  });
});

describe('InfluxDB DBRP init script', () => {
  it('is mounted as an executable POSIX sh script where the influxdb image runs it after setup', () => {
    expect(envOf(influxdb).DOCKER_INFLUXDB_INIT_MODE).toBe('setup');
    expect(initScripts.map((m) => [resolve(root, m.source), m.target])).toEqual([[dbrpScriptPath, '/docker-entrypoint-initdb.d/init-dbrp.sh']]);
    expect(statSync(dbrpScriptPath).mode & 0o111, 'executable (run-parts skips other files)').toBe(0o111);
    expect(dbrpScript.split('\n')[0]).toBe('#!/bin/sh');
    expect(spawnSync('sh', ['-n', dbrpScriptPath]).status).toBe(0);
    // The variables it reads from the image's setup are set on the service (the *_ID ones are exported by the image).
    const reads = new Set([...dbrpScript.matchAll(/\$\{?(DOCKER_INFLUXDB_INIT_[A-Z_]+)/g)].map((m) => m[1]!).filter((v) => !v.endsWith('_ID')));
    expect(reads.size).toBeGreaterThan(0);
    for (const v of reads) expect(envOf(influxdb), v).toHaveProperty([v]);
  });

  it("maps the datasource's database to the bucket qoswatch writes to", () => {
    const qoswatch = envOf(service('qoswatch'));
    const setup = envOf(influxdb);
    expect(scriptVar('DBRP_DB')).toBe(datasource?.jsonData?.dbName);
    expect(scriptVar('DBRP_RP')).toBe('autogen');
    expect(scriptVar('DBRP_BUCKET')).toBe(qoswatch.INFLUX_BUCKET);
    expect(setup.DOCKER_INFLUXDB_INIT_BUCKET).toBe(qoswatch.INFLUX_BUCKET);
    expect(setup.DOCKER_INFLUXDB_INIT_ORG).toBe(qoswatch.INFLUX_ORG);
  });

  // The influx CLI stand-in answers like influx-cli 2.7: explicit mappings, then a virtual section.
  const fakeInflux = `#!/bin/sh
echo "$*" >> "$FAKE_LOG"
case "$1 $2 $3" in
  "v1 dbrp list")
    [ "$FAKE_FAIL" = 1 ] && { echo "Error: failed to list dbrps" >&2; exit 1; }
    [ "$FAKE_EXPLICIT" = 1 ] && printf '0a1\\tqos\\tb0b\\tautogen\\ttrue\\tfalse\\t0rg\\n'
    printf '\\nVIRTUAL DBRP MAPPINGS (READ-ONLY)\\n----------------------------------\\n'
    printf 'b0b\\tqos\\tb0b\\tautogen\\ttrue\\ttrue\\t0rg\\n' ;;
  "v1 dbrp create") echo created ;;
  "bucket list --org") printf 'b1b\\tqos\\t720h0m0s\\tn/a\\t0rg\\n' ;;
  *) echo "unexpected: $*" >&2; exit 3 ;;
esac
`;
  const run = (env: Record<string, string>) => {
    const dir = mkdtempSync(join(process.env.QOSWATCH_TEST_TMP ?? tmpdir(), 'fake-influx-'));
    writeFileSync(join(dir, 'influx'), fakeInflux, { mode: 0o755 });
    const log = join(dir, 'calls.log');
    writeFileSync(log, '');
    const r = spawnSync(dbrpScriptPath, [], {
      encoding: 'utf8',
      env: { PATH: `${dir}:${process.env.PATH ?? '/usr/bin:/bin'}`, FAKE_LOG: log, DOCKER_INFLUXDB_INIT_ORG: 'qoswatch', DOCKER_INFLUXDB_INIT_BUCKET: 'qos', ...env },
    });
    return { status: r.status, stdout: r.stdout, calls: readFileSync(log, 'utf8').trim().split('\n') };
  };

  it('creates the default mapping to the bucket the setup made when only the virtual one exists', () => {
    const r = run({ DOCKER_INFLUXDB_INIT_BUCKET_ID: 'b0b' });
    expect(r.status).toBe(0);
    expect(r.calls).toEqual([
      'v1 dbrp list --org qoswatch --db qos --rp autogen --hide-headers',
      'v1 dbrp create --org qoswatch --db qos --rp autogen --bucket-id b0b --default',
    ]);
  });

  it('looks the bucket up by name when its id was not exported', () => {
    const r = run({});
    expect(r.status).toBe(0);
    expect(r.calls.at(-1)).toBe('v1 dbrp create --org qoswatch --db qos --rp autogen --bucket-id b1b --default');
  });

  it('leaves an existing explicit mapping alone, and stops when it cannot list the mappings', () => {
    const again = run({ DOCKER_INFLUXDB_INIT_BUCKET_ID: 'b0b', FAKE_EXPLICIT: '1' });
    expect(again.status).toBe(0);
    expect(again.calls).toEqual(['v1 dbrp list --org qoswatch --db qos --rp autogen --hide-headers']);
    expect(again.stdout).toMatch(/already mapped/);
    const broken = run({ DOCKER_INFLUXDB_INIT_BUCKET_ID: 'b0b', FAKE_FAIL: '1' });
    expect(broken.status).not.toBe(0);
    expect(broken.calls.some((c) => c.startsWith('v1 dbrp create'))).toBe(false);
  });
});

describe('qoswatch service', () => {
  const qoswatch = service('qoswatch');
  const env = envOf(qoswatch);

  it('sets only environment variables qoswatch reads, with values it accepts', () => {
    for (const k of Object.keys(env)) expect(KNOWN_ENV.has(k), `${k} is a qoswatch environment variable`).toBe(true);
    expect(() => loadEnv(env)).not.toThrow();
    expect(env.QOSWATCH_GRAFANA_URL).toBe(`http://localhost:${hostPortFor(grafana, 3000)}`);
    expect(env.QOSWATCH_PUBLIC_URL).toBe(`http://localhost:${hostPortFor(qoswatch, Number(env.PORT))}`);
  });

  it('writes to the influxdb service and mails through the mailpit service', () => {
    const parsed = loadEnv(env);
    const influx = new URL(parsed.INFLUX_URL ?? '');
    expect(influx.hostname).toBe('influxdb');
    expect(portsOf(influxdb).map((p) => p.container)).toContain(Number(influx.port));
    expect(parsed.INFLUX_API).toBe('v2');
    const smtp = new URL(parsed.SMTP_URL ?? '');
    expect(smtp.protocol).toBe('smtp:');
    expect(smtp.hostname).toBe('mailpit');
    expect(Number(smtp.port)).toBe(1025);
    expect(portsOf(service(smtp.hostname)).map((p) => p.container)).toContain(Number(smtp.port));
  });

  it('mounts the rules, config and on-call files its variables name, valid as they are, and keeps its data in a volume', () => {
    const rules = hostPathOf(qoswatch, env.QOSWATCH_RULES_DIR ?? '');
    expect(rules).toBe(resolve(root, 'alert-rules'));
    const config = hostPathOf(qoswatch, env.QOSWATCH_CONFIG ?? '');
    expect(config, 'QOSWATCH_CONFIG is a mounted file').toBeDefined();
    expect(parseFileConfig(readFileSync(config!, 'utf8'), config!).default_tenant).toBeTruthy();
    const oncall = hostPathOf(qoswatch, env.QOSWATCH_ONCALL ?? '');
    expect(oncall).toBe(resolve(root, 'oncall.example.yaml'));
    expect(() => parseOnCall(readFileSync(oncall!, 'utf8'), oncall!, Date.now())).not.toThrow();
    const data = mountsOf(qoswatch).find((m) => m.target === env.QOSWATCH_DATA_DIR);
    expect(data?.bind).toBe(false);
  });
});

describe('Dockerfile', () => {
  it('builds in stages and runs as a non-root user with a healthcheck', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const user = instr(runtime, 'USER').at(-1);
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    const health = instr(runtime, 'HEALTHCHECK').at(-1) ?? '';
    expect(health).toMatch(/\bCMD\b/);
    expect(health).toMatch(/'\/readyz'/);
    expect(instr(runtime, 'EXPOSE').join(' ').split(/\s+/)).toContain(envOf(service('qoswatch')).PORT);
  });

  const start = appsClosedAfterEach();
  /** A command's exit code (asynchronous: the app under test answers from this process). */
  const exitOf = (cmd: string, args: string[], env: Record<string, string> = {}) =>
    new Promise<number | null>((done) => spawn(cmd, args, { env: { PATH: process.env.PATH, ...env }, stdio: 'ignore' }).on('close', done));

  it("has a HEALTHCHECK that, like the compose file's, passes against a ready qoswatch and fails once it is gone", async () => {
    const t = await start();
    const port = new URL(t.url).port;
    const image = () => exitOf('sh', ['-c', instr(runtime, 'HEALTHCHECK').at(-1)!.replace(/^.*?\bCMD\s+/, '')], { PORT: port });
    const [cmd, ...args] = (service('qoswatch').healthcheck!.test as string[]).slice(1).map((a) => a.replace(':8080/', `:${port}/`));
    const compose = () => exitOf(cmd!, args);
    expect([await image(), await compose()]).toEqual([0, 0]);
    await t.close();
    expect([await image(), await compose()]).toEqual([1, 1]);
  });

  it('builds and runs on one even-numbered (LTS) Node.js major and one Debian release, a line better-sqlite3 supports', () => {
    const froms = stages.map((s) => /^FROM\s+node:(\d+)-([a-z]+)(-slim)?(\s|$)/i.exec(s[0]!));
    expect(froms.every(Boolean), stages.map((s) => s[0]).join('; ')).toBe(true);
    const majors = new Set(froms.map((m) => m![1]));
    expect(majors.size).toBe(1);
    expect(new Set(froms.map((m) => m![2])).size).toBe(1);
    const major = Number([...majors][0]);
    expect(major % 2, 'LTS lines are even').toBe(0);
    expect(major).toBeGreaterThanOrEqual(26);
    const { engines } = JSON.parse(read('node_modules/better-sqlite3/package.json')) as { engines: { node: string } };
    expect(engines.node.split('||').map((s) => s.trim())).toContain(`${major}.x`);
  });

  it('copies what the runtime needs, where the compose file overlays the rules', () => {
    const workdir = instr(runtime, 'WORKDIR').at(-1) ?? '/';
    const copies = instr(runtime, 'COPY').map((c) => c.split(/\s+/).filter((w) => !w.startsWith('--')));
    const target = (folder: string) => {
      const c = copies.find((words) => words.slice(0, -1).some((src) => posix.basename(src) === folder));
      return c && posix.resolve(workdir, c.at(-1)!);
    };
    expect(target('dist')).toBe(posix.join(workdir, 'dist'));
    expect(target('alert-rules')).toBe(envOf(service('qoswatch')).QOSWATCH_RULES_DIR);
    // Sources copied from the build context must not be excluded by .dockerignore.
    const ignored = existsSync(resolve(root, '.dockerignore')) ? read('.dockerignore').split('\n').map((l) => l.trim().replace(/\/$/, '')) : [];
    const fromContext = stages.flatMap((s) => instr(s, 'COPY')).filter((c) => !/--from=/.test(c));
    for (const c of fromContext) {
      for (const src of c.split(/\s+/).filter((w) => !w.startsWith('--')).slice(0, -1)) expect(ignored, `COPY ${src}`).not.toContain(src.replace(/^\.\//, '').split('/')[0]);
    }
  });
});

describe('docker-compose.cluster.yml', () => {
  const text = read('docker-compose.cluster.yml');
  // YAML merge keys (<<: *qoswatch) are how the three nodes share their settings; compose resolves them too.
  const cluster = parse(text, { merge: true }) as Compose;
  const all = cluster.services;
  const nats = Object.keys(all).filter((n) => /^nats-\d$/.test(n));
  const nodes = Object.keys(all).filter((n) => /^qoswatch-\d$/.test(n));

  it('has three NATS servers routed to each other with JetStream, PostgreSQL, InfluxDB and three qoswatch nodes', () => {
    expect(nats).toHaveLength(3);
    expect(nodes).toHaveLength(3);
    for (const n of nats) {
      const command = (all[n] as Service & { command: string[] }).command;
      expect(command).toContain('-js');
      const routes = command[command.indexOf('--routes') + 1]!.split(',').map((r) => new URL(r).hostname);
      expect(routes.sort(), n).toEqual(nats.filter((o) => o !== n));
      expect(all[n]!.healthcheck?.test).toBeDefined();
    }
    expect(all.postgres!.image).toMatch(/^postgres:15/);
    expect(all.influxdb!.image).toMatch(/^influxdb:2\.7/);
  });

  it('configures each node with variables it knows, for the cluster it is in: its PostgreSQL, every NATS, three replicas', () => {
    const pg = envOf(all.postgres!);
    const ids = new Set<string>();
    for (const n of nodes) {
      const env = envOf(all[n]!);
      for (const name of Object.keys(env)) expect(KNOWN_ENV.has(name), `${n}: ${name}`).toBe(true);
      const parsed = loadEnv(env);
      expect(parsed.QOSWATCH_MODE).toBe('cluster');
      const db = new URL(parsed.DATABASE_URL!);
      expect([db.hostname, db.username, decodeURIComponent(db.password), db.pathname]).toEqual(['postgres', pg.POSTGRES_USER, pg.POSTGRES_PASSWORD, `/${pg.POSTGRES_DB}`]);
      expect(parsed.NATS_URL!.split(',').map((u) => new URL(u).hostname).sort()).toEqual(nats);
      expect(parsed.QOSWATCH_NATS_REPLICAS).toBe(nats.length);
      expect(parsed.INFLUX_URL).toBe('http://influxdb:8086');
      expect(parsed.INFLUX_TOKEN).toBe(envOf(all.influxdb!).DOCKER_INFLUXDB_INIT_ADMIN_TOKEN);
      // Keys and tokens generated at start would differ between nodes: all three share fixed ones.
      expect(parsed.QOSWATCH_INGEST_KEY).toBe(envOf(all[nodes[0]!]!).QOSWATCH_INGEST_KEY);
      ids.add(parsed.QOSWATCH_NODE_ID);
      expect(dependsOn(all[n]!).filter(([, c]) => c === 'service_healthy').map(([d]) => d).sort()).toEqual(['influxdb', ...nats, 'postgres'].sort());
      expect(JSON.stringify(all[n]!.healthcheck?.test)).toContain('/readyz');
    }
    expect(ids.size, 'every node has a name of its own').toBe(3);
  });

  it('publishes ports on loopback only, mounts paths that exist, restarts what stops and limits memory', () => {
    for (const [name, s] of Object.entries(all)) {
      for (const p of s.ports ?? []) expect(String(p), name).toMatch(/^127\.0\.0\.1:/);
      for (const m of mountsOf(s).filter((x) => x.bind)) expect(existsSync(resolve(root, m.source)), `${name}: ${m.source}`).toBe(true);
      const x = s as Service & { restart?: string; mem_limit?: string };
      expect(x.restart, name).toBe('unless-stopped');
      expect(x.mem_limit, name).toBeDefined();
    }
    expect(new Set(nodes.map((n) => hostPortFor(all[n]!, 8080))).size).toBe(3);
    const declared = Object.keys(cluster.volumes ?? {});
    for (const s of Object.values(all)) for (const m of mountsOf(s).filter((x) => !x.bind)) expect(declared).toContain(m.source);
  });
});

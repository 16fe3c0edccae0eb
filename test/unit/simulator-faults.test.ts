import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRuleDir } from '../../src/rules/load.js';
import { type SimulateConfig, UsageError, parseSimulateArgs } from '../../src/simulator/cli.js';
import { type Fault, ScenarioError, events, loadScenario, parseFaultFlag, parseScenario } from '../../src/simulator/faults.js';
import { Pacer, scenarioLength } from '../../src/simulator/send.js';
import { tempDir } from '../helpers/tmp.js';
import { billionLaughs } from '../helpers/yaml-bombs.js';

/** Scenario files, --fault flags, the simulate command's options and pacing. */

const ALL_KINDS = `
name: everything
duration: 5m
seed: 7
interval: 5s
sessions: 300
regions: [eu-west, us-east]
diurnal: { peak_hour: 20, trough: 0.5 }
faults:
  - { kind: outage, region: us-east, at: 1m, for: 30s }
  - { kind: stall_storm, cdn: cdn-b, region: eu-west, ratio: 20%, at: 30s, for: 1m }
  - { kind: stall_storm, cdn: cdn-c, ratio: 0.05, at: 0s, for: 500ms }
  - { kind: packet_loss, isp: comcast, loss: 0.08, at: 10s, for: 2m }
  - { kind: latency_creep, region: eu-west, to: 2.5s, at: 1m, for: 2m }
  - { kind: latency_creep, region: us-east, to: 1800, at: 1m, for: 2m }
  - { kind: concurrency_collapse, region: eu-west, drop: 60%, at: 2m, for: 1m }
  - { kind: flapping, region: us-east, period: 20s, at: 3m, for: 1m }
`;

const errorOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected an error');
};

describe('scenario files', () => {
  it('parse every fault kind, with durations, percentages and latencies in their units', () => {
    const s = parseScenario(ALL_KINDS);
    expect(s).toMatchObject({ name: 'everything', duration: 300_000, seed: 7, interval: 5000, sessions: 300, regions: ['eu-west', 'us-east'], diurnal: { peakHour: 20, trough: 0.5 } });
    expect(s.faults).toEqual<Fault[]>([
      { kind: 'outage', region: 'us-east', at: 60_000, for: 30_000 },
      { kind: 'stall_storm', cdn: 'cdn-b', region: 'eu-west', ratio: 0.2, at: 30_000, for: 60_000 },
      { kind: 'stall_storm', cdn: 'cdn-c', ratio: 0.05, at: 0, for: 500 },
      { kind: 'packet_loss', isp: 'comcast', loss: 0.08, at: 10_000, for: 120_000 },
      { kind: 'latency_creep', region: 'eu-west', to: 2500, at: 60_000, for: 120_000 },
      { kind: 'latency_creep', region: 'us-east', to: 1800, at: 60_000, for: 120_000 },
      { kind: 'concurrency_collapse', region: 'eu-west', drop: 0.6, at: 120_000, for: 60_000 },
      { kind: 'flapping', region: 'us-east', ratio: 0.3, period: 20_000, at: 180_000, for: 60_000 },
    ]);
  });

  it('a scenario whose anchors would expand without bound is a ScenarioError naming the file', () => {
    const refused = () => parseScenario(billionLaughs('faults: []'), 'bomb.yaml');
    expect(refused).toThrow(ScenarioError);
    expect(refused).toThrow(/^bomb\.yaml: not valid YAML: too many YAML aliases/);
  });

  it('an empty document is a scenario without faults', () => {
    expect(parseScenario('')).toEqual({ faults: [] });
    expect(parseScenario('faults: []')).toEqual({ faults: [] });
  });

  it('errors name the source and every bad field', () => {
    const BAD_FAULTS = `faults:
  - { kind: stall_storm, cdn: cdn-b, ratio: 1.5, at: 30s, for: 1m }
  - { kind: outage, regoin: eu-west, at: 30s, for: 1m }
  - { kind: packet_loss, isp: att, loss: 5%, for: 1m }
  - { kind: meteor_strike, region: eu-west, at: 1s, for: 1s }
  - { kind: latency_creep, region: eu-west, to: fast, at: 30, for: 1m }
  - { kind: flapping, region: eu-west, at: 0s, for: 1m }
`;
    const msg = errorOf(() =>
      parseScenario(
        `
interval: 10
${BAD_FAULTS}`,
        'my.yaml',
      ),
    );
    expect(msg).toMatch(/^my\.yaml is invalid:/);
    expect(msg).toContain('interval: 10 is not a duration (use e.g. 30s, 2m or 500ms)');
    // the settings error stops before the faults are read; fix it and the faults are reported field by field
    const faults = errorOf(() =>
      parseScenario(
        `
${BAD_FAULTS}`,
        'my.yaml',
      ),
    );
    expect(faults).toContain('faults[0].ratio: must be from 0 to 1');
    expect(faults).toContain('faults[1].regoin: unknown field');
    expect(faults).toContain('faults[1].region: is required (a name, e.g. eu-west)');
    expect(faults).toContain('faults[2].at: is required (a duration such as 30s)');
    expect(faults).toContain('faults[3].kind: kind must be one of outage, stall_storm, packet_loss, latency_creep, concurrency_collapse, flapping');
    expect(faults).toContain('faults[4].to: "fast" is not a latency');
    expect(faults).toContain('faults[4].at: 30 is not a duration');
    expect(faults).toContain('faults[5].period: is required (a duration');
    expect(faults.split('\n')).toHaveLength(9);
  });

  it('unknown settings and bad YAML are named too', () => {
    expect(errorOf(() => parseScenario('sesions: 10', 's.yaml'))).toContain('sesions: unknown field');
    expect(errorOf(() => parseScenario('regions: []', 's.yaml'))).toContain('regions: ');
    expect(errorOf(() => parseScenario('faults: [ {kind: outage', 's.yaml'))).toMatch(/^s\.yaml: not valid YAML \(line \d+\)/);
    expect(errorOf(() => parseScenario('- just\n- a list', 's.yaml'))).toMatch(/s\.yaml is invalid:\n {2}\(top level\): /);
  });

  it('loadScenario names a missing file', () => {
    expect(() => loadScenario('/nonexistent/demo.yaml')).toThrow(ScenarioError);
    expect(errorOf(() => loadScenario('/nonexistent/demo.yaml'))).toContain('/nonexistent/demo.yaml: cannot read the scenario file (ENOENT)');
  });

  it('the shipped demo scenario and its rules are valid (1 s aggregation windows), and each fault names its region', () => {
    const s = loadScenario('scenarios/demo.yaml');
    expect(s.faults.length).toBeGreaterThan(0);
    for (const f of s.faults) expect(f.region, f.kind).toBeDefined();
    expect(scenarioLength(s.duration, s.faults)).toBeLessThanOrEqual(90_000);
    const rules = loadRuleDir('scenarios/demo-rules', { windowMs: 1000, horizonMs: 300_000 });
    expect(rules.rules.map((r) => r.id)).toContain('stall-ratio');
  });
});

describe('--fault flags', () => {
  it('take the same fields as a scenario file', () => {
    expect(parseFaultFlag('stall_storm:cdn=cdn-b,region=eu-west,ratio=0.2,at=30s,for=60s')).toEqual({ kind: 'stall_storm', cdn: 'cdn-b', region: 'eu-west', ratio: 0.2, at: 30_000, for: 60_000 });
    expect(parseFaultFlag('outage:region=ap-south,at=0s,for=2m')).toEqual({ kind: 'outage', region: 'ap-south', at: 0, for: 120_000 });
    expect(parseFaultFlag('packet_loss: isp=jio, loss=12%, at=1m, for=1m')).toEqual({ kind: 'packet_loss', isp: 'jio', loss: 0.12, at: 60_000, for: 60_000 });
    expect(parseFaultFlag('latency_creep:region=eu-west,to=3000,at=0s,for=5m')).toMatchObject({ to: 3000 });
    expect(parseFaultFlag('concurrency_collapse:region=eu-west,drop=.5,at=0s,for=1m')).toMatchObject({ drop: 0.5 });
    expect(parseFaultFlag('flapping:region=eu-west,cdn=cdn-a,ratio=40%,period=15s,at=0s,for=1m')).toMatchObject({ cdn: 'cdn-a', ratio: 0.4, period: 15_000 });
  });

  it('errors name the flag and the field', () => {
    expect(errorOf(() => parseFaultFlag('stall_storm:cdn=cdn-b,ratio=2,at=30s,for=60s'))).toBe('--fault stall_storm:cdn=cdn-b,ratio=2,at=30s,for=60s: ratio: must be from 0 to 1 (or 0% to 100%), got 2');
    expect(errorOf(() => parseFaultFlag('stall_storm:cdn=cdn-b,ratio=0.2,at=30s'))).toContain(': for: is required (a duration such as 30s)');
    expect(errorOf(() => parseFaultFlag('stall_storm:cdn=cdn-b,ratio=0.2,at=30s,for=60s,colour=red'))).toContain('colour: unknown field');
    expect(errorOf(() => parseFaultFlag('stall_storm:cdn=cdn-b,ratio,at=30s,for=60s'))).toContain('"ratio" is not key=value');
    expect(errorOf(() => parseFaultFlag('outage:region=a,region=b,at=1s,for=1s'))).toContain('region given twice');
    expect(errorOf(() => parseFaultFlag('earthquake:region=eu-west,at=1s,for=1s'))).toContain('kind: kind must be one of outage,');
    expect(errorOf(() => parseFaultFlag('Stall-Storm'))).toContain('expected kind:key=value');
    expect(errorOf(() => parseFaultFlag('packet_loss:isp=jio,loss=lots,at=1s,for=1s'))).toContain('loss: "lots" is not a share');
    expect(errorOf(() => parseFaultFlag('outage:region=eu-west,at=1s,for=0s'))).toContain('for: must be at least 1ms');
  });
});

describe('events', () => {
  it('list each fault`s start and end in time order, ends before starts at the same instant, flapping toggles between', () => {
    const faults: Fault[] = [
      { kind: 'stall_storm', cdn: 'cdn-b', region: 'eu-west', ratio: 0.2, at: 30_000, for: 30_000 },
      { kind: 'outage', region: 'us-east', at: 60_000, for: 10_000 },
      { kind: 'flapping', region: 'ap-south', ratio: 0.3, period: 10_000, at: 0, for: 35_000 },
    ];
    const list = events(faults).map((e) => `${e.at / 1000} ${e.type} #${e.index + 1}`);
    expect(list).toEqual(['0 start #3', '10 off #3', '20 on #3', '30 off #3', '30 start #1', '35 end #3', '60 end #1', '60 start #2', '70 end #2']);
    expect(events(faults)[4]!.text).toBe('stall_storm cdn=cdn-b region=eu-west (stall ratio 20%) for 30s');
  });

  it('a run lasts the scenario`s duration, else 30 s past the last fault, else until stopped', () => {
    const f: Fault[] = [{ kind: 'outage', region: 'x', at: 10_000, for: 20_000 }];
    expect(scenarioLength(90_000, f)).toBe(90_000);
    expect(scenarioLength(undefined, f)).toBe(60_000);
    expect(scenarioLength(undefined, [])).toBeUndefined();
  });
});

describe('qoswatch simulate options', () => {
  const parse = (args: string[], env: NodeJS.ProcessEnv = { QOSWATCH_INGEST_KEY: 'key-from-env-0123456789' }) => parseSimulateArgs(args, env) as SimulateConfig;
  const usage = (args: string[], env?: NodeJS.ProcessEnv) => {
    try {
      parse(args, env);
    } catch (err) {
      expect(err).toBeInstanceOf(UsageError);
      return (err as Error).message;
    }
    throw new Error('expected a usage error');
  };

  it('defaults', () => {
    const c = parse([]);
    expect(c).toMatchObject({ url: 'http://localhost:8080', keys: ['key-from-env-0123456789'], tenants: 1 });
    expect(c.run).toMatchObject({ transport: 'http', rate: 5000, batch: 500, durationMs: undefined, speed: 1, intervalMs: 10_000, seed: 1, sessions: 2000, regions: ['eu-west', 'us-east', 'ap-south'], faults: [] });
    expect(parseSimulateArgs(['--help'], {})).toBe('help');
  });

  it('flags override the scenario file, --fault adds to its faults', () => {
    const dir = tempDir('qoswatch-sim');
    const file = join(dir, 's.yaml');
    writeFileSync(file, 'duration: 2m\nseed: 5\ninterval: 5s\nsessions: 100\nregions: [cn-east]\nfaults:\n  - { kind: outage, region: cn-east, at: 10s, for: 10s }\n');
    const c = parse(['--scenario', file, '--sessions', '50', '--fault', 'packet_loss:isp=jio,loss=0.1,at=20s,for=5s', '--transport', 'ws', '--rate', 'max', '--key', 'k1-0123456789abcdef', '--url', 'http://127.0.0.1:9/']);
    expect(c.url).toBe('http://127.0.0.1:9');
    expect(c.keys).toEqual(['k1-0123456789abcdef']);
    expect(c.run).toMatchObject({ durationMs: 120_000, seed: 5, intervalMs: 5000, sessions: 50, regions: ['cn-east'], transport: 'ws', rate: undefined });
    expect(c.run.faults.map((f) => f.kind)).toEqual(['outage', 'packet_loss']);
    // no duration anywhere: 30 s after the last fault
    expect(parse(['--fault', 'outage:region=eu-west,at=10s,for=20s']).run.durationMs).toBe(60_000);
    expect(parse(['--duration', '90s', '--speed', '10', '--interval', '10s', '--trough', '1']).run).toMatchObject({ durationMs: 90_000, speed: 10, diurnal: { peakHour: 21, trough: 1 } });
  });

  it('bad flags are usage errors naming the flag', () => {
    expect(usage(['--sesions', '10'])).toContain("Unknown option '--sesions'");
    expect(usage(['--sessions', 'many'])).toBe('--sessions: "many" is not a whole number');
    expect(usage(['--sessions=-5'])).toBe('--sessions: must be from 0 to 10000000, got -5');
    expect(usage(['--transport', 'udp'])).toBe('--transport: must be http or ws, got "udp"');
    expect(usage(['--rate', '0'])).toBe('--rate: must be from 1 to 10000000, got 0');
    expect(usage(['--rate', 'fast'])).toBe('--rate: "fast" is not a number');
    expect(usage(['--batch', '6000'])).toBe('--batch: must be from 1 to 5000, got 6000');
    expect(usage(['--interval', '10'])).toContain('--interval: "10" is not a duration');
    expect(usage(['--duration', '0s'])).toContain('--duration: must be from 1s');
    expect(usage(['--speed', '200'])).toContain('--speed: 200× makes the 10s beacon interval shorter than 100ms');
    expect(usage(['--url', 'localhost:8080'])).toContain('--url: "localhost:8080" is not an http(s) URL');
    expect(usage(['--regions', ','])).toBe('--regions: give at least one name');
    expect(usage(['--regions', 'eu-west,eu-west'])).toBe('--regions: a name is listed twice');
    expect(usage(['--peak-hour', '25'])).toBe('--peak-hour: must be from 0 to 24, got 25');
    expect(usage(['--fault', 'outage:region=eu-west'])).toBe('--fault outage:region=eu-west: at: is required (a duration such as 30s); for: is required (a duration such as 30s)');
    expect(usage(['--scenario', '/nonexistent.yaml'])).toContain('--scenario /nonexistent.yaml: cannot read');
    expect(usage([], {})).toContain('--key: no ingest key');
    expect(usage(['--tenants', '3', '--key', 'a-0123456789abcdef'], {})).toContain('--tenants: 3 tenants need 3 ingest keys (1 given)');
    expect(usage(['--tenants', '1', '--key', 'a-0123456789abcdef', '--key', 'b-0123456789abcdef'])).toContain('--tenants: 1 is fewer than the 2 keys');
    expect(usage(['extra'])).toContain("Unexpected argument 'extra'");
  });

  it('several tenants: one per key, or created through the admin API', () => {
    expect(parse(['--key', 'a-0123456789abcdef', '--key', 'b-0123456789abcdef'])).toMatchObject({ tenants: 2, keys: ['a-0123456789abcdef', 'b-0123456789abcdef'] });
    expect(parse(['--tenants', '3'], { QOSWATCH_INGEST_KEY: 'k-0123456789abcdef', QOSWATCH_ADMIN_TOKEN: 'admin-0123456789abcdef' })).toMatchObject({ tenants: 3, adminToken: 'admin-0123456789abcdef' });
  });
});

describe('pacing', () => {
  it('a token bucket in samples: bursts up to its size, then the rate on average', () => {
    const p = new Pacer(1000, 500);
    expect(p.wait(0)).toBe(0);
    p.take(500, 0);
    expect(p.wait(0)).toBe(0); // not in debt yet
    p.take(500, 0); // 500 samples into debt: half a second at 1000/s
    expect(p.wait(0)).toBe(500);
    expect(p.wait(250)).toBe(250);
    expect(p.wait(500)).toBe(0);
    // over a long run, samples taken ≈ rate × time + burst
    const q = new Pacer(2000, 100);
    let sent = 0;
    for (let t = 0; t <= 10_000; t++) {
      if (q.wait(t) === 0) {
        q.take(100, t);
        sent += 100;
      }
    }
    expect(sent).toBeGreaterThanOrEqual(20_000);
    expect(sent).toBeLessThanOrEqual(20_200);
    const unpaced = new Pacer(undefined, 10);
    unpaced.take(1e9, 0);
    expect(unpaced.wait(0)).toBe(0);
  });
});

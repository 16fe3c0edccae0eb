import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, runCliStreams } from '../helpers/service.js';
import { tempDir } from '../helpers/tmp.js';

/** `qoswatch rules test` and `qoswatch oncall test` as the built CLI runs them: output and exit codes. */

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);

const SHIPPED_TESTS = readdirSync('alert-rules/tests').filter((n) => n.endsWith('.test.yaml')).map((n) => join('alert-rules/tests', n));
const SHIPPED_RULES = resolve('alert-rules/live-streaming.yaml');

/** A test file in a temp dir against the shipped rules: 10 % stalled for a minute among 30 viewers (P1 fires). */
function stallTestFile(expectedPriority: string): string {
  const path = join(tempDir('qoswatch-rules-test'), `stall-${expectedPriority}.test.yaml`);
  writeFileSync(
    path,
    `rule_files: [${JSON.stringify(SHIPPED_RULES)}]
tests:
  - name: stalls in eu-west
    input_series:
      - labels: { tenant: acme, region: eu-west }
        sessions: 30x6
        values: { play_ms: 9000, stall_ms: 1000 }
    alerts:
      - eval_time: 50s
        expected: [{ rule: stall-ratio, labels: { tenant: acme, region: eu-west }, priority: ${expectedPriority} }]
`,
  );
  return path;
}

describe('qoswatch rules test', () => {
  it('passes on the shipped rules\' tests (what CI runs)', async () => {
    expect(SHIPPED_TESTS.length).toBeGreaterThan(0);
    const r = await runCliStreams(['rules', 'test', ...SHIPPED_TESTS], {});
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^alert-rules\/tests\/live-streaming\.test\.yaml: \d+ test\(s\) passed \(\d+ ms\)$/m);
    expect(r.code).toBe(0);
  });

  it('a failing case: what was expected and what fired, exit 1; the other files still run', async () => {
    const failing = stallTestFile('P2');
    const passing = stallTestFile('P1');
    const r = await runCliStreams(['rules', 'test', failing, passing], {});
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
    const lines = r.stdout.replace(/\(\d+ ms\)/g, '(N ms)').trimEnd().split('\n');
    expect(lines).toEqual([
      `${failing}: 1 of 1 test(s) FAILED (N ms)`,
      '  FAILED tests[0] "stalls in eu-west" at 50s:',
      '    expected:',
      '      stall-ratio P2 firing {tenant=acme, region=eu-west}',
      '    got:',
      '      stall-ratio P1 firing {tenant=acme, region=eu-west}  (stall_ratio 0.1 > 0.05, 180 samples, 30 sessions)',
      `${passing}: 1 test(s) passed (N ms)`,
    ]);
  });

  it('a malformed file names the field, exit 2 (even beside a failing one)', async () => {
    const bad = join(tempDir('qoswatch-rules-test'), 'bad.test.yaml');
    writeFileSync(bad, `rule_files: [${JSON.stringify(SHIPPED_RULES)}]\ntests:\n  - alerts: [{ eval_time: 1m, expected: [{ rule: stall-ratio, priority: P7 }] }]\n`);
    const r = await runCliStreams(['rules', 'test', stallTestFile('P2'), bad], {});
    expect(r.stderr).toMatch(new RegExp(`^${bad}: tests\\[0\\]\\.alerts\\[0\\]\\.expected\\[0\\]\\.priority: must be one of P0, P1, P2, P3 \\(got the text "P7"\\)$`, 'm'));
    expect(r.stdout).toContain('FAILED');
    expect(r.code).toBe(2);
  });

  it('an invalid rule file under test is a failure (exit 1) listing its problems', async () => {
    const dir = tempDir('qoswatch-rules-test');
    writeFileSync(join(dir, 'rules.yaml'), 'rules:\n  - id: x\n    metric: stall_ratio\n    window: 7s\n    thresholds: { P1: "> 0.05" }\n');
    writeFileSync(join(dir, 'x.test.yaml'), 'rule_files: [rules.yaml]\ntests:\n  - alerts: [{ eval_time: 1m }]\n');
    const r = await runCliStreams(['rules', 'test', join(dir, 'x.test.yaml')], {});
    expect(r.stderr).toContain('the rule files do not load, 1 problem(s):\n  rules.yaml: rule "x": window: must be a multiple of the aggregation window (10s)');
    expect(r.code).toBe(1);
  });

  it('without a file it is a usage error', async () => {
    const r = await runCliStreams(['rules', 'test'], {});
    expect(r.stderr).toBe('qoswatch rules test: missing argument <file>… (qoswatch rules test --help)\n');
    expect(r.code).toBe(2);
  });
});

describe('qoswatch oncall test', () => {
  const paged = (stdout: string) => /level 1: (\S+) \(/.exec(stdout)?.[1];

  it('on the example file: the APAC person at 03:00Z, another one after the daily 09:00 Shanghai handoff', async () => {
    const args = (at: string) => ['oncall', 'test', '--tenant', 'acme', '--region', 'eu-west', '--priority', 'P0', '--at', at, 'oncall.example.yaml'];
    const before = await runCliStreams(args('2026-11-24T03:00:00Z'), {});
    expect(before.stderr).toBe('');
    expect(before.code).toBe(0);
    expect(before.stdout.split('\n').slice(0, 3)).toEqual([
      'a P0 incident of tenant acme, region eu-west opened at 2026-11-24T03:00:00.000Z:',
      '  routing[0] (priority P0, P1, P2) matches: escalation policy "default" (2 level(s), run 3 times)',
      '  +0s     2026-11-24T03:00:00.000Z  level 1: chen-jing (Chen Jing; schedule noc via apac) on noc-feishu, email',
    ]);
    expect(before.stdout).toContain('  +5m     2026-11-24T03:05:00.000Z  level 2: tom (Tom Keller) on noc-slack, email; maria (Maria Lopez) on noc-slack, email; channel noc-slack\n');
    const after = await runCliStreams(args('2026-11-25T03:00:00Z'), {});
    expect(after.code).toBe(0);
    expect(paged(after.stdout)).toBe('li-wei');
  });

  it('reads QOSWATCH_ONCALL like the other oncall commands; P3 pages nobody', async () => {
    const r = await runCliStreams(['oncall', 'test', '--tenant', 'acme', '--priority', 'P3', '--at', '2026-11-24T03:00:00Z'], { QOSWATCH_ONCALL: 'oncall.example.yaml' });
    expect(r).toEqual({ code: 0, stdout: 'a P3 incident of tenant acme opened at 2026-11-24T03:00:00.000Z: P3 never pages\n', stderr: '' });
  });

  it.each([
    [['--priority', 'P0'], '--tenant is required'],
    [['--tenant', 'acme'], '--priority is required'],
    [['--tenant', 'acme', '--priority', 'high'], '--priority: "high" is not one of P0, P1, P2, P3'],
    [['--tenant', 'acme', '--priority', 'P1', '--at', 'tomorrow'], '--at: "tomorrow" is not a time (use RFC 3339, e.g. 2026-12-01T03:00:00Z)'],
    [['--tenant', 'acme', '--priority', 'P1', '--at', '2026-12-01T03:00:00'], '--at: "2026-12-01T03:00:00" is not a time (use RFC 3339, e.g. 2026-12-01T03:00:00Z)'],
  ])('%j is a usage error naming the flag, exit 2', async (flags, message) => {
    const r = await runCliStreams(['oncall', 'test', ...flags, 'oncall.example.yaml'], {});
    expect(r).toEqual({ code: 2, stdout: '', stderr: `qoswatch oncall test: ${message} (qoswatch oncall test --help)\n` });
  });

  it('an invalid on-call file: the problem, exit 1', async () => {
    const file = join(tempDir('qoswatch-oncall-test'), 'oncall.yaml');
    writeFileSync(file, 'people: [{ id: Bad Id, name: x }]\n');
    const r = await runCliStreams(['oncall', 'test', '--tenant', 'acme', '--priority', 'P0', file], {});
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${file} is invalid:\n  people[0].id:`);
    expect(r.code).toBe(1);
  });
});

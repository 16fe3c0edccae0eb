import { describe, expect, it } from 'vitest';
import { RuleError } from '../../src/rules/load.js';
import { ruleTestFileSchema } from '../../src/rules/unit-test-schema.js';
import { type TestFileResult, TestFileError, formatFailure, parseRuleTestFile, runRuleTestFile } from '../../src/rules/unit-test.js';

/**
 * The rule test runner (`qoswatch rules test`) on small rule files: its cases go through the real validation, window
 * store and rule engine, so these assert what the engine does — `for` to the second, priorities, guards, per
 * dimension groups — and how a failure and a malformed file read.
 */

const RULES = `
rules:
  - id: stall
    metric: stall_ratio
    window: 1m
    thresholds: { P1: "> 0.05", P2: "> 0.02" }
    for: 30s
    clear_for: 1m
    min_sessions: 10
  - id: rtc-latency
    metric: latency_p95
    window: 1m
    group_by: [tenant, region, protocol]
    filter: { protocol: [webrtc] }
    thresholds: { P2: ">= 1000" }
    min_samples: 20
`;

const SOURCE = 'tests/stall.test.yaml';

/** Parses and runs a test file against RULES (named rules.yaml in it). */
function run(text: string): TestFileResult {
  return runRuleTestFile(parseRuleTestFile(text, SOURCE), SOURCE, (path) => {
    if (path !== '../rules.yaml') throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
    return RULES;
  });
}

/** The problems a malformed file is refused with; fails when it is accepted. */
function problems(text: string): readonly string[] {
  try {
    run(text);
  } catch (err) {
    if (err instanceof TestFileError) return err.problems;
    throw err;
  }
  throw new Error('the file was accepted');
}

const stallCase = (alerts: string, stall = 1000) => `
rule_files: [../rules.yaml]
tests:
  - name: stalls
    input_series:
      - labels: { tenant: acme, region: eu-west }
        sessions: 20x12
        values: { play_ms: ${10_000 - stall}, stall_ms: ${stall} }
    alerts:
${alerts}`;

describe('a passing file', () => {
  it('fires when `for` has run (to the second), not before, at the priority of the ratio', () => {
    const result = run(stallCase(`
      - eval_time: 29s
        expected: []
      - eval_time: 30s
        expected: [{ rule: stall, labels: { tenant: acme, region: eu-west }, priority: P1 }]`));
    expect(result).toEqual({ tests: 1, failures: [] });
  });

  it('compares only firing and clearing alerts (pending pages nobody), and only the named rule\'s with `rule`', () => {
    const result = run(`
rule_files: [../rules.yaml]
tests:
  - input_series:
      - labels: { tenant: acme, region: eu-west, protocol: webrtc }
        sessions: 20x6 0x30
        values: { play_ms: 9000, stall_ms: 1000, latency_ms: 1500 }
    alerts:
      - eval_time: 10s             # stall pending since 0 s; rtc-latency (no for) fires at once
        expected: [{ rule: rtc-latency, labels: { tenant: acme, region: eu-west, protocol: webrtc }, priority: P2 }]
      - eval_time: 1m
        rule: stall
        expected: [{ rule: stall, labels: { tenant: acme, region: eu-west }, priority: P1 }]
      - eval_time: 2m              # no samples since 50 s: clear_for 1m runs from 110 s
        rule: stall
        expected: [{ rule: stall, labels: { tenant: acme, region: eu-west }, priority: P1, status: clearing }]
      - eval_time: 3m
        expected: []`);
    expect(result.failures).toEqual([]);
  });

  it('groups by the rule\'s dimension, so another protocol\'s latency is never judged by it', () => {
    const result = run(`
rule_files: [../rules.yaml]
tests:
  - input_series:
      - { labels: { tenant: acme, region: eu-west, protocol: hls }, sessions: 30x6, values: { latency_ms: 9000 } }
      - { labels: { tenant: acme, region: eu-west }, sessions: 30x6, values: { latency_ms: 9000 } }
    alerts: [{ eval_time: 50s }]`);
    expect(result.failures).toEqual([]);
  });

  it('too few sessions is no verdict: a bad ratio among 9 viewers fires nothing', () => {
    expect(run(stallCase('      - eval_time: 2m', 5000).replace('20x12', '9x12')).failures).toEqual([]);
  });
});

describe('a failing file', () => {
  it('lists what was expected and what fired, with what the engine read', () => {
    const result = run(stallCase(`
      - eval_time: 1m
        expected: [{ rule: stall, labels: { tenant: acme, region: eu-west }, priority: P2 }]
      - eval_time: 90s
        expected: [{ rule: stall, labels: { tenant: acme, region: eu-west }, priority: P1 }]`));
    expect(result.tests).toBe(1);
    expect(result.failures).toHaveLength(1);
    expect(formatFailure(result.failures[0]!)).toBe(
      [
        '  FAILED tests[0] "stalls" at 1m:',
        '    expected:',
        '      stall P2 firing {tenant=acme, region=eu-west}',
        '    got:',
        '      stall P1 firing {tenant=acme, region=eu-west}  (stall_ratio 0.1 > 0.05, 120 samples, 20 sessions)',
      ].join('\n'),
    );
  });

  it('an alert expected but not firing shows "(none)"', () => {
    const result = run(stallCase(`
      - eval_time: 2m
        rule: stall
        expected: [{ rule: stall, labels: { tenant: acme, region: eu-west }, priority: P1 }]`, 100));
    expect(formatFailure(result.failures[0]!)).toBe(
      '  FAILED tests[0] "stalls" at 2m, rule stall:\n    expected:\n      stall P1 firing {tenant=acme, region=eu-west}\n    got: (none)',
    );
  });
});

describe('a malformed file is refused, naming the field', () => {
  it.each([
    ['an unknown field', stallCase('      - eval_time: 1m\n        expect: []'), `${SOURCE}: tests[0].alerts[0]: unknown field expect`],
    ['no tests', 'rule_files: [../rules.yaml]\n', `${SOURCE}: tests: is required`],
    ['a bad step value', stallCase('      - eval_time: 1m').replace('9000', '"9000y3"'), `${SOURCE}: tests[0].input_series[0].values.play_ms: "9000y3" is not a step value (use e.g. 8000, 8000x6, 1000+500x4, _ or _x3)`],
    ['a bad eval_time', stallCase('      - eval_time: soon'), `${SOURCE}: tests[0].alerts[0].eval_time: "soon" is not a duration (use e.g. 500ms, 10s, 5m, 1h)`],
    ['a field that is no metric', stallCase('      - eval_time: 1m').replace('play_ms', 'bitrate'), `${SOURCE}: tests[0].input_series[0].values: unknown field bitrate`],
    ['an unknown label', stallCase('      - eval_time: 1m').replace('region: eu-west }', 'region: eu-west, colour: red }'), `${SOURCE}: tests[0].input_series[0].labels: unknown field colour`],
    ['sessions and nodes', stallCase('      - eval_time: 1m').replace('sessions: 20x12', 'sessions: 20x12\n        nodes: 2x12'), `${SOURCE}: tests[0].input_series[0].sessions: give either sessions or nodes (who reports), not both`],
    ['a fractional session count', stallCase('      - eval_time: 1m').replace('20x12', '2.5x12'), `${SOURCE}: tests[0].input_series[0].sessions: counts must be whole numbers from 0 to 100000 (got 2.5)`],
  ])('%s', (_, text, problem) => {
    expect(problems(text)).toEqual([problem]);
  });

  it('a series that would send more than a million samples', () => {
    expect(problems(stallCase('      - eval_time: 1m').replace('20x12', '100000x12'))).toEqual([
      `${SOURCE}: tests[0].input_series[0]: sends 1200000 samples, more than 1000000 (use fewer sessions or steps)`,
    ]);
  });

  it('step lists of different lengths, and a series of constants only', () => {
    expect(problems(stallCase('      - eval_time: 1m').replace('{ play_ms: 9000,', '{ play_ms: 9000x6,'))).toEqual([
      `${SOURCE}: tests[0].input_series[0].values.play_ms: has 6 steps, the series 12 (write a constant as one number)`,
    ]);
    expect(problems(stallCase('      - eval_time: 1m').replace('20x12', '20'))).toEqual([
      `${SOURCE}: tests[0].input_series[0].sessions: give the steps of the series (e.g. sessions: 30x12), not only constants`,
    ]);
  });

  it('samples the collectors would refuse name the series and the step (the real validation)', () => {
    expect(problems(stallCase('      - eval_time: 1m').replace('play_ms: 9000, stall_ms: 1000', 'play_ms: "9000x6 _x6", stall_ms: 1000'))).toEqual([
      `${SOURCE}: tests[0].input_series[0]: the samples it sends at 1m are invalid: play_ms: is required with stall_ms and stall_count`,
    ]);
    expect(problems(stallCase('      - eval_time: 1m').replace('play_ms: 9000', 'concurrency: 9000'))).toEqual([
      `${SOURCE}: tests[0].input_series[0]: the samples it sends at 0ms are invalid: play_ms: is required with stall_ms and stall_count; concurrency: is reported by node reporters: add node`,
    ]);
  });

  it('rules the file does not load, and a rule file that is missing', () => {
    expect(problems(stallCase('      - eval_time: 1m\n        rule: stal\n        expected: [{ rule: stal, priority: P1 }]'))).toEqual([
      `${SOURCE}: tests[0].alerts[0].rule: no rule "stal" in rule_files`,
      `${SOURCE}: tests[0].alerts[0].expected[0].rule: no rule "stal" in rule_files`,
    ]);
    expect(problems(stallCase('      - eval_time: 1m').replace('../rules.yaml', 'rules.yaml'))).toEqual([`${SOURCE}: rule_files[0]: cannot read rules.yaml: ENOENT`]);
  });

  it('YAML syntax errors give the line', () => {
    expect(() => parseRuleTestFile('rule_files: [a\ntests: [', SOURCE)).toThrow(TestFileError);
    const err = (() => {
      try {
        parseRuleTestFile('rule_files: [a.yaml]\ntests:\n  - alerts: [}\n', SOURCE);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(TestFileError);
    expect((err as TestFileError).problems).toEqual([expect.stringMatching(new RegExp(`^${SOURCE}:3: `))]);
  });

  it('an invalid rule file is the rules failing (RuleError), not the test file', () => {
    const file = parseRuleTestFile(stallCase('      - eval_time: 1m'), SOURCE);
    expect(() => runRuleTestFile(file, SOURCE, () => 'rules:\n  - id: x\n    metric: nope\n')).toThrow(RuleError);
  });
});

describe('the step notation', () => {
  const steps = (v: string | number) => ruleTestFileSchema.parse({
    rule_files: ['r.yaml'],
    tests: [{ input_series: [{ labels: { tenant: 't', region: 'r' }, sessions: 1, values: { latency_ms: v } }], alerts: [{ eval_time: '1s' }] }],
  }).tests[0]!.input_series[0]!.values.latency_ms;

  it('repeats, ramps, gaps and constants', () => {
    expect(steps('8000x3 _x2 1000+500x4 900-100x2 7')).toEqual([8000, 8000, 8000, undefined, undefined, 1000, 1500, 2000, 2500, 900, 800, 7]);
    expect(steps('8000')).toBe(8000);
    expect(steps(250)).toBe(250);
  });

  it('refuses a ramp without a count, x0, and more steps than a day of seconds', () => {
    for (const bad of ['1000+500', '5x0', '1x86401', '']) expect(() => steps(bad)).toThrow();
  });
});

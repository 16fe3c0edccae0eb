import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type Comparison, holds, isUpward, parseComparison } from '../../src/rules/comparison.js';
import { type RuleContext, RuleError, compileRuleFiles, loadRuleDir } from '../../src/rules/load.js';
import type { AbsentRule, DropRule, Rule, ThresholdRule } from '../../src/rules/rule-schema.js';
import { tempDir } from '../helpers/tmp.js';
import { billionLaughs } from '../helpers/yaml-bombs.js';

/** The service defaults: 10 s aggregation windows, readable for 5 min (QOSWATCH_WINDOW, QOSWATCH_EVAL_HORIZON). */
const CTX: RuleContext = { windowMs: 10_000, horizonMs: 300_000 };
const SHIPPED_RULES_DIR = fileURLToPath(new URL('../../alert-rules/', import.meta.url));
const FILE = 'rules/a.yaml';

type RuleDoc = Record<string, unknown>;
type RuleFile = { path: string; text: string };

const thresholdDoc = (o: RuleDoc = {}): RuleDoc => ({
  id: 'stall', description: 'Stall ratio in a region', metric: 'stall_ratio', window: '1m',
  thresholds: { P1: '> 0.05', P2: '> 0.02' }, ...o,
});
const absentDoc = (o: RuleDoc = {}): RuleDoc => ({ id: 'silent', kind: 'absent', description: 'A region went silent', for: '60s', ...o });
const dropDoc = (o: RuleDoc = {}): RuleDoc => ({
  id: 'collapse', kind: 'drop', description: 'Viewers fell', metric: 'viewers', thresholds: { P0: '>= 50%', P1: '>= 30%' }, ...o,
});

const ruleFile = (path: string, ...rules: unknown[]): RuleFile => ({ path, text: stringify({ rules }) });

function compileOne<R extends Rule>(doc: RuleDoc): R {
  const { rules } = compileRuleFiles([ruleFile(FILE, doc)], CTX);
  expect(rules).toHaveLength(1);
  return rules[0] as R;
}

/** The problems of a RuleError; fails the test when compiling succeeds or throws anything else. */
function problemsOf(...files: RuleFile[]): string[] {
  try {
    compileRuleFiles(files, CTX);
  } catch (err) {
    expect(err).toBeInstanceOf(RuleError);
    return [...(err as RuleError).problems];
  }
  return expect.fail('expected a RuleError');
}

const problemsOfRule = (doc: RuleDoc) => problemsOf(ruleFile(FILE, doc));

const escapeRe = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A problem line that starts with `prefix` and then mentions each part, in order. */
const mentioning = (prefix: string, ...parts: string[]) =>
  expect.stringMatching(new RegExp(`^${[prefix, ...parts].map(escapeRe).join('.*')}`));
const cmp = (text: string): Comparison => parseComparison(text)!;

describe('parseComparison / holds: every threshold form, evaluated at its boundary', () => {
  it.each<[text: string, op: Comparison['op'], value: number, checks: [x: number, holds: boolean][]]>([
    ['> 0.05', '>', 0.05, [[0.05, false], [0.050001, true], [0.04, false]]],
    ['>= 800', '>=', 800, [[800, true], [799.999, false], [801, true]]],
    ['< 0.9', '<', 0.9, [[0.9, false], [0.8999, true], [1, false]]],
    ['<= 10', '<=', 10, [[10, true], [10.001, false], [9, true]]],
    ['> 1e-3', '>', 0.001, [[0.001, false], [0.0011, true]]],
    ['>= 1.5E+2', '>=', 150, [[150, true], [149.99, false]]],
    ['<= 2e3', '<=', 2000, [[2000, true], [2000.5, false]]],
    ['> -5', '>', -5, [[-5, false], [-4.99, true]]],
    ['>= 30%', '>=', 0.3, [[0.3, true], [0.2999, false]]],
    ['> 5%', '>', 0.05, [[0.05, false], [0.0501, true]]],
    ['< 2.5%', '<', 0.025, [[0.025, false], [0.0249, true]]],
    ['<= 100%', '<=', 1, [[1, true], [1.001, false]]],
    ['>= 5e1%', '>=', 0.5, [[0.5, true], [0.49, false]]],
  ])('"%s" is %s %d', (text, op, value, checks) => {
    const c = parseComparison(text);
    expect(c).toEqual({ op, value, text });
    for (const [x, expected] of checks) expect(holds(c!, x), `${text} at ${x}`).toBe(expected);
  });

  it('ignores white space around and inside, and keeps the trimmed text for messages', () => {
    expect(parseComparison('  >=800  ')).toEqual({ op: '>=', value: 800, text: '>=800' });
    expect(parseComparison('<  30 %')).toEqual({ op: '<', value: 0.3, text: '<  30 %' });
  });

  it.each([
    '', '0.05', '30%', '>', '> ', '=> 5', '=< 5', '== 5', '= 5', '!= 5', '>> 5', '≥ 5', '> abc', '> 0.05 ms', '> .5',
    '> 5.', '> 1,5', '> +5', '> 5%%', '> 1e999', '> 0x10', '> 5 > 3',
  ])('rejects %j', (text) => {
    expect(parseComparison(text)).toBeUndefined();
  });

  it('> and >= point upward, < and <= downward', () => {
    expect(['> 1', '>= 1', '< 1', '<= 1'].map((t) => isUpward(cmp(t)))).toEqual([true, true, false, false]);
  });
});

describe('compileRuleFiles: valid rules and their defaults', () => {
  it('a threshold rule: window, for 0, clear_for = window, group_by [tenant, region], no dimension', () => {
    const r = compileOne<ThresholdRule>(thresholdDoc());
    expect(r).toMatchObject({
      kind: 'threshold', id: 'stall', description: 'Stall ratio in a region', file: 'a.yaml', metric: 'stall_ratio',
      windowMs: 60_000, forMs: 0, clearForMs: 60_000, groupBy: ['tenant', 'region'], dim: undefined,
      minSamples: 0, minSessions: 0, runbook: undefined, labels: {},
    });
    expect(r.filter.size).toBe(0);
    expect(r.levels).toEqual([
      { priority: 'P1', cmp: { op: '>', value: 0.05, text: '> 0.05' } },
      { priority: 'P2', cmp: { op: '>', value: 0.02, text: '> 0.02' } },
    ]);
  });

  it('a threshold rule with every field given', () => {
    const r = compileOne<ThresholdRule>(thresholdDoc({
      kind: 'threshold', window: '2m', for: '30s', clear_for: '5m', min_samples: 30, min_sessions: 20,
      runbook: 'alert-rules/README.md#stall-ratio', labels: { team: 'delivery' }, thresholds: { P0: '> 20%', P1: '>= 0.05' },
    }));
    expect(r).toMatchObject({
      windowMs: 120_000, forMs: 30_000, clearForMs: 300_000, minSamples: 30, minSessions: 20,
      runbook: 'alert-rules/README.md#stall-ratio', labels: { team: 'delivery' },
    });
    expect(r.levels.map((l) => [l.priority, l.cmp.value])).toEqual([['P0', 0.2], ['P1', 0.05]]);
  });

  it('downward thresholds (a metric that is bad when low) compile most severe first', () => {
    const r = compileOne<ThresholdRule>(thresholdDoc({ metric: 'viewers', thresholds: { P0: '< 10', P2: '<= 100' } }));
    expect(r.levels.map((l) => l.cmp.text)).toEqual(['< 10', '<= 100']);
  });

  it('the dimension comes from group_by or from filter', () => {
    const byIsp = compileOne<ThresholdRule>(thresholdDoc({ group_by: ['tenant', 'region', 'isp'] }));
    expect(byIsp).toMatchObject({ groupBy: ['tenant', 'region', 'isp'], dim: 'isp' });

    const onCdn = compileOne<ThresholdRule>(thresholdDoc({ filter: { cdn: ['akamai', 'fastly'], region: 'eu' } }));
    expect(onCdn.dim).toBe('cdn');
    expect(onCdn.filter).toEqual(new Map([['cdn', new Set(['akamai', 'fastly'])], ['region', new Set(['eu'])]]));

    const both = compileOne<ThresholdRule>(thresholdDoc({ group_by: ['tenant', 'isp'], filter: { isp: 'acme' } }));
    expect(both.dim).toBe('isp');
  });

  it('an absent rule: priority P0, lookback 1h, clear_for 0', () => {
    const r = compileOne<AbsentRule>(absentDoc());
    expect(r).toMatchObject({
      kind: 'absent', id: 'silent', priority: 'P0', forMs: 60_000, lookbackMs: 3_600_000, clearForMs: 0,
      groupBy: ['tenant', 'region'], dim: undefined,
    });
    expect(compileOne<AbsentRule>(absentDoc({ priority: 'P1', lookback: '2h', clear_for: '1m' })))
      .toMatchObject({ priority: 'P1', lookbackMs: 7_200_000, clearForMs: 60_000 });
  });

  it('a drop rule: baseline 15m, percentages as fractions, clear_for = the aggregation window', () => {
    const r = compileOne<DropRule>(dropDoc());
    expect(r).toMatchObject({
      kind: 'drop', id: 'collapse', metric: 'viewers', baselineMs: 900_000, forMs: 0, clearForMs: CTX.windowMs,
      minBaseline: 0, groupBy: ['tenant', 'region'],
    });
    expect(r.levels.map((l) => [l.priority, l.cmp.op, l.cmp.value])).toEqual([['P0', '>=', 0.5], ['P1', '>=', 0.3]]);
    expect(compileOne<DropRule>(dropDoc({ metric: 'concurrency', baseline: '30m', min_baseline: 50, clear_for: '2m' })))
      .toMatchObject({ metric: 'concurrency', baselineMs: 1_800_000, minBaseline: 50, clearForMs: 120_000 });
  });

  it('the window may be any multiple of the aggregation window up to the horizon', () => {
    for (const [window, ms] of [['10s', 10_000], ['30s', 30_000], ['5m', 300_000]] as const) {
      expect(compileOne<ThresholdRule>(thresholdDoc({ window })).windowMs).toBe(ms);
    }
  });

  it('rules of every kind from several files, in file order; an empty file holds no rules', () => {
    const set = compileRuleFiles([
      ruleFile('rules/a.yaml', thresholdDoc(), absentDoc()),
      { path: 'rules/empty.yaml', text: '' },
      ruleFile('rules/b.yaml', dropDoc()),
    ], CTX);
    expect(set.rules.map((r) => [r.id, r.kind, r.file])).toEqual([
      ['stall', 'threshold', 'a.yaml'], ['silent', 'absent', 'a.yaml'], ['collapse', 'drop', 'b.yaml'],
    ]);
    expect(set.files).toEqual(['rules/a.yaml', 'rules/empty.yaml', 'rules/b.yaml']);
  });
});

describe('compileRuleFiles: problems name the file, the rule and the field', () => {
  const at = (field: string, message: string, id = 'stall') => `${FILE}: rule "${id}": ${field}: ${message}`;

  it('unknown metric', () => {
    expect(problemsOfRule(thresholdDoc({ metric: 'stall_rate' }))).toEqual([mentioning(at('metric', 'must be one of latency_p50'), 'stall_ratio', '(got the text "stall_rate")')]);
  });

  it('description is optional; mistyped or missing fields are named in words, not zod`s "expected string, received undefined"', () => {
    const { description: _, ...undescribed } = thresholdDoc();
    expect(compileOne<ThresholdRule>(undescribed).description).toBeUndefined();
    const { metric: __, ...noMetric } = thresholdDoc();
    expect(problemsOfRule({ ...noMetric, window: 60, min_samples: '20', thresholds: { P1: 0.05 }, group_by: 'region', labels: { team: 3 } })).toEqual([
      at('group_by', 'must be a list (got the text "region")'),
      at('labels.team', 'must be text (got the number 3)'),
      mentioning(at('metric', 'is required (one of latency_p50'), 'sessions)'),
      at('window', 'must be a duration such as 30s, 5m or 1h (got the number 60)'),
      at('thresholds.P1', 'must be a comparison in quotes, e.g. "> 0.05" (got the number 0.05)'),
      at('min_samples', 'must be a number (got the text "20")'),
    ]);
    expect(problemsOfRule(thresholdDoc({ id: '', description: '', min_sessions: -1, filter: { cdn: [] } }))).toEqual([
      `${FILE}: rule "": id: use 1-63 characters: a-z, 0-9, _, . or -`,
      `${FILE}: rule "": description: must not be empty`,
      `${FILE}: rule "": filter.cdn: must list at least one item`,
      `${FILE}: rule "": min_sessions: must be at least 0`,
    ]);
  });

  it('unknown field (a typo)', () => {
    const { thresholds, ...rest } = thresholdDoc();
    expect(problemsOfRule({ ...rest, treshold: thresholds })).toContain(at('treshold', 'unknown field'));
    expect(problemsOfRule(absentDoc({ metric: 'viewers' }))).toEqual([at('metric', 'unknown field', 'silent')]);
  });

  it('unknown kind', () => {
    expect(problemsOfRule(thresholdDoc({ kind: 'ratio' }))).toEqual([at('kind', 'kind must be threshold, absent or drop')]);
  });

  it('a threshold that is not a comparison', () => {
    expect(problemsOfRule(thresholdDoc({ thresholds: { P1: 'above 5' } }))).toEqual([
      at('thresholds.P1', '"above 5" is not a comparison (use e.g. "> 0.05", ">= 800", "< 0.9")'),
    ]);
  });

  it('no thresholds at all', () => {
    expect(problemsOfRule(thresholdDoc({ thresholds: {} }))).toEqual([at('thresholds', 'give at least one priority, e.g. P1: "> 0.05"')]);
  });

  it('thresholds out of order (P2 before P1)', () => {
    expect(problemsOfRule(thresholdDoc({ thresholds: { P2: '> 0.02', P1: '> 0.05' } }))).toEqual([
      at('thresholds.P1', 'list thresholds most severe first (P2 before P1 is out of order)'),
    ]);
  });

  it('thresholds pointing different ways', () => {
    expect(problemsOfRule(thresholdDoc({ thresholds: { P1: '> 0.05', P2: '< 0.02' } }))).toEqual([
      at('thresholds.P2', '"< 0.02" points the other way from "> 0.05"'),
    ]);
  });

  // A less severe level must admit some value the more severe one does not, or it could never be reported. The
  // problem names the field and both comparisons (the wording around them is free).
  it.each<[title: string, metric: string, thresholds: Record<string, string>, field: string, mentions: string[]]>([
    ['stricter, upward', 'stall_ratio', { P1: '> 0.05', P2: '> 0.1' }, 'thresholds.P2', ['"> 0.1"', 'more severe P1 "> 0.05"']],
    ['stricter, downward', 'viewers', { P0: '< 100', P1: '< 50' }, 'thresholds.P1', ['"< 50"', 'more severe P0 "< 100"']],
    ['stricter only by its operator', 'stall_ratio', { P1: '>= 0.05', P2: '> 0.05' }, 'thresholds.P2', ['"> 0.05"', 'more severe P1 ">= 0.05"']],
    ['the same comparison', 'viewers', { P0: '<= 10', P1: '<= 10' }, 'thresholds.P1', ['"<= 10"', 'more severe P0 "<= 10"']],
  ])('a less severe level that can never hold on its own: %s', (_, metric, thresholds, field, mentions) => {
    expect(problemsOfRule(thresholdDoc({ metric, thresholds }))).toEqual([mentioning(at(field, ''), ...mentions)]);
  });

  it('a less severe level that only adds the boundary value itself is fine (P1 "> 0.05", P2 ">= 0.05")', () => {
    const r = compileOne<ThresholdRule>(thresholdDoc({ thresholds: { P1: '> 0.05', P2: '>= 0.05' } }));
    expect(r.levels.map((l) => l.cmp.text)).toEqual(['> 0.05', '>= 0.05']);
  });

  it.each(['15s', '25s', '5s', '500ms'])('window %s is not a multiple of the aggregation window', (window) => {
    expect(problemsOfRule(thresholdDoc({ window }))).toEqual([at('window', 'must be a multiple of the aggregation window (10s)')]);
  });

  it.each(['310s', '10m'])('window %s is longer than the horizon', (window) => {
    expect(problemsOfRule(thresholdDoc({ window }))).toEqual([
      at('window', 'is longer than the evaluation horizon (5m, QOSWATCH_EVAL_HORIZON)'),
    ]);
  });

  it('a duration that is not one', () => {
    expect(problemsOfRule(thresholdDoc({ for: '1.5m' }))).toEqual([at('for', 'must be a duration such as 30s, 5m or 1h (got the text "1.5m")')]);
  });

  it('group_by without tenant', () => {
    expect(problemsOfRule(thresholdDoc({ group_by: ['region'] }))).toEqual([
      at('group_by', 'must include tenant (an alert belongs to one tenant)'),
    ]);
  });

  it('two dimensions (group_by isp and filter cdn)', () => {
    expect(problemsOfRule(thresholdDoc({ group_by: ['tenant', 'region', 'isp'], filter: { cdn: 'akamai' } }))).toEqual([
      at('group_by', 'groups or filters by isp and cdn: a rule may use one dimension (series are kept per region and per single dimension)'),
    ]);
  });

  it('a duplicate rule id across two files names the other file', () => {
    expect(problemsOf(ruleFile('rules/a.yaml', thresholdDoc()), ruleFile('rules/b.yaml', absentDoc({ id: 'stall' })))).toEqual([
      'rules/b.yaml: rule "stall": id: duplicate rule id (also in rules/a.yaml)',
    ]);
  });

  it('a YAML syntax error gives its line; the other files are still checked', () => {
    const broken = { path: 'rules/broken.yaml', text: 'rules:\n  - id: stall\n    metric: stall_ratio\n   window: 1m\n' };
    expect(problemsOf(broken, ruleFile('rules/b.yaml', thresholdDoc({ window: '15s' })))).toEqual([
      expect.stringMatching(/^rules\/broken\.yaml:4: \S/),
      'rules/b.yaml: rule "stall": window: must be a multiple of the aggregation window (10s)',
    ]);
  });

  it('a repeated key is a YAML error on its line', () => {
    const text = 'rules:\n  - id: stall\n    metric: stall_ratio\n    metric: viewers\n';
    expect(problemsOf({ path: FILE, text })).toEqual([`${FILE}:4: Map keys must be unique at line 4, column 5:`]);
  });

  it('absent min_baseline / baseline and drop within: defaults, and their bounds', () => {
    expect(compileOne<AbsentRule>(absentDoc())).toMatchObject({ minBaseline: 0, baselineMs: 60_000 });
    expect(compileOne<AbsentRule>(absentDoc({ min_baseline: 100, baseline: '30s' }))).toMatchObject({ minBaseline: 100, baselineMs: 30_000 });
    expect(compileOne<DropRule>(dropDoc()).withinMs).toBeUndefined();
    expect(compileOne<DropRule>(dropDoc({ within: '30s' })).withinMs).toBe(30_000);
    expect(problemsOfRule(absentDoc({ baseline: '10s' }))).toEqual([at('baseline', 'must cover at least 2 aggregation windows (20s)', 'silent')]);
    expect(problemsOfRule(absentDoc({ min_baseline: 1.5 }))).toEqual([at('min_baseline', 'must be a whole number (got the number 1.5)', 'silent')]);
    expect(problemsOfRule(dropDoc({ within: '15m' }))).toEqual([at('within', 'must be at least the aggregation window (10s) and shorter than baseline', 'collapse')]);
    expect(problemsOfRule(dropDoc({ within: '5s' }))).toEqual([at('within', 'must be at least the aggregation window (10s) and shorter than baseline', 'collapse')]);
  });

  it('one anchor shared by 120 rules is an ordinary file; anchors of anchors expanding to 10^9 nodes are one problem, not a throw', () => {
    const rules = Array.from({ length: 120 }, (_, i) => `  - { id: r${i}, description: d, metric: stall_ratio, window: 1m, thresholds: { P1: "> 0.05" }, labels: ${i ? '*team' : '&team { team: delivery }'} }`);
    const set = compileRuleFiles([{ path: FILE, text: `rules:\n${rules.join('\n')}\n` }], CTX);
    expect(set.rules).toHaveLength(120);
    expect(set.rules[119]!.labels).toEqual({ team: 'delivery' });

    expect(problemsOf({ path: FILE, text: billionLaughs('rules: []') })).toEqual([`${FILE}: too many YAML aliases: the anchors would expand beyond 10000 nodes (write the repeated parts out, or share fewer nested anchors)`]);
    expect(problemsOf({ path: FILE, text: 'rules:\n  - *nowhere\n' })).toEqual([`${FILE}: Unresolved alias (the anchor must be set before the alias): nowhere`]);
  });

  it('a rule without an id is named by its index', () => {
    const { id: _, ...noId } = thresholdDoc();
    expect(problemsOf(ruleFile(FILE, thresholdDoc(), noId))).toEqual([`${FILE}: rules[1]: id: is required`]);
  });

  it('a file with something other than rules', () => {
    expect(problemsOf({ path: FILE, text: stringify({ rule: [thresholdDoc()] }) })).toEqual([
      `${FILE}: (file): unknown field rule (rules go under "rules:")`,
    ]);
  });

  it.each(['>= 50', '< 30%', '>= 0%', '> 150%'])('drop thresholds not written as a percentage: %s', (text) => {
    expect(problemsOfRule(dropDoc({ thresholds: { P0: text } }))).toEqual([
      at('thresholds.P0', `a drop is written as a percentage, e.g. ">= 30%" ("${text}")`, 'collapse'),
    ]);
  });

  // A bare number between 0 and 1 is not written as a percentage either: taken as a fraction, ">= 1" meant as 1 %
  // compiles to a 100 % drop that only fires on a total collapse.
  it('drop thresholds written as a bare fraction (">= 0.3", ">= 1")', () => {
    for (const text of ['>= 0.3', '>= 1']) {
      expect(problemsOfRule(dropDoc({ thresholds: { P0: text } })), text).toEqual([
        at('thresholds.P0', `a drop is written as a percentage, e.g. ">= 30%" ("${text}")`, 'collapse'),
      ]);
    }
  });

  it('a drop baseline shorter than 3 aggregation windows', () => {
    expect(problemsOfRule(dropDoc({ baseline: '20s' }))).toEqual([
      at('baseline', 'must cover at least 3 aggregation windows (30s)', 'collapse'),
    ]);
  });

  it.each([['60s', '60s'], ['30s', '1m']])('absent lookback %s is not longer than for %s', (lookback, forText) => {
    expect(problemsOfRule(absentDoc({ lookback, for: forText }))).toEqual([at('lookback', 'must be longer than for', 'silent')]);
  });

  it('absent for shorter than the aggregation window', () => {
    expect(problemsOfRule(absentDoc({ for: '5s' }))).toEqual([at('for', 'must be at least the aggregation window (10s)', 'silent')]);
  });

  it('several problems in one file are all reported, and no rule of the set is returned', () => {
    const { id: _, ...noId } = thresholdDoc();
    const file = ruleFile(FILE,
      thresholdDoc({ id: 'fine' }),
      thresholdDoc({ id: 'two-problems', window: '15s', group_by: ['region'] }),
      thresholdDoc({ id: 'bad-metric', metric: 'nope' }),
      noId,
      dropDoc({ thresholds: { P0: '>= 50' } }));
    const problems = problemsOf(file);
    expect(problems).toEqual([
      at('group_by', 'must include tenant (an alert belongs to one tenant)', 'two-problems'),
      at('window', 'must be a multiple of the aggregation window (10s)', 'two-problems'),
      mentioning(at('metric', 'must be one of', 'bad-metric'), '(got the text "nope")'),
      `${FILE}: rules[3]: id: is required`,
      at('thresholds.P0', 'a drop is written as a percentage, e.g. ">= 30%" (">= 50")', 'collapse'),
    ]);
    expect(() => compileRuleFiles([file], CTX)).toThrow(problems.join('\n'));
  });
});

describe('loadRuleDir', () => {
  it('the shipped alert-rules/ compile: 10 rules, latency per delivery class', () => {
    const set = loadRuleDir(SHIPPED_RULES_DIR, CTX);
    expect(set.files).toEqual([join(SHIPPED_RULES_DIR, 'live-streaming.yaml')]);
    expect(set.rules.map((r) => `${r.kind}:${r.id}`)).toEqual([
      'threshold:stall-ratio', 'threshold:packet-loss', 'threshold:latency-p95-rtc', 'threshold:latency-p95-ll', 'threshold:latency-p95-hls',
      'threshold:startup-p95', 'threshold:error-rate', 'absent:region-silent', 'drop:viewers-collapse', 'drop:concurrency-collapse',
    ]);
    const latency = set.rules.filter((r) => r.kind === 'threshold' && r.metric === 'latency_p95');
    expect(latency.map((r) => [r.dim, [...r.filter.get('protocol')!]])).toEqual([['protocol', ['webrtc']], ['protocol', ['ll-hls', 'll-dash']], ['protocol', ['hls', 'dash']]]);
  });

  it('reads *.yaml and *.yml in name order, ignores other files, and names problems by path', () => {
    const dir = tempDir('rules');
    writeFileSync(join(dir, 'b.yml'), ruleFile('', absentDoc()).text);
    writeFileSync(join(dir, 'a.yaml'), ruleFile('', thresholdDoc()).text);
    writeFileSync(join(dir, 'notes.txt'), 'not: [yaml');
    const set = loadRuleDir(dir, CTX);
    expect(set.files).toEqual([join(dir, 'a.yaml'), join(dir, 'b.yml')]);
    expect(set.rules.map((r) => r.id)).toEqual(['stall', 'silent']);

    writeFileSync(join(dir, 'c.yaml'), ruleFile('', dropDoc({ id: 'silent' })).text);
    expect(() => loadRuleDir(dir, CTX)).toThrow(`${join(dir, 'c.yaml')}: rule "silent": id: duplicate rule id (also in ${join(dir, 'b.yml')})`);
  });

  it('a missing directory throws a RuleError naming it', () => {
    const dir = join(tempDir('rules'), 'missing');
    expect(() => loadRuleDir(dir, CTX)).toThrow(RuleError);
    expect(() => loadRuleDir(dir, CTX)).toThrow(`${dir}: cannot read the rules directory: ENOENT`);
  });
});

import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { formatPath } from '../shared/field-path.js';
import { DIMENSIONS, type Dimension, type GroupField } from '../shared/labels.js';
import { formatDuration, parseDuration } from '../util/units.js';
import { readYaml } from '../util/yaml.js';
import { inWords } from '../util/zod-words.js';
import { isUpward } from './comparison.js';
import { type Rule, type RuleInput, levelsOf, ruleFileSchema, ruleSchema } from './rule-schema.js';

/** What the rules are checked against: the aggregation window and how far back windows stay readable. */
export interface RuleContext {
  windowMs: number;
  horizonMs: number;
}

/** Every problem found, one line each: "file: rule "id": field: message". */
export class RuleError extends Error {
  override name = 'RuleError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

export interface RuleSet {
  readonly rules: readonly Rule[];
  readonly files: readonly string[];
}

/** Loads every *.yaml / *.yml file of a directory; throws a RuleError listing every problem. */
export function loadRuleDir(dir: string, ctx: RuleContext): RuleSet {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /\.ya?ml$/i.test(n)).sort();
  } catch (err) {
    throw new RuleError([`${dir}: cannot read the rules directory: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  const files = names.map((n) => {
    const path = join(dir, n);
    try {
      return { path, text: readFileSync(path, 'utf8') };
    } catch (err) {
      throw new RuleError([`${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
    }
  });
  return compileRuleFiles(files, ctx);
}

export function compileRuleFiles(files: readonly { path: string; text: string }[], ctx: RuleContext): RuleSet {
  const problems: string[] = [];
  const rules: Rule[] = [];
  const seen = new Map<string, string>();
  for (const { path, text } of files) {
    const doc = readYaml(text);
    if (!doc.ok) {
      problems.push(`${path}${doc.line === undefined ? '' : `:${doc.line}`}: ${doc.message}`);
      continue;
    }
    const file = ruleFileSchema.safeParse(doc.value ?? {}, { error: inWords });
    if (!file.success) {
      for (const i of file.error.issues) problems.push(`${path}: ${formatPath(i.path) || '(file)'}: ${i.code === 'unrecognized_keys' ? `unknown field ${i.keys.join(', ')} (rules go under "rules:")` : i.message}`);
      continue;
    }
    file.data.rules.forEach((raw, index) => {
      const rawId = (raw as { id?: unknown } | null)?.id;
      const where = `${path}: ${typeof rawId === 'string' ? `rule "${rawId}"` : `rules[${index}]`}`;
      let bad = 0;
      const issue = (field: string, message: string) => {
        bad++;
        problems.push(`${where}: ${field}: ${message}`);
      };
      const parsed = ruleSchema.safeParse(raw, { error: inWords });
      if (!parsed.success) {
        for (const i of parsed.error.issues) {
          if (i.code === 'unrecognized_keys') for (const k of i.keys) issue(formatPath([...i.path, k]), 'unknown field');
          else issue(formatPath(i.path) || '(rule)', i.message);
        }
        return;
      }
      const rule = compile(parsed.data, basename(path), ctx, issue);
      const other = seen.get(parsed.data.id);
      if (other) issue('id', `duplicate rule id (also in ${other})`);
      seen.set(parsed.data.id, path);
      if (bad === 0) rules.push(rule);
    });
  }
  if (problems.length) throw new RuleError(problems);
  return { rules, files: files.map((f) => f.path) };
}

function compile(r: RuleInput, file: string, ctx: RuleContext, issue: (field: string, message: string) => void): Rule {
  const ms = (field: string, text: string) => parseDuration(text) ?? (issue(field, `"${text}" is not a duration`), 0);
  if (!r.group_by.includes('tenant')) issue('group_by', 'must include tenant (an alert belongs to one tenant)');
  if (new Set(r.group_by).size !== r.group_by.length) issue('group_by', 'lists a field twice');
  const dims = new Set<Dimension>();
  for (const f of [...r.group_by, ...Object.keys(r.filter)]) if ((DIMENSIONS as readonly string[]).includes(f)) dims.add(f as Dimension);
  if (dims.size > 1) issue('group_by', `groups or filters by ${[...dims].join(' and ')}: a rule may use one dimension (series are kept per region and per single dimension)`);
  const filter = new Map<GroupField, ReadonlySet<string>>();
  for (const [k, v] of Object.entries(r.filter)) filter.set(k as GroupField, new Set(Array.isArray(v) ? v : [v]));

  const forMs = ms('for', r.for);
  const base = {
    id: r.id, description: r.description, file, groupBy: r.group_by, filter, dim: [...dims][0], forMs,
    runbook: r.runbook, labels: r.labels,
  };
  let rule: Rule;
  switch (r.kind) {
    case 'threshold': {
      const windowMs = ms('window', r.window);
      if (windowMs < ctx.windowMs || windowMs % ctx.windowMs !== 0) issue('window', `must be a multiple of the aggregation window (${formatDuration(ctx.windowMs)})`);
      else if (windowMs > ctx.horizonMs) issue('window', `is longer than the evaluation horizon (${formatDuration(ctx.horizonMs)}, QOSWATCH_EVAL_HORIZON)`);
      const levels = levelsOf(r.thresholds, issue);
      rule = { ...base, kind: 'threshold', metric: r.metric, windowMs, levels, minSamples: r.min_samples, minSessions: r.min_sessions, clearForMs: r.clear_for ? ms('clear_for', r.clear_for) : windowMs };
      break;
    }
    case 'absent': {
      const lookbackMs = ms('lookback', r.lookback);
      if (forMs < ctx.windowMs) issue('for', `must be at least the aggregation window (${formatDuration(ctx.windowMs)})`);
      if (lookbackMs <= forMs) issue('lookback', 'must be longer than for');
      const baselineMs = ms('baseline', r.baseline);
      // The last window before a silence is partial: the audience is read from at least the one before it too.
      if (baselineMs < 2 * ctx.windowMs) issue('baseline', `must cover at least 2 aggregation windows (${formatDuration(2 * ctx.windowMs)})`);
      rule = { ...base, kind: 'absent', priority: r.priority, lookbackMs, minBaseline: r.min_baseline, baselineMs, clearForMs: r.clear_for ? ms('clear_for', r.clear_for) : 0 };
      break;
    }
    case 'drop': {
      const baselineMs = ms('baseline', r.baseline);
      if (baselineMs < 3 * ctx.windowMs) issue('baseline', `must cover at least 3 aggregation windows (${formatDuration(3 * ctx.windowMs)})`);
      const levels = levelsOf(r.thresholds, issue);
      for (const l of levels) {
        if (!isUpward(l.cmp) || !l.cmp.text.endsWith('%') || l.cmp.value <= 0 || l.cmp.value > 1) issue(`thresholds.${l.priority}`, `a drop is written as a percentage, e.g. ">= 30%" ("${l.cmp.text}")`);
      }
      const withinMs = r.within === undefined ? undefined : ms('within', r.within);
      if (withinMs !== undefined && (withinMs < ctx.windowMs || withinMs >= baselineMs)) issue('within', `must be at least the aggregation window (${formatDuration(ctx.windowMs)}) and shorter than baseline`);
      rule = { ...base, kind: 'drop', metric: r.metric, baselineMs, levels, minBaseline: r.min_baseline, withinMs, clearForMs: r.clear_for ? ms('clear_for', r.clear_for) : ctx.windowMs };
      break;
    }
  }
  return rule;
}

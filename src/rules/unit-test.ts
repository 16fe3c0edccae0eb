import { formatPath } from '../shared/field-path.js';
import { GROUP_FIELDS, type Labels } from '../shared/labels.js';
import type { Priority } from '../shared/priority.js';
import { CardinalityCaps } from '../telemetry/cardinality.js';
import type { Sample } from '../telemetry/sample-schema.js';
import { validateSamples } from '../telemetry/validate.js';
import { WindowStore } from '../telemetry/window-store.js';
import { formatDuration } from '../util/units.js';
import { readYaml } from '../util/yaml.js';
import { inWords } from '../util/zod-words.js';
import type { Values } from './alert-state.js';
import { RuleEngine } from './engine.js';
import { type RuleSet, compileRuleFiles } from './load.js';
import { type InputSeries, type RuleTestCase, type RuleTestFile, ruleTestFileSchema } from './unit-test-schema.js';
import { windowsRead } from './windows-read.js';

/**
 * `qoswatch rules test`: runs a rule test file's cases through the real pipeline on a fake clock — the samples each
 * input series makes are validated as the collectors do, aggregated by the window store and evaluated by the rule
 * engine, exactly as the service would (QOSWATCH_WINDOW_GRACE, QOSWATCH_DIM_CAP at their defaults) — and compares
 * the alerts firing at each `eval_time` with the expected ones. Pure: file contents in, verdicts out.
 */

/** The test file itself is wrong (syntax, a field, a sample it makes): every problem, one line each, naming the field. */
export class TestFileError extends Error {
  override name = 'TestFileError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

/** An alert as compared: firing or clearing (pending alerts page nobody yet and are not compared, as in promtool). */
export interface ComparedAlert {
  readonly rule: string;
  readonly labels: Labels;
  readonly priority: Priority;
  readonly status: 'firing' | 'clearing';
  /** What the engine read when it last judged the group (actual alerts only). */
  readonly values?: Values;
}

export interface CheckFailure {
  /** tests[i] and its name. */
  readonly test: string;
  readonly evalTime: number;
  readonly rule: string | undefined;
  readonly expected: readonly ComparedAlert[];
  readonly got: readonly ComparedAlert[];
}

export interface TestFileResult {
  readonly tests: number;
  readonly failures: readonly CheckFailure[];
}

/** The defaults the service uses (QOSWATCH_WINDOW_GRACE, QOSWATCH_DIM_CAP). */
const GRACE_MS = 15_000;
const DIM_CAP = 100;
/** The most samples one input series may send: what a test file can make the runner hold in memory. */
export const MAX_SAMPLES = 1_000_000;
/** How often the fake clock runs an evaluation pass between samples: the resolution of `for` and `clear_for`. */
export const PASS_MS = 1000;
/** Time 0 of every case: an instant on a window boundary of any aggregation window (a whole number of 5 min). */
export const CASE_START = Date.UTC(2026, 0, 1);

/** Parses a test file; problems name the field (`tests[0].input_series[1].values.latency_ms`). */
export function parseRuleTestFile(text: string, source: string): RuleTestFile {
  const doc = readYaml(text);
  if (!doc.ok) throw new TestFileError([`${source}${doc.line === undefined ? '' : `:${doc.line}`}: ${doc.message}`]);
  const parsed = ruleTestFileSchema.safeParse(doc.value ?? {}, { error: inWords });
  if (!parsed.success) {
    throw new TestFileError(
      parsed.error.issues.map((i) => `${source}: ${formatPath(i.path) || '(file)'}: ${i.code === 'unrecognized_keys' ? `unknown field ${i.keys.join(', ')}` : i.message}`),
    );
  }
  return parsed.data;
}

/**
 * Runs every case of a parsed file against its rule files (read by `readRuleFile`, paths as written). Rule files
 * that do not load throw a RuleError (the rules fail, not the test file); a missing one, a TestFileError.
 */
export function runRuleTestFile(file: RuleTestFile, source: string, readRuleFile: (path: string) => string): TestFileResult {
  const ctx = { windowMs: file.aggregation_window, horizonMs: file.eval_horizon };
  const texts = file.rule_files.map((path, i) => {
    try {
      return { path, text: readRuleFile(path) };
    } catch (err) {
      throw new TestFileError([`${source}: rule_files[${i}]: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
    }
  });
  const set = compileRuleFiles(texts, ctx);
  const ids = new Set(set.rules.map((r) => r.id));
  const problems: string[] = [];
  file.tests.forEach((t, ti) =>
    t.alerts.forEach((a, ai) => {
      const where = `${source}: tests[${ti}].alerts[${ai}]`;
      if (a.rule !== undefined && !ids.has(a.rule)) problems.push(`${where}.rule: no rule "${a.rule}" in rule_files`);
      a.expected.forEach((e, ei) => ids.has(e.rule) || problems.push(`${where}.expected[${ei}].rule: no rule "${e.rule}" in rule_files`));
    }),
  );
  const cases = file.tests.map((t, ti) => ({ t, ti, samples: samplesOf(t, ti, file.aggregation_window, source, problems) }));
  if (problems.length) throw new TestFileError(problems);
  const failures: CheckFailure[] = [];
  for (const { t, ti, samples } of cases) failures.push(...runCase(t, `tests[${ti}]${t.name ? ` "${t.name}"` : ''}`, samples, set, ctx));
  return { tests: file.tests.length, failures };
}

/** Each step's samples with their tenant (an ingest key's, not a sample field), by the instant they are sent. */
type Timeline = Map<number, { tenant: string; sample: Sample }[]>;

/** The samples of a case's input series, each checked by the collectors' validation; problems name series and step. */
function samplesOf(t: RuleTestCase, ti: number, windowMs: number, source: string, problems: string[]): Timeline {
  const interval = t.interval ?? windowMs;
  const timeline: Timeline = new Map();
  t.input_series.forEach((s, si) => {
    const where = `${source}: tests[${ti}].input_series[${si}]`;
    const steps = stepsOf(s);
    if (typeof steps === 'string') {
      problems.push(`${where}.${steps}`);
      return;
    }
    const { tenant, region, ...dims } = s.labels;
    const reporters = (s.sessions ?? s.nodes)!;
    const kind = s.sessions !== undefined ? 'session' : 'node';
    let count = 0;
    for (let i = 0; i < steps; i++) count += stepValue(reporters, i)!;
    if (count > MAX_SAMPLES) {
      problems.push(`${where}: sends ${count} samples, more than ${MAX_SAMPLES} (use fewer ${kind}s or steps)`);
      return;
    }
    for (let i = 0; i < steps; i++) {
      const at = CASE_START + i * interval;
      // What every reporter sends at this step; each sample is this with its own session or node id.
      const step: Record<string, unknown> = { ts: at, interval_ms: interval, region };
      if (Object.keys(dims).length) step.dims = dims;
      for (const [field, v] of Object.entries(s.values)) {
        const value = stepValue(v!, i);
        if (value !== undefined) step[field] = value;
      }
      const list: Sample[] = [];
      for (let k = 0; k < stepValue(reporters, i)!; k++) {
        const id = `${kind}-${si}-${k}`;
        list.push((kind === 'session' ? { ...step, session: id } : { ...step, node: id }) as unknown as Sample);
      }
      const v = validateSamples(list, at, Infinity);
      const bad = v.rejected[0];
      if (bad) {
        problems.push(`${where}: the samples it sends at ${formatDuration(i * interval)} are invalid: ${bad.errors.map((e) => `${e.path || '(sample)'}: ${e.message}`).join('; ')}`);
        return;
      }
      let due = timeline.get(at);
      if (!due) timeline.set(at, (due = []));
      for (const a of v.accepted) due.push({ tenant, sample: a.sample });
    }
  });
  return timeline;
}

/** The number of steps of a series: its longest step list; shorter lists are a mistake (a constant fills them all). */
function stepsOf(s: InputSeries): number | string {
  const lists: [string, (number | undefined)[] | number][] = [[s.sessions !== undefined ? 'sessions' : 'nodes', (s.sessions ?? s.nodes)!], ...Object.entries(s.values).map(([k, v]) => [`values.${k}`, v!] as [string, typeof v & {}])];
  const lengths = lists.filter(([, v]) => typeof v !== 'number').map(([, v]) => (v as unknown[]).length);
  if (lengths.length === 0) return 'sessions: give the steps of the series (e.g. sessions: 30x12), not only constants';
  const steps = Math.max(...lengths);
  const short = lists.find(([, v]) => typeof v !== 'number' && v.length !== steps);
  if (short) return `${short[0]}: has ${(short[1] as unknown[]).length} steps, the series ${steps} (write a constant as one number)`;
  return steps;
}

const stepValue = (v: (number | undefined)[] | number, i: number): number | undefined => (typeof v === 'number' ? v : v[i]);

/** One case on a fresh store and engine: passes every PASS_MS, at each step's samples and at each eval_time. */
function runCase(t: RuleTestCase, name: string, timeline: Timeline, set: RuleSet, ctx: { windowMs: number; horizonMs: number }): CheckFailure[] {
  const store = new WindowStore({ windowMs: ctx.windowMs, graceMs: GRACE_MS, horizonMs: ctx.horizonMs, closedBefore: Math.floor(CASE_START / ctx.windowMs) }, new CardinalityCaps(() => DIM_CAP));
  store.setRetention(windowsRead(set.rules, ctx.windowMs));
  const engine = new RuleEngine(store, set.rules, { startedAt: CASE_START });
  const checks = [...t.alerts].sort((a, b) => a.eval_time - b.eval_time);
  const end = CASE_START + checks.at(-1)!.eval_time;
  const instants = new Set<number>();
  for (let at = CASE_START; at <= end; at += PASS_MS) instants.add(at);
  for (const at of timeline.keys()) if (at <= end) instants.add(at);
  for (const c of checks) instants.add(CASE_START + c.eval_time);
  let id = 1;
  let next = 0;
  const failures: CheckFailure[] = [];
  for (const now of [...instants].sort((a, b) => a - b)) {
    for (const { tenant, sample } of timeline.get(now) ?? []) store.ingest(tenant, sample, id++, now);
    store.tick(now);
    engine.observe(store.drainTouched(), now);
    engine.evaluate(now);
    for (; next < checks.length && CASE_START + checks[next]!.eval_time === now; next++) {
      const c = checks[next]!;
      const got: ComparedAlert[] = [];
      for (const a of engine.alerts()) {
        const status = a.state.status;
        if ((status !== 'firing' && status !== 'clearing') || (c.rule !== undefined && a.rule.id !== c.rule)) continue;
        got.push({ rule: a.rule.id, labels: a.labels, priority: a.state.priority!, status, values: a.state.values });
      }
      got.sort(byAlert);
      const expected = c.expected.map((e): ComparedAlert => ({ rule: e.rule, labels: e.labels, priority: e.priority, status: e.status })).sort(byAlert);
      if (!sameAlerts(expected, got)) failures.push({ test: name, evalTime: c.eval_time, rule: c.rule, expected, got });
    }
  }
  return failures;
}

const alertKey = (a: ComparedAlert) => `${a.rule} ${a.priority} ${a.status} ${labelText(a.labels)}`;
const byAlert = (a: ComparedAlert, b: ComparedAlert) => alertKey(a).localeCompare(alertKey(b));
const sameAlerts = (a: readonly ComparedAlert[], b: readonly ComparedAlert[]) => a.length === b.length && a.every((x, i) => alertKey(x) === alertKey(b[i]!));

/** Labels in a fixed order (tenant, region, then the dimension), as `{tenant=acme, region=eu-west}`. */
function labelText(labels: Labels): string {
  const keys = GROUP_FIELDS.filter((k) => labels[k] !== undefined);
  return `{${keys.map((k) => `${k}=${labels[k]}`).join(', ')}}`;
}

/** A failure as a person reads it: where, then the alerts expected and those firing, with what the engine read. */
export function formatFailure(f: CheckFailure): string {
  const line = (a: ComparedAlert) => `${alertKey(a)}${a.values ? `  (${valuesText(a.values)})` : ''}`;
  const list = (l: readonly ComparedAlert[]) => (l.length ? l.map((a) => `\n      ${line(a)}`).join('') : ' (none)');
  return `  FAILED ${f.test} at ${formatDuration(f.evalTime)}${f.rule ? `, rule ${f.rule}` : ''}:\n    expected:${list(f.expected)}\n    got:${list(f.got)}`;
}

function valuesText(v: Values): string {
  const parts = [`${v.metric} ${round(v.value)}${v.threshold ? ` ${v.threshold}` : ''}`];
  if (v.baseline !== undefined) parts.push(`baseline ${round(v.baseline)}`);
  if (v.samples !== undefined) parts.push(`${v.samples} samples`);
  if (v.sessions !== undefined) parts.push(`${v.sessions} sessions`);
  return parts.join(', ');
}

const round = (x: number) => Number(x.toPrecision(4));

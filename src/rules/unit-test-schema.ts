import { z } from 'zod';
import { DIMENSIONS, GROUP_FIELDS } from '../shared/labels.js';
import { PRIORITIES } from '../shared/priority.js';
import { METRIC_FIELDS } from '../telemetry/sample-schema.js';
import { durationSchema } from '../util/units.js';

/**
 * The file `qoswatch rules test` reads (promtool's rule unit tests, in qoswatch's terms): the rule files under
 * test, then cases of input series — a group's sessions (or nodes) and the fields each sends per step — and the
 * alerts expected to be firing at given instants.
 */

const DAY = 86_400_000;
/** The most steps one series may have: a day of 1 s steps. Bounds what a file can make the runner allocate. */
export const MAX_STEPS = 86_400;

/**
 * One value per step, written compactly: `8000x6` is 8000 for 6 steps (unlike promtool's `x6`, which gives 7),
 * `1000+500x4` ramps 1000, 1500, 2000, 2500, `_` is no value (the field is left out of that step's samples).
 * A bare number (or a one-token text without `x`) is the same value at every step.
 */
const seriesText = z.union([z.number(), z.string()]).transform((v, ctx): (number | undefined)[] | number => {
  if (typeof v === 'number') return v;
  const tokens = v.trim().split(/\s+/).filter(Boolean);
  if (tokens.length === 1 && /^-?\d+(?:\.\d+)?(?:e[-+]?\d+)?$/i.test(tokens[0]!)) return Number(tokens[0]);
  const out: (number | undefined)[] = [];
  for (const t of tokens) {
    const m = /^(?:(_)|(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)(?:([+-])(\d+(?:\.\d+)?(?:e[-+]?\d+)?))?)(?:x(\d+))?$/i.exec(t);
    const times = m?.[5] === undefined ? 1 : Number(m[5]);
    if (!m || times < 1 || (m[3] !== undefined && m[5] === undefined)) {
      ctx.addIssue({ code: 'custom', message: `"${t}" is not a step value (use e.g. 8000, 8000x6, 1000+500x4, _ or _x3)` });
      return z.NEVER;
    }
    if (out.length + times > MAX_STEPS) {
      ctx.addIssue({ code: 'custom', message: `is more than ${MAX_STEPS} steps long` });
      return z.NEVER;
    }
    const start = m[1] ? undefined : Number(m[2]);
    const inc = m[4] === undefined ? 0 : Number(m[4]) * (m[3] === '-' ? -1 : 1);
    for (let i = 0; i < times; i++) out.push(start === undefined ? undefined : start + i * inc);
  }
  if (out.length === 0) {
    ctx.addIssue({ code: 'custom', message: 'must hold at least one step value' });
    return z.NEVER;
  }
  return out;
});

/** A count per step (sessions, nodes): whole and not negative; no `_` (0 is "none report"). */
const countSeries = seriesText.superRefine((v, ctx) => {
  for (const n of typeof v === 'number' ? [v] : v) {
    if (n === undefined || !Number.isInteger(n) || n < 0 || n > 100_000) {
      ctx.addIssue({ code: 'custom', message: `counts must be whole numbers from 0 to 100000 (got ${n === undefined ? '_' : n})` });
      return;
    }
  }
});

const tagValue = z.string().min(1).max(64);

const inputSeriesSchema = z
  .strictObject({
    labels: z.strictObject({
      tenant: tagValue,
      region: tagValue,
      ...Object.fromEntries(DIMENSIONS.map((d) => [d, tagValue.optional()])),
    }),
    sessions: countSeries.optional().describe('viewer sessions reporting at each step, one sample each'),
    nodes: countSeries.optional().describe('edge/origin nodes reporting at each step (for concurrency)'),
    values: z.partialRecord(z.enum(METRIC_FIELDS as [string, ...string[]]), seriesText).describe('what each reporter sends per step'),
  })
  .refine((s) => (s.sessions === undefined) !== (s.nodes === undefined), { message: 'give either sessions or nodes (who reports), not both', path: ['sessions'] });

const expectedAlertSchema = z.strictObject({
  rule: z.string().min(1),
  labels: z.partialRecord(z.enum(GROUP_FIELDS), z.string().min(1)).default({}),
  priority: z.enum(PRIORITIES),
  status: z.enum(['firing', 'clearing']).default('firing'),
});

const alertCheckSchema = z.strictObject({
  eval_time: durationSchema(0, 7 * DAY).describe('time since the start of the case'),
  rule: z.string().min(1).optional().describe('only this rule\'s alerts are compared'),
  expected: z.array(expectedAlertSchema).default([]),
});

const caseSchema = z.strictObject({
  name: z.string().min(1).max(200).optional(),
  interval: durationSchema(100, 3_600_000).optional().describe('step of the input series (default: the aggregation window)'),
  input_series: z.array(inputSeriesSchema).default([]),
  alerts: z.array(alertCheckSchema).min(1),
});

export const ruleTestFileSchema = z.strictObject({
  rule_files: z.array(z.string().min(1)).min(1).describe('paths relative to this file'),
  aggregation_window: durationSchema(1000, 300_000).default(10_000).describe('QOSWATCH_WINDOW'),
  eval_horizon: durationSchema(60_000, 3_600_000).default(300_000).describe('QOSWATCH_EVAL_HORIZON'),
  tests: z.array(caseSchema).min(1),
});

export type RuleTestFile = z.output<typeof ruleTestFileSchema>;
export type RuleTestCase = z.output<typeof caseSchema>;
export type InputSeries = z.output<typeof inputSeriesSchema>;

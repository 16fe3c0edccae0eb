import { z } from 'zod';
import { type Dimension, GROUP_FIELDS, type GroupField } from '../shared/labels.js';
import { PRIORITIES, type Priority, rank } from '../shared/priority.js';
import { describeValue } from '../util/zod-words.js';
import { type Comparison, isUpward, parseComparison } from './comparison.js';

/** The metrics a rule may watch (PRODUCT.md §2). */
export const RULE_METRICS = [
  'latency_p50', 'latency_p95', 'latency_p99', 'rtt_p95', 'packet_loss', 'stall_ratio', 'stalls_per_min',
  'startup_p50', 'startup_p95', 'error_rate', 'concurrency', 'viewers', 'samples', 'sessions',
] as const;
export type RuleMetric = (typeof RULE_METRICS)[number];

const DURATION = 'a duration such as 30s, 5m or 1h';
const durationText = z
  .string({ error: (iss) => (iss.input === undefined ? undefined : `must be ${DURATION} (got ${describeValue(iss.input)})`) })
  .regex(/^\d+(ms|s|m|h)$/, { error: (iss) => `must be ${DURATION} (got ${describeValue(iss.input)})` });
const comparison = z.string({ error: (iss) => (iss.input === undefined ? undefined : `must be a comparison in quotes, e.g. "> 0.05" (got ${describeValue(iss.input)})`) }).transform((text, ctx) => {
  const c = parseComparison(text);
  if (!c) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a comparison (use e.g. "> 0.05", ">= 800", "< 0.9")` });
    return z.NEVER;
  }
  return c;
});
const thresholds = z
  .partialRecord(z.enum(PRIORITIES), comparison)
  .refine((t) => Object.keys(t).length > 0, 'give at least one priority, e.g. P1: "> 0.05"');

const common = {
  id: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'use 1-63 characters: a-z, 0-9, _, . or -'),
  /** For people reading GET /v1/rules; optional. */
  description: z.string().min(1).max(500).optional(),
  group_by: z.array(z.enum(GROUP_FIELDS)).min(1).default(['tenant', 'region']),
  filter: z.partialRecord(z.enum(GROUP_FIELDS), z.union([z.string().min(1), z.array(z.string().min(1)).min(1)])).default({}),
  for: durationText.default('0s'),
  clear_for: durationText.optional(),
  runbook: z.string().min(1).optional(),
  labels: z.record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'label names are identifiers'), z.string()).default({}),
};

const thresholdRule = z.strictObject({
  kind: z.literal('threshold'),
  ...common,
  metric: z.enum(RULE_METRICS),
  window: durationText,
  thresholds,
  min_samples: z.number().int().min(0).default(0),
  min_sessions: z.number().int().min(0).default(0),
});

const absentRule = z.strictObject({
  kind: z.literal('absent'),
  ...common,
  for: durationText,
  priority: z.enum(PRIORITIES).default('P0'),
  lookback: durationText.default('1h'),
  /** The audience (sessions, or the concurrency nodes report) the group must have had in `baseline` before it fell silent. */
  min_baseline: z.number().int().min(0).default(0),
  baseline: durationText.default('1m'),
});

const dropRule = z.strictObject({
  kind: z.literal('drop'),
  ...common,
  metric: z.enum(['concurrency', 'viewers']),
  baseline: durationText.default('15m'),
  thresholds,
  min_baseline: z.number().min(0).default(0),
  /** Only a fall within this span starts an alert (absent: any fall against the baseline does). */
  within: durationText.optional(),
});

export const ruleSchema = z.preprocess(
  (v) => (v && typeof v === 'object' && !Array.isArray(v) && !('kind' in v) ? { kind: 'threshold', ...v } : v),
  z.discriminatedUnion('kind', [thresholdRule, absentRule, dropRule], { error: 'kind must be threshold, absent or drop' }),
);
export type RuleInput = z.output<typeof ruleSchema>;

export const ruleFileSchema = z.strictObject({ rules: z.array(z.unknown()).default([]) });

interface CompiledBase {
  readonly id: string;
  readonly description: string | undefined;
  /** The file the rule came from, for messages. */
  readonly file: string;
  readonly groupBy: readonly GroupField[];
  /** Allowed values per field; a series matches when every listed field has one of them. */
  readonly filter: ReadonlyMap<GroupField, ReadonlySet<string>>;
  /** The one dimension the rule groups or filters by: it reads that dimension's series, else the region series. */
  readonly dim: Dimension | undefined;
  readonly forMs: number;
  readonly clearForMs: number;
  readonly runbook: string | undefined;
  readonly labels: Readonly<Record<string, string>>;
}

export interface Level {
  readonly priority: Priority;
  readonly cmp: Comparison;
}

export interface ThresholdRule extends CompiledBase {
  readonly kind: 'threshold';
  readonly metric: RuleMetric;
  readonly windowMs: number;
  /** Most severe first. */
  readonly levels: readonly Level[];
  readonly minSamples: number;
  readonly minSessions: number;
}

export interface AbsentRule extends CompiledBase {
  readonly kind: 'absent';
  readonly priority: Priority;
  readonly lookbackMs: number;
  /** Silence is judged only if the group's audience over `baselineMs` before it reached this (0: always). */
  readonly minBaseline: number;
  readonly baselineMs: number;
}

export interface DropRule extends CompiledBase {
  readonly kind: 'drop';
  readonly metric: 'concurrency' | 'viewers';
  readonly baselineMs: number;
  /** Drop fractions (0.3 = 30 %), most severe first. */
  readonly levels: readonly Level[];
  readonly minBaseline: number;
  /** A new alert needs the fall to have happened within this span; undefined: any fall against the baseline. */
  readonly withinMs: number | undefined;
}

export type Rule = ThresholdRule | AbsentRule | DropRule;

/** Checks that thresholds run from most to least severe and all point the same way. */
export function levelsOf(t: Partial<Record<Priority, Comparison>>, issue: (path: string, message: string) => void): Level[] {
  const levels = Object.entries(t).map(([p, cmp]) => ({ priority: p as Priority, cmp: cmp! }));
  levels.forEach((l, i) => {
    const prev = levels[i - 1];
    if (!prev) return;
    const path = `thresholds.${l.priority}`;
    if (rank(l.priority) <= rank(prev.priority)) issue(path, `list thresholds most severe first (${prev.priority} before ${l.priority} is out of order)`);
    else if (isUpward(l.cmp) !== isUpward(prev.cmp)) issue(path, `"${l.cmp.text}" points the other way from "${prev.cmp.text}"`);
    else if (!reachable(prev.cmp, l.cmp)) {
      issue(path, `"${l.cmp.text}" is stricter than the more severe ${prev.priority} "${prev.cmp.text}": it could never hold alone`);
    }
  });
  return levels;
}

/** Whether some value meets the less severe comparison but not the more severe one (same direction). */
function reachable(severe: Comparison, lesser: Comparison): boolean {
  const up = isUpward(severe);
  if (lesser.value !== severe.value) return up ? lesser.value < severe.value : lesser.value > severe.value;
  // Equal values: only "> v" then ">= v" (or "< v" then "<= v") leaves v itself to the lesser level.
  return severe.op === (up ? '>' : '<') && lesser.op === (up ? '>=' : '<=');
}

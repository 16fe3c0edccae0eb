import type { Observation, Values } from './alert-state.js';
import { holds } from './comparison.js';
import type { MetricReading } from './metric-read.js';
import type { AbsentRule, DropRule, Level, ThresholdRule } from './rule-schema.js';

function judge(levels: readonly Level[], values: Omit<Values, 'threshold'>): Observation {
  const hit = levels.find((l) => holds(l.cmp, values.value));
  if (hit) return { kind: 'breach', priority: hit.priority, values: { ...values, threshold: hit.cmp.text } };
  return { kind: 'ok', values: { ...values, threshold: levels[levels.length - 1]!.cmp.text } };
}

/**
 * A threshold rule over its window: no samples → nodata, below the sample guards → insufficient. `levels` replace
 * the rule's own while an event overlay applies.
 */
export function thresholdObservation(rule: ThresholdRule, r: MetricReading, levels: readonly Level[] = rule.levels): Observation {
  if (r.samples === 0 || r.value === undefined) return { kind: 'nodata' };
  const values = { metric: rule.metric, value: r.value, window_ms: rule.windowMs, samples: r.samples, sessions: r.sessions };
  if (r.samples < rule.minSamples || r.sessions < rule.minSessions) return { kind: 'insufficient', values };
  return judge(levels, values);
}

/** Median of the baseline windows' values (sorted copy; baselines are tens of values). */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Minimum baseline windows before a drop can be judged. */
export const MIN_BASELINE_WINDOWS = 3;

export interface DropContext {
  /** The highest gauge of the windows within the rule's `within` (rules with `within`). */
  readonly recent?: number;
  /** The alert is pending, firing or clearing. */
  readonly active?: boolean;
  /** A planned event of the group ends around now: its audience leaving is expected. */
  readonly plannedEnd?: boolean;
}

/**
 * A drop rule: the fall of the current gauge against the baseline median, as a fraction of the median. With
 * `within`, an inactive alert counts only the fall from the highest value within that span — an audience leaving
 * over minutes (the end of a show) is no collapse; once pending or firing, the whole fall counts, so the alert
 * holds while the audience stays away.
 */
export function dropObservation(rule: DropRule, current: number | undefined, baseline: readonly number[], ctx: DropContext = {}): Observation {
  const base = median(baseline);
  if (current === undefined || base === undefined) return { kind: 'nodata' };
  const from = rule.withinMs !== undefined && !ctx.active && ctx.recent !== undefined ? Math.min(base, ctx.recent) : base;
  const drop = base > 0 ? Math.max(0, (from - current) / base) : 0;
  const values = { metric: rule.metric, value: drop, baseline: base, current, samples: baseline.length };
  if (baseline.length < MIN_BASELINE_WINDOWS || base < rule.minBaseline || base === 0 || ctx.plannedEnd) return { kind: 'insufficient', values };
  return judge(rule.levels, values);
}

export interface AbsentContext {
  /** The group's highest audience over the rule's `baseline` before its last sample (rules with `min_baseline`). */
  readonly audience?: number;
  /** The group's last sample came around the end of a planned event of its region: the silence is expected. */
  readonly plannedEnd?: boolean;
}

/**
 * An absent rule: silence is measured from the last sample, or from the service's start if that is later (the
 * service's own downtime is not the region's silence). A group last heard from before the lookback is not
 * judged — unless its alert is already firing, which then holds until data returns. A silence that cut off fewer
 * viewers than `min_baseline` (a night-time region, an audience that had already left), or that followed the
 * planned end of an event, is not judged either: it starts no alert.
 */
export function absentObservation(rule: AbsentRule, lastSeen: number | undefined, now: number, startedAt: number, firing: boolean, ctx: AbsentContext = {}): Observation {
  if (lastSeen === undefined) return { kind: 'nodata' };
  // A firing alert keeps counting from the last sample: a restart must not clear (and re-page) a region still silent.
  const silent = now - (firing ? lastSeen : Math.max(lastSeen, startedAt));
  const values: Values = { metric: 'silence_ms', value: silent, threshold: `>= ${rule.forMs}ms`, ...(ctx.audience === undefined ? {} : { baseline: ctx.audience }) };
  if (silent < rule.forMs || (!firing && now - lastSeen > rule.lookbackMs)) return { kind: 'ok', values };
  if (ctx.plannedEnd || (rule.minBaseline > 0 && (ctx.audience ?? 0) < rule.minBaseline)) return { kind: 'insufficient', values };
  return { kind: 'breach', priority: rule.priority, values };
}

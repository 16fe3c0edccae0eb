import { isUpward } from '../rules/comparison.js';
import type { Level, ThresholdRule } from '../rules/rule-schema.js';
import type { Labels } from '../shared/labels.js';

/** What the rule engine needs of a planned event. */
export interface EventWindow {
  readonly id: number;
  readonly name: string;
  readonly tenant: string;
  /** Empty: every region of the tenant. */
  readonly regions: readonly string[];
  readonly startsAt: number;
  readonly endsAt: number;
  /** In (0, 1): thresholds of upward rules are multiplied by it, of downward rules divided by it. */
  readonly factor: number;
  /** Rule ids the overlay applies to; null: the threshold rules `TIGHTENED_BY_DEFAULT` allows. */
  readonly rules: readonly string[] | null;
}

/**
 * Metrics whose rules an event leaves alone unless it names them: latency, RTT and startup thresholds are delivery
 * targets, and a healthy show already runs near half of them (HLS p95 ≈ 23 s against 45 s, startup p95 ≈ 2 s
 * against 3 s) — tightened, they page on a show that is fine. Failure ratios, stalls and audience floors are
 * tightened: during an event a smaller share of failing viewers is already many people.
 */
const TARGET_METRICS: ReadonlySet<string> = new Set(['latency_p50', 'latency_p95', 'latency_p99', 'rtt_p95', 'startup_p50', 'startup_p95']);

/** Whether an event tightens a rule: the rules it names, else every threshold rule but delivery targets (pure). */
export function tightens(e: Pick<EventWindow, 'rules'>, rule: ThresholdRule): boolean {
  return e.rules === null ? !TARGET_METRICS.has(rule.metric) : e.rules.includes(rule.id);
}

const round = (v: number) => Number(v.toPrecision(12));

/**
 * Around an event's end its audience leaves and its streams stop: falls of viewers, and silences that begin from
 * this long before the end (shows finish early)…
 */
export const PLANNED_END_BEFORE_MS = 10 * 60_000;
/** …to this long after it (after-shows, replays, streams left running) are expected. */
export const PLANNED_END_AFTER_MS = 60 * 60_000;
/** How long after their end events stay with the engine (a silence is judged against an end up to this long ago). */
export const ENDED_EVENTS_KEPT_MS = 24 * 3_600_000;

/** A rule's levels tightened by `factor`: "> 0.05" becomes "> 0.025" at 0.5; "< 100" becomes "< 200". */
export function tightenLevels(levels: readonly Level[], factor: number, eventName: string): Level[] {
  return levels.map((l) => {
    const value = round(isUpward(l.cmp) ? l.cmp.value * factor : l.cmp.value / factor);
    return { priority: l.priority, cmp: { op: l.cmp.op, value, text: `${l.cmp.op} ${value} (${eventName})` } };
  });
}

/** Whether an event covers a group: its tenant, and its region — or all regions (pure). */
function covers(e: EventWindow, labels: Labels): boolean {
  if (labels.tenant !== e.tenant) return false;
  // A group that is not split by region (e.g. one per tenant) is covered only by an event over all regions.
  return e.regions.length === 0 || (labels.region !== undefined && e.regions.includes(labels.region));
}

/** Whether an event's overlay applies to a group of a rule at `now` (pure). */
export function applies(e: EventWindow, rule: ThresholdRule, labels: Labels, now: number): boolean {
  if (now < e.startsAt || now >= e.endsAt) return false;
  if (!tightens(e, rule)) return false;
  return covers(e, labels);
}

/** Whether `at` falls around the end of an event that covers the group (pure). */
export function aroundEnd(e: EventWindow, labels: Labels, at: number): boolean {
  return at >= e.endsAt - PLANNED_END_BEFORE_MS && at <= e.endsAt + PLANNED_END_AFTER_MS && covers(e, labels);
}

/**
 * The engine's view of planned events (not cancelled, not ended more than ENDED_EVENTS_KEPT_MS ago): for a group
 * at `now`, the levels of the tightest event that applies, else undefined (the rule's own); and whether a time is
 * around the end of one of the group's events. Tightened levels are cached per rule object and event, so an
 * evaluation pass allocates nothing.
 */
export class EventOverlay {
  private events: readonly EventWindow[] = [];
  private cache = new WeakMap<ThresholdRule, Map<number, Level[]>>();

  set(events: readonly EventWindow[]): void {
    this.events = [...events].sort((a, b) => a.factor - b.factor);
    this.cache = new WeakMap();
  }

  levelsFor = (rule: ThresholdRule, labels: Labels, now: number): readonly Level[] | undefined => {
    for (const e of this.events) {
      if (!applies(e, rule, labels, now)) continue;
      let byEvent = this.cache.get(rule);
      if (!byEvent) this.cache.set(rule, (byEvent = new Map()));
      let levels = byEvent.get(e.id);
      if (!levels) byEvent.set(e.id, (levels = tightenLevels(rule.levels, e.factor, e.name)));
      return levels;
    }
    return undefined;
  };

  plannedEnd = (labels: Labels, at: number): boolean => this.events.some((e) => aroundEnd(e, labels, at));
}

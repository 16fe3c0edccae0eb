import { isUpward } from '../rules/comparison.js';
import type { Labels } from '../rules/engine.js';
import type { Level, ThresholdRule } from '../rules/rule-schema.js';

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
  /** Rule ids the overlay applies to; null: every threshold rule. */
  readonly rules: readonly string[] | null;
}

const round = (v: number) => Number(v.toPrecision(12));

/** A rule's levels tightened by `factor`: "> 0.05" becomes "> 0.025" at 0.5; "< 100" becomes "< 200". */
export function tightenLevels(levels: readonly Level[], factor: number, eventName: string): Level[] {
  return levels.map((l) => {
    const value = round(isUpward(l.cmp) ? l.cmp.value * factor : l.cmp.value / factor);
    return { priority: l.priority, cmp: { op: l.cmp.op, value, text: `${l.cmp.op} ${value} (${eventName})` } };
  });
}

/** Whether an event's overlay applies to a group of a rule at `now` (pure). */
export function applies(e: EventWindow, rule: ThresholdRule, labels: Labels, now: number): boolean {
  if (now < e.startsAt || now >= e.endsAt || labels.tenant !== e.tenant) return false;
  if (e.rules !== null && !e.rules.includes(rule.id)) return false;
  // A group that is not split by region (e.g. one per tenant) is covered only by an event over all regions.
  return e.regions.length === 0 || (labels.region !== undefined && e.regions.includes(labels.region));
}

/**
 * The engine's overlay: for a group at `now`, the levels of the tightest event that applies, else undefined (the
 * rule's own). Tightened levels are cached per rule object and event, so an evaluation pass allocates nothing.
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
}

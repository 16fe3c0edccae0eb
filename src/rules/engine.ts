import type { LiveSketch } from '../telemetry/sketch.js';
import type { SeriesKey, SketchField } from '../telemetry/window-store.js';
import type { WindowAgg } from '../telemetry/window-agg.js';
import { type AlertState, type Observation, type Transition, inactiveState, step } from './alert-state.js';
import { type SeriesWindows, readMetric, sketchField } from './metric-read.js';
import { absentObservation, dropObservation, thresholdObservation } from './observe.js';
import type { AbsentRule, Level, Rule, ThresholdRule } from './rule-schema.js';
import type { GroupField, Labels } from '../shared/labels.js';
import type { Priority } from '../shared/priority.js';

/** What the engine reads from the window store. */
export interface SeriesReader {
  readonly windowMs: number;
  seriesKeys(): Iterable<SeriesKey>;
  windowOf(ts: number): number;
  window(seriesId: number, index: number): WindowAgg | undefined;
  /** Every window with a lower index is closed. */
  readonly closedBefore: number;
  /** The `field` sketches of closed windows [from, to] of a series merged (cached by the store). */
  closedSketch(seriesId: number, field: SketchField, from: number, to: number): LiveSketch | undefined;
  hasSeries(seriesId: number): boolean;
}

export type AlertEvent = Transition & {
  readonly rule: Rule;
  readonly key: string;
  readonly labels: Labels;
  readonly at: number;
};

/** The durable part of a (rule, group): its alert state, when it last reported, its drop baseline. */
export interface AlertRow {
  rule_id: string;
  group_key: string;
  labels: Labels;
  state: AlertState;
  last_seen: number | undefined;
  baseline: Baseline;
}

/**
 * drop rules: (window index, gauge) of closed windows within the baseline; absent rules with a `min_baseline`:
 * (window index, audience) of the windows with samples, over `baseline` before the last one. Oldest first; windows
 * up to `seen` looked at.
 */
export interface Baseline {
  seen: number;
  values: [window: number, value: number][];
}

/** The groups of one series in an engine, under the rule set and groups of a generation. */
interface Membership {
  readonly engine: RuleEngine;
  readonly generation: number;
  readonly groups: readonly Group[];
}

interface Group {
  readonly rule: Rule;
  readonly key: string;
  readonly labels: Labels;
  readonly members: Set<number>;
  readonly alert: AlertState;
  lastSeen: number | undefined;
  baseline: Baseline;
  dirty: boolean;
  /** 'now': an alert transition, written with the incident changes; 'later': last-seen or baseline, batched. */
  persist: 'now' | 'later' | undefined;
}

export interface EngineOptions {
  /** Service start: absent rules do not count the service's own downtime as silence. */
  startedAt: number;
  /** How often absent/drop rules and due timers are looked at even without new samples. */
  slowTickMs?: number;
  /** Levels that replace a threshold rule's own for a group at `now` (a planned event's tighter thresholds). */
  overlay?: (rule: ThresholdRule, labels: Labels, now: number) => readonly Level[] | undefined;
  /** Whether `at` is around the end of a planned event of the group: its audience leaving, its silence, are expected. */
  plannedEnd?: (labels: Labels, at: number) => boolean;
}

/**
 * Streaming rule evaluation (pure: time is an argument). Samples mark their groups dirty; `evaluate` re-reads only
 * dirty groups, groups whose `for`/`clear_for` timer is due, every group once per aggregation window (windows
 * slide), and absent/drop groups on a slow tick. Returns the alert transitions.
 */
export class RuleEngine {
  private rules: readonly Rule[] = [];
  private readonly groups = new Map<string, Map<string, Group>>();
  private readonly dirty: Group[] = [];
  /** Groups whose row must be written (takeChanged reads these, not every group). */
  private readonly unsaved = new Set<Group>();
  private readonly deleted: { rule_id: string; group_key: string }[] = [];
  /** Bumped by a new rule set and when a group goes: memberships cached before are worked out again. */
  private generation = 0;
  private lastWindow = -Infinity;
  private lastSlow = -Infinity;
  private readonly slowTickMs: number;

  constructor(
    private readonly reader: SeriesReader,
    rules: readonly Rule[],
    private readonly opts: EngineOptions,
    restored: readonly AlertRow[] = [],
  ) {
    this.slowTickMs = opts.slowTickMs ?? 1000;
    this.setRules(rules, opts.startedAt);
    const byId = new Map(rules.map((r) => [r.id, r]));
    for (const row of restored) {
      const rule = byId.get(row.rule_id);
      if (!rule) {
        this.deleted.push({ rule_id: row.rule_id, group_key: row.group_key });
        continue;
      }
      const g = this.groupFor(rule, row.group_key, row.labels);
      Object.assign(g.alert, row.state);
      g.lastSeen = row.last_seen;
      g.baseline = row.baseline;
    }
  }

  get ruleList(): readonly Rule[] {
    return this.rules;
  }

  /**
   * Swaps the rule set (reload). Groups of rules that keep their id keep their state; alerts of removed rules clear.
   */
  setRules(rules: readonly Rule[], now: number): AlertEvent[] {
    const events: AlertEvent[] = [];
    const keep = new Map(rules.map((r) => [r.id, r]));
    for (const [id, groups] of this.groups) {
      const next = keep.get(id);
      for (const g of groups.values()) {
        if (next && next.kind === g.rule.kind) {
          (g as { rule: Rule }).rule = next;
          continue;
        }
        groups.delete(g.key);
        this.deleted.push({ rule_id: id, group_key: g.key });
        this.forgetUnsaved(g);
        if (g.alert.status === 'firing' || g.alert.status === 'clearing') {
          events.push({ type: 'cleared', previous: g.alert.priority!, values: undefined, rule: g.rule, key: g.key, labels: g.labels, at: now });
        }
      }
      if (groups.size === 0) this.groups.delete(id);
    }
    this.rules = rules;
    this.generation++;
    this.lastWindow = -Infinity;
    // A kept rule may group or filter differently now: rebuild every group's series from the store.
    for (const groups of this.groups.values()) for (const g of groups.values()) g.members.clear();
    for (const s of this.reader.seriesKeys()) this.assign(s);
    return events;
  }

  /** Series that received samples: their groups are re-evaluated at the next `evaluate`. */
  observe(series: readonly SeriesKey[], now: number): void {
    for (const s of series) {
      for (const g of this.assign(s)) {
        // once per group and pass, not per member series (a time is a heap number: each write allocates one)
        if (g.lastSeen === now) continue;
        g.lastSeen = now;
        this.unsave(g, 'later');
      }
    }
  }

  /** Adds a series to the group of every rule that watches it, marks those groups dirty and returns them. */
  private assign(s: SeriesKey): readonly Group[] {
    // The groups of a series are worked out once per rule set and kept with it: a pass observes every series that
    // took samples, thousands at a realistic state, and building their labels and keys each time was most of its cost.
    const known = s.ruleMemo as Membership | undefined;
    if (known?.engine === this && known.generation === this.generation) {
      for (const g of known.groups) this.markDirty(g);
      return known.groups;
    }
    const out: Group[] = [];
    for (const rule of this.rules) {
      const labels = labelsFor(rule, s);
      if (!labels) continue;
      const g = this.groupFor(rule, keyOf(rule, labels), labels);
      g.members.add(s.id);
      this.markDirty(g);
      out.push(g);
    }
    s.ruleMemo = { engine: this, generation: this.generation, groups: out } satisfies Membership;
    return out;
  }

  evaluate(now: number): AlertEvent[] {
    const events: AlertEvent[] = [];
    const w = this.reader.windowOf(now);
    const sweep = w !== this.lastWindow;
    const slow = now - this.lastSlow >= this.slowTickMs;
    if (sweep) this.lastWindow = w;
    if (slow) this.lastSlow = now;
    if (sweep || slow) {
      for (const groups of this.groups.values()) {
        for (const g of groups.values()) {
          if (sweep) this.prune(g, now);
          if (g.rule.kind === 'threshold' ? sweep || isDue(g, now) : slow) this.markDirty(g);
        }
      }
    } else {
      for (const groups of this.groups.values()) for (const g of groups.values()) if (isDue(g, now)) this.markDirty(g);
    }
    for (const g of this.dirty) {
      g.dirty = false;
      const before = g.alert.status;
      const t = step(g.alert, this.observation(g, now, w), now, g.rule.kind === 'absent' ? 0 : g.rule.forMs, g.rule.clearForMs);
      if (t) events.push({ ...t, rule: g.rule, key: g.key, labels: g.labels, at: now });
      if (t || before !== g.alert.status) this.unsave(g, 'now');
    }
    this.dirty.length = 0;
    return events;
  }

  /**
   * Rows to write: with `all` false only alert transitions (written with the incident changes), with `all` true also
   * last-seen and baseline updates (batched every few seconds); plus groups that were forgotten.
   */
  takeChanged(all: boolean): { upserts: AlertRow[]; deletes: { rule_id: string; group_key: string }[] } {
    const upserts: AlertRow[] = [];
    for (const g of this.unsaved) {
      if (g.persist === 'now' || (all && g.persist === 'later')) {
        upserts.push({ rule_id: g.rule.id, group_key: g.key, labels: g.labels, state: { ...g.alert }, last_seen: g.lastSeen, baseline: { seen: g.baseline.seen, values: [...g.baseline.values] } });
        this.forgetUnsaved(g);
      }
    }
    return { upserts, deletes: this.deleted.splice(0) };
  }

  /** Marks rows of a failed write to be written again. */
  requeue(changes: { upserts: readonly AlertRow[]; deletes: readonly { rule_id: string; group_key: string }[] }): void {
    for (const r of changes.upserts) {
      const g = this.groups.get(r.rule_id)?.get(r.group_key);
      if (g) this.unsave(g, 'now');
    }
    this.deleted.push(...changes.deletes);
  }

  /** Current alerts (every group not inactive), for the API. */
  *alerts(): IterableIterator<{ rule: Rule; key: string; labels: Labels; state: Readonly<AlertState> }> {
    for (const groups of this.groups.values()) {
      for (const g of groups.values()) if (g.alert.status !== 'inactive') yield { rule: g.rule, key: g.key, labels: g.labels, state: g.alert };
    }
  }

  get groupCount(): number {
    let n = 0;
    for (const groups of this.groups.values()) n += groups.size;
    return n;
  }

  private observation(g: Group, now: number, w: number): Observation {
    const rule = g.rule;
    switch (rule.kind) {
      case 'threshold': {
        const from = w - rule.windowMs / this.reader.windowMs + 1;
        return thresholdObservation(rule, readMetric(rule.metric, this.windowsOf(g, from, w, sketchField(rule.metric))), this.opts.overlay?.(rule, g.labels, now));
      }
      case 'absent': {
        if (rule.minBaseline > 0) this.recordAudience(g, rule, w);
        const audience = rule.minBaseline > 0 ? maxOf(g.baseline.values) : undefined;
        const plannedEnd = g.lastSeen !== undefined && (this.opts.plannedEnd?.(g.labels, g.lastSeen) ?? false);
        return absentObservation(rule, g.lastSeen, now, this.opts.startedAt, g.alert.status === 'firing' || g.alert.status === 'clearing', { audience, plannedEnd });
      }
      case 'drop': {
        this.recordBaseline(g, w);
        const current = readMetric(rule.metric, this.windowsOf(g, w - 1, w)).value;
        const recent = rule.withinMs === undefined ? undefined : maxOf(g.baseline.values, w - Math.ceil(rule.withinMs / this.reader.windowMs));
        return dropObservation(rule, current, g.baseline.values.map(([, v]) => v), {
          recent, active: g.alert.status !== 'inactive', plannedEnd: this.opts.plannedEnd?.(g.labels, now) ?? false,
        });
      }
    }
  }

  /**
   * Windows [from, to] of each member. With `field` (a threshold rule's quantile, read at every pass), that sketch
   * of the closed windows comes merged from the store's cache instead of being merged from each of them again.
   */
  private *windowsOf(g: Group, from: number, to: number, field?: SketchField): IterableIterator<SeriesWindows> {
    const closedTo = field ? Math.min(to, this.reader.closedBefore - 1) : from - 1;
    for (const id of g.members) {
      const windows: WindowAgg[] = [];
      let premerged = 0;
      for (let i = from; i <= to; i++) {
        const a = this.reader.window(id, i);
        if (!a) continue;
        windows.push(a);
        if (i <= closedTo) premerged++;
      }
      yield { windows, premerged, sketch: premerged > 0 ? this.reader.closedSketch(id, field!, from, closedTo) : undefined };
    }
  }

  /**
   * Adds the gauges of windows closed since the last look to a drop rule's baseline. While the alert is not inactive
   * the baseline is frozen and those windows are skipped, so a collapse never becomes the new normal.
   */
  private recordBaseline(g: Group, w: number): void {
    const rule = g.rule;
    if (rule.kind !== 'drop') return;
    const b = g.baseline;
    const span = Math.ceil(rule.baselineMs / this.reader.windowMs);
    if (b.seen >= w - 1) return;
    if (g.alert.status === 'inactive') {
      for (let i = Math.max(b.seen + 1, w - span); i < w; i++) {
        const v = readMetric(rule.metric, this.windowsOf(g, i, i)).value;
        if (v !== undefined) b.values.push([i, v]);
      }
      const keepFrom = b.values.findIndex(([i]) => i >= w - span);
      b.values.splice(0, keepFrom < 0 ? b.values.length : keepFrom);
    }
    b.seen = w - 1;
    this.unsave(g, 'later');
  }

  /**
   * absent rules with a `min_baseline`: records the audience of each window with samples — its distinct sessions,
   * or the concurrency its nodes reported if higher — keeping those within `baseline` of the newest. A window is
   * recorded once the next has begun too: samples carry the start of their interval, so the previous window is
   * still filling. No samples, nothing recorded: a silence keeps the audience it cut off.
   */
  private recordAudience(g: Group, rule: AbsentRule, w: number): void {
    const b = g.baseline;
    const last = w - 2;
    if (b.seen >= last) return;
    const span = Math.ceil(rule.baselineMs / this.reader.windowMs);
    for (let i = Math.max(b.seen + 1, last - span + 1); i <= last; i++) {
      const sessions = readMetric('sessions', this.windowsOf(g, i, i));
      if (sessions.samples === 0) continue;
      const nodes = readMetric('concurrency', this.windowsOf(g, i, i)).value ?? 0;
      b.values.push([i, Math.max(sessions.sessions, nodes)]);
    }
    const newest = b.values[b.values.length - 1]?.[0];
    if (newest !== undefined) {
      const keepFrom = b.values.findIndex(([i]) => i > newest - span);
      b.values.splice(0, keepFrom);
    }
    b.seen = last;
    this.unsave(g, 'later');
  }

  /** Drops members the store has forgotten, and groups that are idle with nothing to remember. */
  private prune(g: Group, now: number): void {
    for (const id of g.members) if (!this.reader.hasSeries(id)) g.members.delete(id);
    const horizon = g.rule.kind === 'absent' ? g.rule.lookbackMs : g.rule.kind === 'drop' ? g.rule.baselineMs : g.rule.windowMs;
    if (g.alert.status !== 'inactive' || g.members.size > 0 || (g.lastSeen !== undefined && now - g.lastSeen <= horizon)) return;
    this.groups.get(g.rule.id)?.delete(g.key);
    this.generation++;
    this.deleted.push({ rule_id: g.rule.id, group_key: g.key });
    this.forgetUnsaved(g);
  }

  /** Flags a group's row for writing: 'now' (a transition) wins over 'later' (last seen, baseline). */
  private unsave(g: Group, when: 'now' | 'later'): void {
    // A group is in `unsaved` exactly while it has a `persist`: a pass marks thousands, most of them already in.
    if (g.persist === undefined) this.unsaved.add(g);
    if (g.persist !== 'now') g.persist = when;
  }

  private forgetUnsaved(g: Group): void {
    g.persist = undefined;
    this.unsaved.delete(g);
  }

  private markDirty(g: Group): void {
    if (g.dirty) return;
    g.dirty = true;
    this.dirty.push(g);
  }

  private groupFor(rule: Rule, key: string, labels: Labels): Group {
    let groups = this.groups.get(rule.id);
    if (!groups) this.groups.set(rule.id, (groups = new Map()));
    let g = groups.get(key);
    if (!g) {
      g = { rule, key, labels, members: new Set(), alert: inactiveState(this.opts.startedAt), lastSeen: undefined, baseline: { seen: -Infinity, values: [] }, dirty: false, persist: undefined };
      groups.set(key, g);
    }
    return g;
  }
}

/** The highest value of (window, value) pairs from window `from` on; undefined when there are none. */
function maxOf(values: readonly (readonly [number, number])[], from = -Infinity): number | undefined {
  let max: number | undefined;
  for (const [i, v] of values) if (i >= from && (max === undefined || v > max)) max = v;
  return max;
}

/** A timer of the alert's state machine has run out. */
function isDue(g: Group, now: number): boolean {
  const a = g.alert;
  switch (a.status) {
    case 'inactive': return false;
    case 'pending': return now - a.since >= g.rule.forMs;
    case 'clearing': return now - a.since >= g.rule.clearForMs;
    case 'firing': return a.lowerSince !== undefined && now - a.lowerSince >= g.rule.clearForMs;
  }
}

/** The group labels of a series for a rule, or undefined when the rule does not watch it. */
export function labelsFor(rule: Rule, s: SeriesKey): Labels | undefined {
  if (s.dim !== rule.dim) return undefined;
  const field = (f: GroupField) => (f === 'tenant' ? s.tenant : f === 'region' ? s.region : f === s.dim ? s.value : undefined);
  for (const [f, allowed] of rule.filter) {
    const v = field(f);
    if (v === undefined || !allowed.has(v)) return undefined;
  }
  const labels: Partial<Record<GroupField, string>> = {};
  for (const f of rule.groupBy) labels[f] = field(f);
  return labels;
}

export function keyOf(rule: Rule, labels: Labels): string {
  return rule.groupBy.map((f) => `${f}=${labels[f] ?? ''}`).join(',');
}

export type { Priority };

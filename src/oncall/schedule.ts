import { DateTime } from 'luxon';
import { type Weekday, atWallClock, weekdayOf } from '../shared/time-of-day.js';

/** A rotation: members take turns, handing off at a wall-clock time in an IANA zone. */
export interface Rotation {
  readonly timezone: string;
  /** Local date (YYYY-MM-DD) of the first handoff: members[0] takes the first turn then. */
  readonly start: string;
  /** Local handoff time, HH:MM. */
  readonly handoff: string;
  /**
   * Turn length: whole days follow the wall clock (a daily 09:00 handoff stays at 09:00 across DST); other lengths
   * are exact durations from the first handoff.
   */
  readonly lengthMs: number;
  readonly members: readonly string[];
}

/** A daily time-of-day window in the layer's zone (to < from crosses midnight), optionally on some weekdays. */
export interface Restriction {
  readonly days: readonly Weekday[];
  readonly from: string;
  readonly to: string;
}

export interface Layer {
  readonly id: string;
  readonly rotation: Rotation;
  /** Empty: always on. */
  readonly restrictions: readonly Restriction[];
}

export interface Override {
  readonly id?: string | number;
  readonly person: string;
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
}

export interface Schedule {
  readonly id: string;
  /** Later layers take precedence where they have someone on call; earlier ones fill the rest. */
  readonly layers: readonly Layer[];
  readonly overrides: readonly Override[];
}

export interface OnCall {
  readonly person: string;
  /** The layer id, or "override". */
  readonly source: string;
}

export interface Shift extends OnCall {
  readonly start: number;
  readonly end: number;
}

const DAY = 86_400_000;
const at = atWallClock;

/**
 * Handoffs computed so far, per rotation (immutable configuration): zone arithmetic is most of the cost of resolving a
 * schedule, and turnAt, onCallAt and boundaries ask for the same handoffs again and again.
 */
const handoffs = new WeakMap<Rotation, { first: DateTime; at: Map<number, number> }>();
/** Handoffs kept per rotation at most (a long-running service asks for ever later ones). */
const MAX_CACHED_HANDOFFS = 4096;

/** The instant of handoff number `n` (0 = the first). */
export function handoffAt(r: Rotation, n: number): number {
  let c = handoffs.get(r);
  if (!c) handoffs.set(r, (c = { first: at(DateTime.fromISO(r.start, { zone: r.timezone }), r.handoff), at: new Map() }));
  const known = c.at.get(n);
  if (known !== undefined) return known;
  const t = r.lengthMs % DAY === 0 ? at(c.first.plus({ days: (n * r.lengthMs) / DAY }), r.handoff).toMillis() : c.first.toMillis() + n * r.lengthMs;
  if (c.at.size >= MAX_CACHED_HANDOFFS) c.at.clear();
  c.at.set(n, t);
  return t;
}

/** The turn in force at `t` (negative before the first handoff). */
export function turnAt(r: Rotation, t: number): number {
  const first = handoffAt(r, 0);
  // An estimate from exact durations, corrected by at most a step or two around DST changes.
  let n = Math.floor((t - first) / r.lengthMs);
  while (handoffAt(r, n) > t) n--;
  while (handoffAt(r, n + 1) <= t) n++;
  return n;
}

export function rotationMember(r: Rotation, t: number): string | undefined {
  const n = turnAt(r, t);
  if (n < 0) return undefined;
  return r.members[n % r.members.length];
}

/** Whether a restriction window covers `t`: today's window, or yesterday's if it runs past midnight. */
function restrictionCovers(x: Restriction, zone: string, t: number): boolean {
  const local = DateTime.fromMillis(t, { zone });
  for (const back of [0, 1]) {
    const day = local.minus({ days: back });
    if (!x.days.includes(weekdayOf(day))) continue;
    const from = at(day, x.from).toMillis();
    const to = x.to > x.from ? at(day, x.to).toMillis() : at(day.plus({ days: 1 }), x.to).toMillis();
    if (t >= from && t < to) return true;
  }
  return false;
}

/** Whether a layer is on at `t` (its restrictions allow it). */
type Covers = (l: Layer, t: number) => boolean;
const coversAt: Covers = (l, t) => !l.restrictions.length || l.restrictions.some((x) => restrictionCovers(x, l.rotation.timezone, t));

export function layerMember(l: Layer, t: number, covers: Covers = coversAt): string | undefined {
  if (!covers(l, t)) return undefined;
  return rotationMember(l.rotation, t);
}

/** Exactly who is on call at `t`: the latest override covering it, else the last layer with someone, else nobody. */
export function onCallAt(s: Schedule, t: number, covers: Covers = coversAt): OnCall | undefined {
  for (let i = s.overrides.length - 1; i >= 0; i--) {
    const o = s.overrides[i]!;
    if (t >= o.start && t < o.end) return { person: o.person, source: 'override' };
  }
  for (let i = s.layers.length - 1; i >= 0; i--) {
    const person = layerMember(s.layers[i]!, t, covers);
    if (person !== undefined) return { person, source: s.layers[i]!.id };
  }
  return undefined;
}

/** A layer's restriction windows that can cover [from, to): each day's, from the day before `from` (past midnight). */
function restrictionWindows(l: Layer, from: number, to: number): [number, number][] {
  const out: [number, number][] = [];
  for (let day = DateTime.fromMillis(from, { zone: l.rotation.timezone }).startOf('day').minus({ days: 1 }); day.toMillis() < to; day = day.plus({ days: 1 })) {
    for (const x of l.restrictions) {
      if (!x.days.includes(weekdayOf(day))) continue;
      out.push([at(day, x.from).toMillis(), x.to > x.from ? at(day, x.to).toMillis() : at(day.plus({ days: 1 }), x.to).toMillis()]);
    }
  }
  return out;
}

/** Every instant in [from, to) where the answer of onCallAt may change: handoffs, override and window edges. */
function boundaries(s: Schedule, from: number, to: number, windows: ReadonlyMap<Layer, readonly [number, number][]>): number[] {
  const out = new Set<number>([from]);
  const add = (t: number) => t > from && t < to && out.add(t);
  for (const o of s.overrides) (add(o.start), add(o.end));
  for (const l of s.layers) {
    const r = l.rotation;
    for (let n = Math.max(0, turnAt(r, from)); ; n++) {
      const h = handoffAt(r, n);
      if (h >= to) break;
      add(h);
    }
    for (const [start, end] of windows.get(l) ?? []) (add(start), add(end));
  }
  return [...out].sort((a, b) => a - b);
}

/** The resolved schedule over [from, to): consecutive shifts, one per person and source, gaps left out. */
export function shifts(s: Schedule, from: number, to: number): Shift[] {
  const out: Shift[] = [];
  // Restriction windows once for the span, rather than zone arithmetic at every boundary.
  const windows = new Map(s.layers.filter((l) => l.restrictions.length).map((l) => [l, restrictionWindows(l, from, to)]));
  const covers: Covers = (l, t) => !l.restrictions.length || windows.get(l)!.some(([start, end]) => t >= start && t < end);
  const points = boundaries(s, from, to, windows);
  points.forEach((start, i) => {
    const end = points[i + 1] ?? to;
    const who = onCallAt(s, start, covers);
    if (!who) return;
    const last = out.at(-1);
    if (last && last.end === start && last.person === who.person && last.source === who.source) (last as { end: number }).end = end;
    else out.push({ ...who, start, end });
  });
  return out;
}

/** The spans in [from, to) with nobody on call. */
export function gaps(s: Schedule, from: number, to: number): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  let cursor = from;
  for (const sh of shifts(s, from, to)) {
    if (sh.start > cursor) out.push({ start: cursor, end: sh.start });
    cursor = Math.max(cursor, sh.end);
  }
  if (cursor < to) out.push({ start: cursor, end: to });
  return out;
}

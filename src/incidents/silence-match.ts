import { DateTime } from 'luxon';
import { z } from 'zod';
import { GROUP_FIELDS } from '../shared/labels.js';
import { WEEKDAYS, atWallClock, hhmmSchema, weekdayOf, zoneSchema } from '../shared/time-of-day.js';
import { durationSchema } from '../util/units.js';

const oneOrMany = z.union([z.string().min(1).max(200), z.array(z.string().min(1).max(200)).min(1).max(100)]);

/** Which alerts a silence covers: every listed field must match one of its values (tenant, region, rule, dims). */
export const matchersSchema = z
  .strictObject({ rule: oneOrMany.optional(), ...Object.fromEntries(GROUP_FIELDS.map((f) => [f, oneOrMany.optional()])) } as Record<'rule' | (typeof GROUP_FIELDS)[number], z.ZodOptional<typeof oneOrMany>>)
  .refine((m) => Object.values(m).some((v) => v !== undefined), 'give at least one matcher (tenant, region, rule or a dimension)');
export type Matchers = z.output<typeof matchersSchema>;

/** A maintenance window that repeats: on these weekdays, from a wall-clock time in an IANA zone, for a duration. */
export const recurrenceSchema = z.strictObject({
  timezone: zoneSchema,
  days: z.array(z.enum(WEEKDAYS)).min(1).default([...WEEKDAYS]),
  start: hhmmSchema,
  duration: durationSchema(60_000, 86_400_000),
});
export type Recurrence = z.output<typeof recurrenceSchema>;

export interface SilenceRule {
  readonly matchers: Matchers;
  readonly startsAt: number;
  /** Exclusive; open-ended when undefined. */
  readonly endsAt: number | undefined;
  readonly recurrence: Recurrence | undefined;
}

/** What an alert is matched on. */
export type AlertSubject = { readonly rule: string } & Readonly<Partial<Record<(typeof GROUP_FIELDS)[number], string>>>;

export function matches(m: Matchers, subject: AlertSubject): boolean {
  for (const [field, want] of Object.entries(m)) {
    if (want === undefined) continue;
    const have = subject[field as keyof AlertSubject];
    if (have === undefined) return false;
    if (Array.isArray(want) ? !want.includes(have) : want !== have) return false;
  }
  return true;
}

/**
 * Whether a silence is in force at `t`. A recurring one is checked against the occurrences starting on the local day
 * of `t` and the day before (an occurrence may run past midnight); local times are resolved in the zone for each day,
 * so "02:00 for 2h" follows the wall clock across DST changes.
 */
export function activeAt(s: SilenceRule, t: number): boolean {
  if (t < s.startsAt || (s.endsAt !== undefined && t >= s.endsAt)) return false;
  const r = s.recurrence;
  if (!r) return true;
  const local = DateTime.fromMillis(t, { zone: r.timezone });
  for (const back of [0, 1]) {
    const day = local.minus({ days: back });
    if (!r.days.includes(weekdayOf(day))) continue;
    const start = atWallClock(day, r.start).toMillis();
    if (t >= start && t < start + r.duration) return true;
  }
  return false;
}

/**
 * The first instant after `after` at which `activeAt(s, ·)` can change: the silence's start or end, or (recurring)
 * the start or end of one of its occurrences within them; undefined when it never changes again. Occurrences are
 * resolved per local day like `activeAt`, so the instants follow the wall clock across DST.
 */
export function nextChange(s: SilenceRule, after: number): number | undefined {
  const within = (t: number) => t > after && t >= s.startsAt && (s.endsAt === undefined || t <= s.endsAt);
  const candidates = [s.startsAt, ...(s.endsAt === undefined ? [] : [s.endsAt])];
  const r = s.recurrence;
  if (r) {
    // From the day before (an occurrence may run past midnight) through a week on, which holds the next one.
    const local = DateTime.fromMillis(Math.max(after, s.startsAt), { zone: r.timezone }).startOf('day');
    for (let back = -1; back <= 8; back++) {
      const day = local.plus({ days: back });
      if (!r.days.includes(weekdayOf(day))) continue;
      const start = atWallClock(day, r.start).toMillis();
      candidates.push(start, start + r.duration);
    }
  }
  const next = Math.min(...candidates.filter(within));
  return Number.isFinite(next) ? next : undefined;
}

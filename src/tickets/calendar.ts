import { DateTime } from 'luxon';
import type { BusinessHours, SlaTarget } from '../shared/tenant.js';
import { atWallClock, weekdayOf } from '../shared/time-of-day.js';

/** A clock runs round the clock, or only in business hours. */
export type Calendar = '24x7' | BusinessHours;

/** Safety stop for a calendar with no working time at all (every day a holiday). */
const MAX_DAYS = 3 * 366;

/** The working windows [from, to) of each local day from the one holding `t` on, as instants. */
function* windows(cal: BusinessHours, t: number): IterableIterator<[number, number]> {
  const holidays = new Set(cal.holidays);
  let day = DateTime.fromMillis(t, { zone: cal.timezone }).startOf('day');
  for (let i = 0; i < MAX_DAYS; i++, day = day.plus({ days: 1 })) {
    if (!cal.days.includes(weekdayOf(day)) || holidays.has(day.toISODate()!)) continue;
    yield [atWallClock(day, cal.start).toMillis(), atWallClock(day, cal.end).toMillis()];
  }
  throw new Error(`calendar in ${cal.timezone} has no working time in ${MAX_DAYS} days`);
}

/** The instant when `ms` of calendar time have run from `from` (business hours skip nights, weekends, holidays). */
export function addCalendarTime(cal: Calendar, from: number, ms: number): number {
  if (cal === '24x7') return from + ms;
  let remaining = ms;
  for (const [start, end] of windows(cal, from)) {
    const s = Math.max(start, from);
    if (s >= end) continue;
    if (remaining <= end - s) return s + remaining;
    remaining -= end - s;
  }
  throw new Error('unreachable');
}

/** Calendar time between two instants. */
export function calendarTimeBetween(cal: Calendar, from: number, to: number): number {
  if (to <= from) return 0;
  if (cal === '24x7') return to - from;
  let total = 0;
  for (const [start, end] of windows(cal, from)) {
    if (start >= to) break;
    total += Math.max(0, Math.min(end, to) - Math.max(start, from));
  }
  return total;
}

/** Length of one working day (for targets written as "1 business day"). */
export function businessDayMs(cal: BusinessHours): number {
  const day = DateTime.fromISO('2026-01-07', { zone: cal.timezone });
  return atWallClock(day, cal.end).toMillis() - atWallClock(day, cal.start).toMillis();
}

/** The clock a target runs on and its length on that clock, for a tenant with these business hours. */
export function resolveTarget(t: SlaTarget, business: BusinessHours): { calendar: Calendar; ms: number } {
  if ('businessDays' in t) return { calendar: business, ms: t.businessDays * businessDayMs(business) };
  return { calendar: t.calendar === '24x7' ? '24x7' : business, ms: t.ms };
}

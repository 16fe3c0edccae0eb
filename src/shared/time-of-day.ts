import { DateTime, IANAZone } from 'luxon';
import { z } from 'zod';

/** The days of the week in ISO order (Monday first), as schedules, business hours and silences name them. */
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export const weekdayOf = (day: DateTime): Weekday => WEEKDAYS[day.weekday - 1]!;

/** A wall-clock time as the config files and the API write it. */
/** An IANA time zone name (luxon knows it). */
export const zoneSchema = z.string().refine((tz) => IANAZone.isValidZone(tz), 'is not an IANA time zone (e.g. Asia/Shanghai)');

export const hhmmSchema = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'use HH:MM (24 h)');

/**
 * The instant a wall-clock time ("HH:MM") happens on the local date of `day` (in its zone). A time inside a skipped
 * hour (spring forward) moves forward with the clock; a time that happens twice (fall back) is taken at its first
 * occurrence, as cron does, so windows and handoffs stay one unbroken span.
 */
export function atWallClock(day: DateTime, time: string): DateTime {
  const [hour, minute] = time.split(':').map(Number) as [number, number];
  const t = DateTime.fromObject({ year: day.year, month: day.month, day: day.day, hour, minute }, { zone: day.zone });
  const shift = t.minus({ days: 1 }).offset - t.offset;
  if (shift > 0) {
    const earlier = t.minus({ minutes: shift });
    if (earlier.hour === hour && earlier.minute === minute) return earlier;
  }
  return t;
}

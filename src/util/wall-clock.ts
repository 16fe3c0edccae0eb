import { DateTime } from 'luxon';

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

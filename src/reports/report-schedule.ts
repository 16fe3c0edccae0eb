import { DateTime } from 'luxon';
import { WEEKDAYS, type Weekday, atWallClock } from '../shared/time-of-day.js';

export type ReportKind = 'daily' | 'weekly';

/** When a tenant's report goes out, in the tenant's time zone: daily at HH:MM, or weekly on a day at HH:MM. */
export interface ReportSchedule {
  readonly kind: ReportKind;
  readonly at: string;
  /** Weekly only. */
  readonly day?: Weekday;
}

const isoWeekday = (d: Weekday) => WEEKDAYS.indexOf(d) + 1;

/**
 * The latest scheduled instant at or before `now` (pure). Times that fall in a DST gap move forward with the
 * clock; in a repeated hour the first occurrence counts (atWallClock), so a report goes out once.
 */
export function lastDue(s: ReportSchedule, zone: string, now: number): number {
  const local = DateTime.fromMillis(now, { zone });
  for (let back = 0; back <= 7; back++) {
    const day = local.minus({ days: back });
    if (s.kind === 'weekly' && day.weekday !== isoWeekday(s.day!)) continue;
    const due = atWallClock(day, s.at).toMillis();
    if (due <= now) return due;
  }
  throw new Error(`no ${s.kind} due time within a week of ${new Date(now).toISOString()}`);
}

/** The next scheduled instant after `now`. */
export function nextDue(s: ReportSchedule, zone: string, now: number): number {
  const local = DateTime.fromMillis(now, { zone });
  for (let ahead = 0; ahead <= 8; ahead++) {
    const day = local.plus({ days: ahead });
    if (s.kind === 'weekly' && day.weekday !== isoWeekday(s.day!)) continue;
    const due = atWallClock(day, s.at).toMillis();
    if (due > now) return due;
  }
  throw new Error(`no ${s.kind} due time within a week after ${new Date(now).toISOString()}`);
}

/**
 * What a report due at `dueAt` covers, in whole local days: the day before (daily) or the seven days before
 * (weekly), ending at the local midnight that starts the due day. DST days are 23 or 25 hours long.
 */
export function periodOf(kind: ReportKind, dueAt: number, zone: string): { from: number; to: number; label: string } {
  // Labels in English whatever the host's locale: the rest of the email is English.
  const end = DateTime.fromMillis(dueAt, { zone }).setLocale('en-US').startOf('day');
  const start = end.minus({ days: kind === 'daily' ? 1 : 7 });
  const label = kind === 'daily' ? start.toFormat('ccc d LLL yyyy') : `${start.toFormat('d LLL')} – ${end.minus({ days: 1 }).toFormat('d LLL yyyy')}`;
  return { from: start.toMillis(), to: end.toMillis(), label };
}

/** node-cron's expression for the schedule (minute hour day-of-month month day-of-week), run in the tenant's zone. */
export function cronOf(s: ReportSchedule): string {
  const [h, m] = s.at.split(':').map(Number) as [number, number];
  return `${m} ${h} * * ${s.kind === 'weekly' ? isoWeekday(s.day!) % 7 : '*'}`;
}

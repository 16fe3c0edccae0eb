import { createHash } from 'node:crypto';
import ical from 'ical-generator';
import { type Schedule, type Shift, shifts } from './schedule.js';

const DAY = 86_400_000;

/** A feed shows the last 14 days (handovers, timesheets) … */
export const FEED_PAST_DAYS = 14;
/** … and the next 56: two months of plans, inside the 92 days the shifts API resolves at once. */
export const FEED_AHEAD_DAYS = 56;
/** How often calendar apps are asked to fetch a feed again (REFRESH-INTERVAL), in seconds. */
export const FEED_REFRESH_S = 3600;

/**
 * The span a feed covers at `now`: from UTC midnight FEED_PAST_DAYS back to FEED_AHEAD_DAYS ahead. Starting at a
 * midnight keeps the first event (cut at the window's start, so its start and UID are the window's) the same all day.
 */
export function feedWindow(now: number): { from: number; to: number } {
  const from = Math.floor(now / DAY) * DAY - FEED_PAST_DAYS * DAY;
  return { from, to: from + (FEED_PAST_DAYS + 1 + FEED_AHEAD_DAYS) * DAY };
}

/** A resolved shift and the schedule it is on. */
export interface FeedShift extends Shift {
  readonly schedule: string;
}

/**
 * Resolving a schedule costs time-zone arithmetic at every boundary: about 25 ms a week for a follow-the-sun schedule
 * (oncall.example.yaml), so a feed's ten weeks at once would hold the event loop for a quarter of a second — longer
 * than QOSWATCH_MAX_EVENT_LOOP_DELAY, which sheds telemetry. A feed is resolved a week at a time instead.
 */
const CHUNK_MS = 7 * DAY;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A schedule's shifts over [from, to), its overrides applied (the schedule as OnCallService.schedule gives it): the
 * same shifts as one `shifts` call — a shift cut at a week's end is joined again — yielding to the loop between weeks.
 */
export async function scheduleShifts(s: Schedule, from: number, to: number): Promise<FeedShift[]> {
  const out: { -readonly [K in keyof FeedShift]: FeedShift[K] }[] = [];
  for (let start = from; start < to; start += CHUNK_MS) {
    if (start > from) await nextTurn();
    for (const sh of shifts(s, start, Math.min(start + CHUNK_MS, to))) {
      const last = out.at(-1);
      if (last && last.end === sh.start && last.person === sh.person && last.source === sh.source) last.end = sh.end;
      else out.push({ ...sh, schedule: s.id });
    }
  }
  return out;
}

/** One person's shifts on every schedule over [from, to), by start. */
export async function personShifts(schedules: Iterable<Schedule>, person: string, from: number, to: number): Promise<FeedShift[]> {
  const out: FeedShift[] = [];
  for (const s of schedules) out.push(...(await scheduleShifts(s, from, to)).filter((sh) => sh.person === person));
  return out.sort((a, b) => a.start - b.start || a.schedule.localeCompare(b.schedule));
}

/**
 * A shift's UID: the same shift gets the same UID on every fetch and in every feed (a calendar app updates the event
 * rather than adding another); its end is left out, so a shift that grows (an override ends later) stays one event.
 */
export function shiftUid(s: FeedShift): string {
  const key = JSON.stringify([s.schedule, s.source, s.person, s.start]);
  return `${createHash('sha256').update(key).digest('hex').slice(0, 32)}@qoswatch`;
}

export interface FeedOptions {
  /** The calendar's name in the app. */
  readonly title: string;
  readonly shifts: readonly FeedShift[];
  /** A person's display name. */
  readonly name: (person: string) => string;
  readonly now: number;
}

/** The feed as iCalendar text (RFC 5545): one event per shift, times in UTC (the zones are in the rotation's arithmetic). */
export function renderFeed(o: FeedOptions): string {
  const cal = ical({ name: o.title, prodId: { company: 'qoswatch', product: 'on-call', language: 'EN' }, ttl: FEED_REFRESH_S });
  for (const s of o.shifts) {
    cal.createEvent({
      id: shiftUid(s),
      start: new Date(s.start),
      end: new Date(s.end),
      stamp: new Date(o.now),
      summary: `${o.name(s.person)} on call: ${s.schedule}`,
      description: `Schedule ${s.schedule}, ${s.source === 'override' ? 'an override' : `layer ${s.source}`}. Person: ${s.person}.`,
    });
  }
  return cal.toString();
}

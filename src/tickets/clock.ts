import { type Calendar, addCalendarTime, calendarTimeBetween } from './calendar.js';

/** What moves an SLA clock: it starts, pauses (waiting on the customer), resumes, and stops (target met). */
export interface ClockEvent {
  readonly at: number;
  readonly kind: 'start' | 'pause' | 'resume' | 'stop';
}

export interface ClockState {
  /** Calendar time counted so far. */
  readonly elapsedMs: number;
  readonly running: boolean;
  /** When the target is (or was) reached at 80 %, and at 100 %, if the clock runs until then. */
  readonly warnAt: number | undefined;
  readonly dueAt: number | undefined;
  readonly breached: boolean;
  readonly stoppedAt: number | undefined;
}

/**
 * An SLA clock computed from its events — never a stored counter (pure; `now` is an argument). Time counts only
 * while running and only in the calendar's hours; a priority change is a new `targetMs` over the same events.
 * The 80 % warning and the breach instants are exact: the calendar is walked to the millisecond they fall on.
 */
export function clockState(events: readonly ClockEvent[], cal: Calendar, targetMs: number, now: number): ClockState {
  const sorted = [...events].sort((a, b) => a.at - b.at);
  let elapsed = 0;
  let runningSince: number | undefined;
  let stoppedAt: number | undefined;
  let warnAt: number | undefined;
  let dueAt: number | undefined;
  // Marks the instants inside a running segment [from, to) at which the counted time reaches 80 % and 100 %.
  const cross = (from: number, to: number) => {
    const seg = calendarTimeBetween(cal, from, to);
    if (warnAt === undefined && elapsed + seg >= 0.8 * targetMs) warnAt = addCalendarTime(cal, from, Math.max(0, 0.8 * targetMs - elapsed));
    if (dueAt === undefined && elapsed + seg >= targetMs) dueAt = addCalendarTime(cal, from, Math.max(0, targetMs - elapsed));
    elapsed += seg;
  };
  for (const e of sorted) {
    if (e.at > now || stoppedAt !== undefined) break;
    if ((e.kind === 'start' || e.kind === 'resume') && runningSince === undefined) runningSince = e.at;
    else if ((e.kind === 'pause' || e.kind === 'stop') && runningSince !== undefined) {
      cross(runningSince, e.at);
      runningSince = undefined;
    }
    if (e.kind === 'stop') stoppedAt = e.at;
  }
  const running = runningSince !== undefined;
  if (running) {
    cross(runningSince!, now);
    // Not reached yet: when they will be, if the clock keeps running.
    const counted = elapsed - calendarTimeBetween(cal, runningSince!, now);
    warnAt ??= addCalendarTime(cal, runningSince!, Math.max(0, 0.8 * targetMs - counted));
    dueAt ??= addCalendarTime(cal, runningSince!, Math.max(0, targetMs - counted));
  }
  // Reaching the target while counting is the breach; stopping at the very instant it is due is still on time.
  const breached = elapsed >= targetMs && (stoppedAt === undefined || dueAt! < stoppedAt);
  return { elapsedMs: elapsed, running, warnAt, dueAt, breached, stoppedAt };
}

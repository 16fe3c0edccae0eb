import ical, { type VEvent } from 'node-ical';
import { describe, expect, it } from 'vitest';
import { FEED_AHEAD_DAYS, FEED_PAST_DAYS, type FeedShift, feedWindow, personShifts, renderFeed, scheduleShifts, shiftUid } from '../../src/oncall/calendar.js';
import { type Layer, type Override, type Schedule, shifts } from '../../src/oncall/schedule.js';

// 2026 clock change: Europe/Berlin +01:00 → +02:00 on Sunday 2026-03-29 at 01:00Z. Every instant below is UTC.
const DAY = 86_400_000;
const utc = (s: string) => Date.parse(`${s}Z`);
const iso = (ms: number) => new Date(ms).toISOString().replace(':00.000Z', 'Z');

/** A daily Berlin rotation handing off at 09:00 local, [anna, ben] from 2026-03-26. */
const berlin: Layer = { id: 'emea', rotation: { timezone: 'Europe/Berlin', start: '2026-03-26', handoff: '09:00', lengthMs: DAY, members: ['anna', 'ben'] }, restrictions: [] };
const schedule = (id: string, layers: Layer[], overrides: Override[] = []): Schedule => ({ id, layers, overrides });
const names: Record<string, string> = { anna: 'Anna Berg', ben: 'Ben, "the night owl"; ops\\team' };
const name = (p: string) => names[p] ?? p;

/** The feed parsed back as a calendar app reads it: its events by start. */
function parse(text: string): VEvent[] {
  const parsed = ical.sync.parseICS(text);
  return Object.values(parsed)
    .filter((c): c is VEvent => c?.type === 'VEVENT')
    .sort((a, b) => a.start.getTime() - b.start.getTime());
}
const rows = (events: VEvent[]) => events.map((e) => [iso(e.start.getTime()), iso(e.end!.getTime()), e.summary]);

describe('on-call calendar feeds', () => {
  it('hands off at 09:00 Berlin time on both sides of the spring clock change (08:00Z, then 07:00Z)', async () => {
    const s = schedule('primary', [berlin]);
    const text = renderFeed({ title: 'primary', shifts: await scheduleShifts(s, utc('2026-03-27T00:00'), utc('2026-03-31T00:00')), name, now: utc('2026-03-27T00:00') });
    expect(text).toContain('REFRESH-INTERVAL;VALUE=DURATION:PT1H');
    // UTC instants: no VTIMEZONE needed, and no app can misread a zone.
    expect(text).toContain('DTSTART:20260328T080000Z');
    expect(text).not.toContain('VTIMEZONE');
    expect(rows(parse(text))).toEqual([
      ['2026-03-27T00:00Z', '2026-03-27T08:00Z', 'Anna Berg on call: primary'], // cut at the window's start
      ['2026-03-27T08:00Z', '2026-03-28T08:00Z', `${names.ben} on call: primary`],
      ['2026-03-28T08:00Z', '2026-03-29T07:00Z', 'Anna Berg on call: primary'], // a 23-hour turn: the clocks went forward
      ['2026-03-29T07:00Z', '2026-03-30T07:00Z', `${names.ben} on call: primary`],
      ['2026-03-30T07:00Z', '2026-03-31T00:00Z', 'Anna Berg on call: primary'],
    ]);
    expect(parse(text)[1]!.description).toBe('Schedule primary, layer emea. Person: ben.');
  });

  it('shows overrides in place of the layer (the turn split around them), each event with its own source', async () => {
    const s = schedule('primary', [berlin], [{ person: 'carl', start: utc('2026-03-28T12:00'), end: utc('2026-03-28T18:00') }]);
    const events = parse(renderFeed({ title: 'primary', shifts: await scheduleShifts(s, utc('2026-03-28T08:00'), utc('2026-03-29T07:00')), name, now: 0 }));
    expect(rows(events)).toEqual([
      ['2026-03-28T08:00Z', '2026-03-28T12:00Z', 'Anna Berg on call: primary'],
      ['2026-03-28T12:00Z', '2026-03-28T18:00Z', 'carl on call: primary'],
      ['2026-03-28T18:00Z', '2026-03-29T07:00Z', 'Anna Berg on call: primary'],
    ]);
    expect(events.map((e) => e.description)).toEqual([
      'Schedule primary, layer emea. Person: anna.', 'Schedule primary, an override. Person: carl.', 'Schedule primary, layer emea. Person: anna.',
    ]);
  });

  it('gives a shift the same UID on every fetch, one that an override lengthening it keeps, and distinct UIDs to distinct shifts', async () => {
    const at = async (now: number, overrides: Override[] = []) => {
      const { from, to } = feedWindow(now);
      return parse(renderFeed({ title: 't', shifts: await scheduleShifts(schedule('primary', [berlin], overrides), from, to), name, now }));
    };
    const morning = await at(utc('2026-03-28T06:00'));
    const evening = await at(utc('2026-03-28T23:00'));
    expect(evening.map((e) => e.uid)).toEqual(morning.map((e) => e.uid));
    expect(new Set(morning.map((e) => e.uid)).size).toBe(morning.length);
    // A day later the window moved by a day: the shifts both windows hold keep their UIDs.
    const nextDay = await at(utc('2026-03-29T06:00'));
    const common = morning.filter((e) => e.start.getTime() > feedWindow(utc('2026-03-29T06:00')).from);
    expect(common.length).toBeGreaterThan(50);
    expect(nextDay.filter((e) => common.some((c) => c.uid === e.uid)).map((e) => e.start.getTime())).toEqual(common.map((e) => e.start.getTime()));

    const short = await at(utc('2026-03-28T06:00'), [{ person: 'carl', start: utc('2026-04-02T10:00'), end: utc('2026-04-02T12:00') }]);
    const long = await at(utc('2026-03-28T06:00'), [{ person: 'carl', start: utc('2026-04-02T10:00'), end: utc('2026-04-02T15:00') }]);
    const carl = (events: VEvent[]) => events.find((e) => String(e.summary).startsWith('carl'))!;
    expect(carl(long).uid).toBe(carl(short).uid);
    expect(iso(carl(long).end!.getTime())).toBe('2026-04-02T15:00Z');
  });

  it("a person's feed has their shifts on every schedule and nobody else's", async () => {
    const weekend: Layer = { id: 'weekend', rotation: { timezone: 'UTC', start: '2026-03-28', handoff: '00:00', lengthMs: 2 * DAY, members: ['ben'] }, restrictions: [] };
    const list = await personShifts([schedule('primary', [berlin]), schedule('backup', [weekend])], 'ben', utc('2026-03-27T00:00'), utc('2026-03-30T00:00'));
    expect(list.map((s) => [iso(s.start), iso(s.end), s.schedule, s.source])).toEqual([
      ['2026-03-27T08:00Z', '2026-03-28T08:00Z', 'primary', 'emea'],
      ['2026-03-28T00:00Z', '2026-03-30T00:00Z', 'backup', 'weekend'],
      ['2026-03-29T07:00Z', '2026-03-30T00:00Z', 'primary', 'emea'],
    ]);
  });

  it('resolves a week at a time, yielding to the event loop, into the same shifts as one pass (shifts across the seams joined)', async () => {
    const always: Layer = { id: 'solo', rotation: { timezone: 'UTC', start: '2026-01-01', handoff: '00:00', lengthMs: 28 * DAY, members: ['carl'] }, restrictions: [] };
    const nights: Layer = { id: 'nights', rotation: { timezone: 'America/New_York', start: '2026-03-02', handoff: '18:00', lengthMs: 3 * DAY, members: ['anna', 'ben'] }, restrictions: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '18:00', to: '06:00' }] };
    const s = schedule('mixed', [always, berlin, nights], [{ person: 'dora', start: utc('2026-03-20T23:00'), end: utc('2026-03-21T01:00') }]);
    const from = utc('2026-03-01T00:00');
    const to = from + 71 * DAY;
    let turns = 0;
    const counting = setInterval(() => turns++, 0);
    const chunked = await scheduleShifts(s, from, to);
    clearInterval(counting);
    expect(chunked).toEqual(shifts(s, from, to).map((sh) => ({ ...sh, schedule: 'mixed' })));
    expect(turns, 'timers ran while the feed was resolved').toBeGreaterThan(0);
    // The weeks meet at UTC midnight, inside New York's night shifts (23:00Z–11:00Z): those are joined again.
    expect(chunked[0]).toMatchObject({ person: 'carl', start: from, end: utc('2026-03-02T23:00') });
  });

  it(`covers ${FEED_PAST_DAYS} days back to at least ${FEED_AHEAD_DAYS} ahead, from a UTC midnight`, () => {
    const now = utc('2026-03-28T15:30');
    expect(feedWindow(now)).toEqual({ from: utc('2026-03-14T00:00'), to: utc('2026-05-24T00:00') });
    expect(feedWindow(now).to - now).toBeGreaterThanOrEqual(FEED_AHEAD_DAYS * DAY);
    expect(feedWindow(utc('2026-03-28T00:00'))).toEqual(feedWindow(utc('2026-03-28T23:59')));
  });

  it('UIDs differ by schedule, layer, person and start', () => {
    const base: FeedShift = { schedule: 's', source: 'l', person: 'p', start: 0, end: 1 };
    const uids = [base, { ...base, schedule: 't' }, { ...base, source: 'override' }, { ...base, person: 'q' }, { ...base, start: 1 }].map(shiftUid);
    expect(new Set(uids).size).toBe(5);
    expect(shiftUid({ ...base, end: 99 })).toBe(shiftUid(base));
  });
});

import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { type Layer, type Override, type Restriction, type Rotation, type Schedule, type Shift, gaps, handoffAt, layerMember, onCallAt, rotationMember, shifts, turnAt } from '../../src/oncall/schedule.js';
import { WEEKDAYS, type Weekday, atWallClock } from '../../src/shared/time-of-day.js';

// Every expected instant below is written out in UTC, with the local wall-clock time and offset it stands for.
// 2026 clock changes: Europe/Berlin +01:00 → +02:00 on 2026-03-29 (01:00Z), back on 2026-10-25 (01:00Z);
// America/New_York -05:00 → -04:00 on 2026-03-08 (07:00Z), back on 2026-11-01 (06:00Z). Asia/Shanghai is +08:00.

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const utc = (iso: string) => {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`bad instant in the test: ${iso}`);
  return ms;
};
const iso = (ms: number) => new Date(ms).toISOString();

const rotation = (over: Partial<Rotation> = {}): Rotation => ({
  timezone: 'UTC',
  start: '2026-01-01',
  handoff: '09:00',
  lengthMs: DAY,
  members: ['a', 'b', 'c'],
  ...over,
});
const layer = (id: string, r: Partial<Rotation>, restrictions: Restriction[] = []): Layer => ({ id, rotation: rotation(r), restrictions });
const window = (from: string, to: string, days: readonly Weekday[] = WEEKDAYS): Restriction => ({ from, to, days });
const schedule = (layers: Layer[], overrides: Override[] = []): Schedule => ({ id: 's', layers, overrides });
const override = (person: string, start: string, end: string): Override => ({ person, start: utc(start), end: utc(end) });

/** The first `count` handoffs, as ISO strings. */
const handoffs = (r: Rotation, count: number) => Array.from({ length: count }, (_, n) => iso(handoffAt(r, n)));
/** Shifts as readable rows: [start, end, person, source]. */
const rows = (list: readonly Shift[]) => list.map((s) => [iso(s.start), iso(s.end), s.person, s.source]);
const spans = (list: readonly { start: number; end: number }[]) => list.map((g) => [iso(g.start), iso(g.end)]);
const who = (s: Schedule, at: string) => {
  const o = onCallAt(s, utc(at));
  return o && `${o.person}@${o.source}`;
};

describe('atWallClock', () => {
  const on = (zone: string, date: string, time: string) => atWallClock(DateTime.fromISO(date, { zone }), time).toUTC().toISO();

  it.each([
    // An ordinary day: 09:00 CET = 08:00Z, 09:00 CEST = 07:00Z.
    ['Europe/Berlin', '2026-02-10', '09:00', '2026-02-10T08:00:00.000Z'],
    ['Europe/Berlin', '2026-07-10', '09:00', '2026-07-10T07:00:00.000Z'],
    // Skipped hour (02:00–03:00 does not exist): 02:30 moves forward to 03:30 CEST = 01:30Z / 03:30 EDT = 07:30Z.
    ['Europe/Berlin', '2026-03-29', '02:30', '2026-03-29T01:30:00.000Z'],
    ['America/New_York', '2026-03-08', '02:30', '2026-03-08T07:30:00.000Z'],
    // Repeated hour: the first occurrence, still on summer time: 02:30 CEST = 00:30Z (not 01:30Z);
    // 01:30 EDT = 05:30Z (not 06:30Z).
    ['Europe/Berlin', '2026-10-25', '02:30', '2026-10-25T00:30:00.000Z'],
    ['America/New_York', '2026-11-01', '01:30', '2026-11-01T05:30:00.000Z'],
    // Just after the repeated hour: 03:00 CET = 02:00Z; on the day of the change, after it: 09:00 CET = 08:00Z.
    ['Europe/Berlin', '2026-10-25', '03:00', '2026-10-25T02:00:00.000Z'],
    ['Europe/Berlin', '2026-10-25', '09:00', '2026-10-25T08:00:00.000Z'],
  ])('%s %s %s → %s', (zone, date, time, expected) => {
    expect(on(zone, date, time)).toBe(expected);
  });
});

describe('rotation handoffs across DST', () => {
  // A daily 09:00 handoff, members a, b, c, from two days before each change.
  it.each([
    // 09:00 CET = 08:00Z until 03-28; 09:00 CEST = 07:00Z from 03-29: the turn of 03-28 lasts 23 h.
    ['Europe/Berlin', 'spring forward', '2026-03-27', ['2026-03-27T08:00:00.000Z', '2026-03-28T08:00:00.000Z', '2026-03-29T07:00:00.000Z', '2026-03-30T07:00:00.000Z'], 23],
    // 09:00 CEST = 07:00Z until 10-24; 09:00 CET = 08:00Z from 10-25: the turn of 10-24 lasts 25 h.
    ['Europe/Berlin', 'fall back', '2026-10-23', ['2026-10-23T07:00:00.000Z', '2026-10-24T07:00:00.000Z', '2026-10-25T08:00:00.000Z', '2026-10-26T08:00:00.000Z'], 25],
    // 09:00 EST = 14:00Z until 03-07; 09:00 EDT = 13:00Z from 03-08.
    ['America/New_York', 'spring forward', '2026-03-06', ['2026-03-06T14:00:00.000Z', '2026-03-07T14:00:00.000Z', '2026-03-08T13:00:00.000Z', '2026-03-09T13:00:00.000Z'], 23],
    // 09:00 EDT = 13:00Z until 10-31; 09:00 EST = 14:00Z from 11-01.
    ['America/New_York', 'fall back', '2026-10-30', ['2026-10-30T13:00:00.000Z', '2026-10-31T13:00:00.000Z', '2026-11-01T14:00:00.000Z', '2026-11-02T14:00:00.000Z'], 25],
  ] as const)('%s, %s: 09:00 local stays 09:00 local, the UTC instant moves by an hour', (timezone, _change, start, expected, changedTurnHours) => {
    const r = rotation({ timezone, start });
    expect(handoffs(r, 4)).toEqual(expected);

    // One turn each, in order, none skipped or doubled; the turn spanning the change is 23 h or 25 h long.
    const s = schedule([layer('daily', { timezone, start })]);
    const [h0, h1, h2, h3] = expected.map(utc) as [number, number, number, number];
    expect(rows(shifts(s, h0, h3))).toEqual([
      [expected[0], expected[1], 'a', 'daily'],
      [expected[1], expected[2], 'b', 'daily'],
      [expected[2], expected[3], 'c', 'daily'],
    ]);
    expect((h2 - h1) / HOUR).toBe(changedTurnHours);

    expect(turnAt(r, h2 - 1)).toBe(1);
    expect(rotationMember(r, h2 - 1)).toBe('b');
    expect(turnAt(r, h2)).toBe(2);
    expect(rotationMember(r, h2)).toBe('c');
    expect(rotationMember(r, h3)).toBe('a');
  });

  it.each([
    // Over all of 2026 a daily rotation has 365 turns, a → b → c → a …; all 24 h but one 23 h and one 25 h turn.
    ['Europe/Berlin', '2026-03-28T08:00:00.000Z', '2026-10-24T07:00:00.000Z'],
    ['America/New_York', '2026-03-07T14:00:00.000Z', '2026-10-31T13:00:00.000Z'],
  ])('%s: a whole year of daily turns, none skipped or doubled', (timezone, shortTurn, longTurn) => {
    const r = rotation({ timezone });
    const s = schedule([layer('daily', { timezone })]);
    const year = shifts(s, handoffAt(r, 0), handoffAt(r, 365));
    expect(year).toHaveLength(365);
    year.forEach((sh, n) => {
      expect(sh.person).toBe(['a', 'b', 'c'][n % 3]);
      expect(sh.start).toBe(handoffAt(r, n));
      const hours = (sh.end - sh.start) / HOUR;
      expect(hours).toBe(iso(sh.start) === shortTurn ? 23 : iso(sh.start) === longTurn ? 25 : 24);
    });
  });

  it.each([
    // 02:30 does not exist on the spring-forward day: that handoff is at 03:30 local (the next day's is at 02:30 again).
    // Berlin: 02:30 CET = 01:30Z; 03:30 CEST = 01:30Z; 02:30 CEST = 00:30Z.
    ['Europe/Berlin', '2026-03-28', '02:30', ['2026-03-28T01:30:00.000Z', '2026-03-29T01:30:00.000Z', '2026-03-30T00:30:00.000Z']],
    // New York: 02:30 EST = 07:30Z; 03:30 EDT = 07:30Z; 02:30 EDT = 06:30Z.
    ['America/New_York', '2026-03-07', '02:30', ['2026-03-07T07:30:00.000Z', '2026-03-08T07:30:00.000Z', '2026-03-09T06:30:00.000Z']],
    // A handoff inside the repeated hour of fall-back takes its first occurrence: 02:30 CEST = 00:30Z on 10-25,
    // then 02:30 CET = 01:30Z.
    ['Europe/Berlin', '2026-10-24', '02:30', ['2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']],
    // New York: 01:30 EDT = 05:30Z (first of the two 01:30s on 11-01), then 01:30 EST = 06:30Z.
    ['America/New_York', '2026-10-31', '01:30', ['2026-10-31T05:30:00.000Z', '2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z']],
  ])('%s, handoff at a skipped or repeated time (start %s, %s)', (timezone, start, handoff, expected) => {
    const r = rotation({ timezone, start, handoff });
    expect(handoffs(r, 3)).toEqual(expected);
    expect(rotationMember(r, utc(expected[1]!) - 1)).toBe('a');
    expect(rotationMember(r, utc(expected[1]!))).toBe('b');
  });

  it('a handoff at 02:30 when the rotation starts on the spring-forward day is at 03:30', () => {
    // 2026-03-29 03:30 CEST = 01:30Z; 2026-03-30 02:30 CEST = 00:30Z.
    expect(handoffs(rotation({ timezone: 'Europe/Berlin', start: '2026-03-29', handoff: '02:30' }), 2)).toEqual([
      '2026-03-29T01:30:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
  });
});

describe('rotation lengths and members', () => {
  it('a weekly rotation hands off on the weekday of its start date, at the same local time across DST', () => {
    // 2026-03-04 is a Wednesday. 09:00 CET = 08:00Z; from 03-29, 09:00 CEST = 07:00Z.
    const r = rotation({ timezone: 'Europe/Berlin', start: '2026-03-04', lengthMs: 7 * DAY, members: ['a', 'b'] });
    expect(handoffs(r, 5)).toEqual([
      '2026-03-04T08:00:00.000Z',
      '2026-03-11T08:00:00.000Z',
      '2026-03-18T08:00:00.000Z',
      '2026-03-25T08:00:00.000Z',
      '2026-04-01T07:00:00.000Z',
    ]);
    expect(rotationMember(r, utc('2026-03-09T12:00:00Z'))).toBe('a'); // Monday: still the first week
    expect(rotationMember(r, utc('2026-03-11T07:59:59.999Z'))).toBe('a'); // Wednesday 08:59:59 CET
    expect(rotationMember(r, utc('2026-03-11T08:00:00Z'))).toBe('b'); // Wednesday 09:00 CET
    expect(rotationMember(r, utc('2026-04-01T06:59:59.999Z'))).toBe('b'); // turn 3, Wednesday 08:59:59 CEST
    expect(rotationMember(r, utc('2026-04-01T07:00:00Z'))).toBe('a'); // turn 4, Wednesday 09:00 CEST
  });

  it('a 12 h rotation is an exact duration: across spring-forward its local handoff time moves', () => {
    // 03-28 09:00 CET = 08:00Z, +12 h = 20:00Z (21:00 CET), +12 h = 03-29 08:00Z (10:00 CEST, not 09:00), …
    const r = rotation({ timezone: 'Europe/Berlin', start: '2026-03-28', lengthMs: 12 * HOUR });
    expect(handoffs(r, 5)).toEqual([
      '2026-03-28T08:00:00.000Z',
      '2026-03-28T20:00:00.000Z',
      '2026-03-29T08:00:00.000Z',
      '2026-03-29T20:00:00.000Z',
      '2026-03-30T08:00:00.000Z',
    ]);
    expect(rotationMember(r, utc('2026-03-29T07:30:00Z'))).toBe('b'); // 09:30 CEST: still turn 1
    expect(rotationMember(r, utc('2026-03-29T08:00:00Z'))).toBe('c');
  });

  it('a 3-day rotation is whole days: it follows the wall clock across spring-forward', () => {
    // 03-27 09:00 CET = 08:00Z; 03-30 09:00 CEST = 07:00Z (71 h later, not 72 h); 04-02 09:00 CEST = 07:00Z.
    const r = rotation({ timezone: 'Europe/Berlin', start: '2026-03-27', lengthMs: 3 * DAY });
    expect(handoffs(r, 3)).toEqual(['2026-03-27T08:00:00.000Z', '2026-03-30T07:00:00.000Z', '2026-04-02T07:00:00.000Z']);
    expect(rotationMember(r, utc('2026-03-30T07:30:00Z'))).toBe('b');
  });

  it('nobody is on call before the first handoff', () => {
    // First handoff: 2026-03-27 09:00 CET = 08:00Z.
    const r = rotation({ timezone: 'Europe/Berlin', start: '2026-03-27' });
    expect(turnAt(r, utc('2026-03-27T07:59:59.999Z'))).toBeLessThan(0);
    expect(rotationMember(r, utc('2026-03-27T07:59:59.999Z'))).toBeUndefined();
    expect(rotationMember(r, utc('2026-01-01T00:00:00Z'))).toBeUndefined();
    expect(rotationMember(r, utc('2026-03-27T08:00:00Z'))).toBe('a');
    const s = schedule([layer('daily', { timezone: 'Europe/Berlin', start: '2026-03-27' })]);
    expect(who(s, '2026-03-27T07:00:00Z')).toBeUndefined();
    expect(spans(gaps(s, utc('2026-03-27T00:00:00Z'), utc('2026-03-28T00:00:00Z')))).toEqual([['2026-03-27T00:00:00.000Z', '2026-03-27T08:00:00.000Z']]);
  });

  it('members take turns in order and start over', () => {
    // Daily at 09:00 UTC from 2026-02-01: turn n starts on Feb 1 + n days.
    const r = rotation({ start: '2026-02-01' });
    expect(rotationMember(r, utc('2026-02-01T09:00:00Z'))).toBe('a'); // turn 0
    expect(rotationMember(r, utc('2026-02-02T09:00:00Z'))).toBe('b'); // turn 1
    expect(rotationMember(r, utc('2026-02-03T08:59:59.999Z'))).toBe('b');
    expect(rotationMember(r, utc('2026-02-03T09:00:00Z'))).toBe('c'); // turn 2
    expect(rotationMember(r, utc('2026-02-04T09:00:00Z'))).toBe('a'); // turn 3
    expect(rotationMember(r, utc('2026-02-08T10:00:00Z'))).toBe('b'); // turn 7
    // Dec 31 is 333 days after Feb 1 (28+31+30+31+30+31+31+30+31+30+30): turn 333 → a.
    expect(turnAt(r, utc('2026-12-31T12:00:00Z'))).toBe(333);
    expect(rotationMember(r, utc('2026-12-31T12:00:00Z'))).toBe('a');
  });
});

describe('restrictions', () => {
  // One member, on call since long before; the restriction alone decides. Berlin in February: CET (+01:00).
  const restricted = (...restrictions: Restriction[]) => layer('l', { timezone: 'Europe/Berlin', start: '2025-12-01', members: ['x'] }, restrictions);
  const on = (l: Layer, at: string) => layerMember(l, utc(at)) === 'x';

  it('a window inside one day: from inclusive, to exclusive, in the layer zone', () => {
    const l = restricted(window('09:00', '17:00'));
    expect(on(l, '2026-02-06T07:59:59.999Z')).toBe(false); // 08:59:59 CET
    expect(on(l, '2026-02-06T08:00:00Z')).toBe(true); // 09:00 CET
    expect(on(l, '2026-02-06T15:59:59.999Z')).toBe(true); // 16:59:59 CET
    expect(on(l, '2026-02-06T16:00:00Z')).toBe(false); // 17:00 CET
  });

  it('a window with to < from runs past midnight', () => {
    const l = restricted(window('22:00', '06:00'));
    expect(on(l, '2026-02-06T20:59:59.999Z')).toBe(false); // Fri 21:59:59 CET
    expect(on(l, '2026-02-06T21:00:00Z')).toBe(true); // Fri 22:00 CET
    expect(on(l, '2026-02-06T23:30:00Z')).toBe(true); // Sat 00:30 CET
    expect(on(l, '2026-02-07T04:59:59.999Z')).toBe(true); // Sat 05:59:59 CET
    expect(on(l, '2026-02-07T05:00:00Z')).toBe(false); // Sat 06:00 CET
    expect(on(l, '2026-02-07T12:00:00Z')).toBe(false);
  });

  it('weekday lists name the day the window starts on (an overnight window belongs to its first day)', () => {
    // 2026-02-06 is a Friday.
    const l = restricted(window('22:00', '06:00', ['fri']));
    expect(on(l, '2026-02-06T03:00:00Z')).toBe(false); // Fri 04:00: Thursday night's window, and Thursday is not listed
    expect(on(l, '2026-02-06T21:00:00Z')).toBe(true); // Fri 22:00
    expect(on(l, '2026-02-07T03:00:00Z')).toBe(true); // Sat 04:00, Friday night's window
    expect(on(l, '2026-02-07T21:30:00Z')).toBe(false); // Sat 22:30
  });

  it('several windows on chosen weekdays combine', () => {
    // Mon/Wed office hours, and Saturday mornings. 2026-02-02 is a Monday.
    const l = restricted(window('09:00', '17:00', ['mon', 'wed']), window('08:00', '12:00', ['sat']));
    expect(on(l, '2026-02-02T08:00:00Z')).toBe(true); // Mon 09:00
    expect(on(l, '2026-02-03T10:00:00Z')).toBe(false); // Tue 11:00
    expect(on(l, '2026-02-04T15:59:59.999Z')).toBe(true); // Wed 16:59:59
    expect(on(l, '2026-02-04T16:00:00Z')).toBe(false); // Wed 17:00
    expect(on(l, '2026-02-07T07:00:00Z')).toBe(true); // Sat 08:00
    expect(on(l, '2026-02-07T11:00:00Z')).toBe(false); // Sat 12:00
    expect(on(l, '2026-02-08T08:00:00Z')).toBe(false); // Sun 09:00
  });

  it('an overnight window across spring-forward is an hour shorter', () => {
    // Sat 03-28 22:00 CET = 21:00Z to Sun 03-29 06:00 CEST = 04:00Z: 7 h.
    const s = schedule([restricted(window('22:00', '06:00'))]);
    expect(rows(shifts(s, utc('2026-03-28T12:00:00Z'), utc('2026-03-29T12:00:00Z')))).toEqual([['2026-03-28T21:00:00.000Z', '2026-03-29T04:00:00.000Z', 'x', 'l']]);
  });

  it('a window that starts in the skipped hour starts when the clock reaches it', () => {
    // 02:30–04:00 on 2026-03-29: 02:30 does not exist, so 03:30 CEST = 01:30Z to 04:00 CEST = 02:00Z.
    const s = schedule([restricted(window('02:30', '04:00'))]);
    expect(rows(shifts(s, utc('2026-03-29T00:00:00Z'), utc('2026-03-29T06:00:00Z')))).toEqual([['2026-03-29T01:30:00.000Z', '2026-03-29T02:00:00.000Z', 'x', 'l']]);
  });
});

describe('layers', () => {
  // 24×7 "base" (one member, daily UTC) and "day": Berlin office hours Mon–Fri 09:00–17:00 CET = 08:00–16:00Z.
  const base = layer('base', { members: ['base'] });
  const day = layer('day', { timezone: 'Europe/Berlin', start: '2026-01-05', members: ['day'] }, [window('09:00', '17:00', ['mon', 'tue', 'wed', 'thu', 'fri'])]);
  const from = utc('2026-02-02T00:00:00Z'); // Monday
  const to = utc('2026-02-04T00:00:00Z');

  it('a later restricted layer wins inside its window; the earlier 24×7 layer fills the rest', () => {
    const s = schedule([base, day]);
    expect(rows(shifts(s, from, to))).toEqual([
      ['2026-02-02T00:00:00.000Z', '2026-02-02T08:00:00.000Z', 'base', 'base'],
      ['2026-02-02T08:00:00.000Z', '2026-02-02T16:00:00.000Z', 'day', 'day'],
      ['2026-02-02T16:00:00.000Z', '2026-02-03T08:00:00.000Z', 'base', 'base'],
      ['2026-02-03T08:00:00.000Z', '2026-02-03T16:00:00.000Z', 'day', 'day'],
      ['2026-02-03T16:00:00.000Z', '2026-02-04T00:00:00.000Z', 'base', 'base'],
    ]);
    expect(gaps(s, from, to)).toEqual([]);
    expect(who(s, '2026-02-07T10:00:00Z')).toBe('base@base'); // Saturday: the restricted layer has nobody
  });

  it('an earlier layer never shows where a later 24×7 layer has someone', () => {
    expect(rows(shifts(schedule([day, base]), from, to))).toEqual([['2026-02-02T00:00:00.000Z', '2026-02-04T00:00:00.000Z', 'base', 'base']]);
  });

  it('a restricted layer alone leaves gaps outside its window', () => {
    expect(spans(gaps(schedule([day]), from, to))).toEqual([
      ['2026-02-02T00:00:00.000Z', '2026-02-02T08:00:00.000Z'],
      ['2026-02-02T16:00:00.000Z', '2026-02-03T08:00:00.000Z'],
      ['2026-02-03T16:00:00.000Z', '2026-02-04T00:00:00.000Z'],
    ]);
  });
});

describe('follow the sun: APAC, EMEA and AMER, 09:00–17:00 local each', () => {
  // APAC 09–17 Shanghai = 01:00–09:00Z always. EMEA 09–17 Berlin = 08:00–16:00Z (CET), 07:00–15:00Z (CEST).
  // AMER 09–17 New York = 14:00–22:00Z (EST), 13:00–21:00Z (EDT). Later layers win: EMEA from its start, AMER from
  // its start, so each region's shift runs until the next one's window opens. Daily rotations from Monday 2026-01-05.
  const region = (id: string, timezone: string, members: string[]) => layer(id, { timezone, start: '2026-01-05', members }, [window('09:00', '17:00')]);
  const fts = schedule([
    region('apac', 'Asia/Shanghai', ['li', 'chen']),
    region('emea', 'Europe/Berlin', ['anna', 'tom']),
    region('amer', 'America/New_York', ['maria', 'sam', 'joe']),
  ]);
  /** One UTC day of follow-the-sun shifts from hand-computed hours: APAC 01:00–h1, EMEA h1–h2, AMER h2–h3. */
  const dayOf = (date: string, [apac, emea, amer]: readonly string[], [h1, h2, h3]: readonly [number, number, number]) => {
    const at = (h: number) => `${date}T${String(h).padStart(2, '0')}:00:00.000Z`;
    return [
      [at(1), at(h1), apac, 'apac'],
      [at(h1), at(h2), emea, 'emea'],
      [at(h2), at(h3), amer, 'amer'],
    ];
  };

  it('over a week spanning the New York change (2026-03-08), shifts alternate region by region and person by person', () => {
    // Turn n counts days from 01-05: 03-05 is turn 59 (Jan 5→Feb 5: 31, →Mar 5: 28), so APAC members[59 % 2] = chen,
    // EMEA members[59 % 2] = tom, AMER members[59 % 3] = joe; 03-06 is turn 60, …
    const from = utc('2026-03-05T00:00:00Z');
    const to = utc('2026-03-12T00:00:00Z');
    expect(rows(shifts(fts, from, to))).toEqual([
      ...dayOf('2026-03-05', ['chen', 'tom', 'joe'], [8, 14, 22]), // NY on EST: AMER 14–22Z
      ...dayOf('2026-03-06', ['li', 'anna', 'maria'], [8, 14, 22]),
      ...dayOf('2026-03-07', ['chen', 'tom', 'sam'], [8, 14, 22]),
      ...dayOf('2026-03-08', ['li', 'anna', 'joe'], [8, 13, 21]), // NY on EDT from 07:00Z: AMER 13–21Z
      ...dayOf('2026-03-09', ['chen', 'tom', 'maria'], [8, 13, 21]),
      ...dayOf('2026-03-10', ['li', 'anna', 'sam'], [8, 13, 21]),
      ...dayOf('2026-03-11', ['chen', 'tom', 'joe'], [8, 13, 21]),
    ]);
    // Uncovered: after AMER closes until APAC opens; 3 h while NY is on EST, 4 h once it is on EDT.
    expect(spans(gaps(fts, from, to))).toEqual([
      ['2026-03-05T00:00:00.000Z', '2026-03-05T01:00:00.000Z'],
      ['2026-03-05T22:00:00.000Z', '2026-03-06T01:00:00.000Z'],
      ['2026-03-06T22:00:00.000Z', '2026-03-07T01:00:00.000Z'],
      ['2026-03-07T22:00:00.000Z', '2026-03-08T01:00:00.000Z'],
      ['2026-03-08T21:00:00.000Z', '2026-03-09T01:00:00.000Z'],
      ['2026-03-09T21:00:00.000Z', '2026-03-10T01:00:00.000Z'],
      ['2026-03-10T21:00:00.000Z', '2026-03-11T01:00:00.000Z'],
      ['2026-03-11T21:00:00.000Z', '2026-03-12T00:00:00.000Z'],
    ]);
  });

  it.each([
    // Both on standard time: EMEA 08–16Z, AMER 14–22Z.
    ['2026-02-18', [8, 14, 22]],
    // Between the two March changes (NY on EDT, Berlin still CET): EMEA 08–16Z, AMER 13–21Z.
    ['2026-03-18', [8, 13, 21]],
    // Both on summer time: EMEA 07–15Z, AMER 13–21Z.
    ['2026-04-15', [7, 13, 21]],
    // Between the two autumn changes (Berlin back on CET 10-25, NY on EDT until 11-01): EMEA 08–16Z, AMER 13–21Z.
    ['2026-10-28', [8, 13, 21]],
    // Both on standard time again.
    ['2026-11-04', [8, 14, 22]],
  ] as const)('on %s the handovers and the uncovered hours are where each zone puts 09:00 and 17:00', (date, hours) => {
    const from = utc(`${date}T00:00:00Z`);
    const to = from + DAY;
    const withoutPeople = (list: unknown[][]) => list.map(([start, end, , source]) => [start, end, source]);
    expect(withoutPeople(rows(shifts(fts, from, to)))).toEqual(withoutPeople(dayOf(date, [], hours)));
    expect(spans(gaps(fts, from, to))).toEqual([
      [`${date}T00:00:00.000Z`, `${date}T01:00:00.000Z`],
      [`${date}T${hours[2]}:00:00.000Z`, iso(to)],
    ]);
  });

  it('with a 24×7 backstop layer first, the follow-the-sun day has no gaps and the backstop covers the nights', () => {
    const s = schedule([layer('backstop', { members: ['night'] }), ...fts.layers]);
    // 2026-03-18: AMER closes at 21:00Z (EDT), APAC opens 01:00Z.
    expect(gaps(s, utc('2026-03-18T00:00:00Z'), utc('2026-03-25T00:00:00Z'))).toEqual([]);
    expect(who(s, '2026-03-18T21:00:00Z')).toBe('night@backstop');
    expect(who(s, '2026-03-18T20:59:59.999Z')).toMatch(/@amer$/);
    expect(who(s, '2026-03-19T00:59:59.999Z')).toBe('night@backstop');
    expect(who(s, '2026-03-19T01:00:00Z')).toMatch(/@apac$/);
  });
});

describe('overrides', () => {
  // Monday 2026-02-02: base 24×7, "day" 08:00–16:00Z (09–17 CET).
  const base = layer('base', { members: ['base'] });
  const day = layer('day', { timezone: 'Europe/Berlin', start: '2026-01-05', members: ['day'] }, [window('09:00', '17:00')]);
  const from = utc('2026-02-02T00:00:00Z');
  const to = utc('2026-02-03T00:00:00Z');
  const p = override('p', '2026-02-02T10:00:00Z', '2026-02-02T14:00:00Z');
  const q = override('q', '2026-02-02T11:00:00Z', '2026-02-02T12:00:00Z');
  const r = override('r', '2026-02-02T20:00:00Z', '2026-02-02T22:00:00Z');

  it('win over every layer; a later override wins over an earlier one; the end is exclusive', () => {
    const s = schedule([base, day], [p, q, r]);
    expect(rows(shifts(s, from, to))).toEqual([
      ['2026-02-02T00:00:00.000Z', '2026-02-02T08:00:00.000Z', 'base', 'base'],
      ['2026-02-02T08:00:00.000Z', '2026-02-02T10:00:00.000Z', 'day', 'day'],
      ['2026-02-02T10:00:00.000Z', '2026-02-02T11:00:00.000Z', 'p', 'override'],
      ['2026-02-02T11:00:00.000Z', '2026-02-02T12:00:00.000Z', 'q', 'override'],
      ['2026-02-02T12:00:00.000Z', '2026-02-02T14:00:00.000Z', 'p', 'override'],
      ['2026-02-02T14:00:00.000Z', '2026-02-02T16:00:00.000Z', 'day', 'day'],
      ['2026-02-02T16:00:00.000Z', '2026-02-02T20:00:00.000Z', 'base', 'base'],
      ['2026-02-02T20:00:00.000Z', '2026-02-02T22:00:00.000Z', 'r', 'override'],
      ['2026-02-02T22:00:00.000Z', '2026-02-03T00:00:00.000Z', 'base', 'base'],
    ]);
    expect(who(s, '2026-02-02T10:00:00Z')).toBe('p@override');
    expect(who(s, '2026-02-02T13:59:59.999Z')).toBe('p@override');
    expect(who(s, '2026-02-02T14:00:00Z')).toBe('day@day');
  });

  it('"later" is the order in the list: an earlier-listed override is hidden where a later one covers it', () => {
    const s = schedule([base, day], [q, p]);
    expect(rows(shifts(s, utc('2026-02-02T09:00:00Z'), utc('2026-02-02T15:00:00Z')))).toEqual([
      ['2026-02-02T09:00:00.000Z', '2026-02-02T10:00:00.000Z', 'day', 'day'],
      ['2026-02-02T10:00:00.000Z', '2026-02-02T14:00:00.000Z', 'p', 'override'],
      ['2026-02-02T14:00:00.000Z', '2026-02-02T15:00:00.000Z', 'day', 'day'],
    ]);
  });

  it('an override fills a gap', () => {
    const s = schedule([day], [override('s', '2026-02-02T16:00:00Z', '2026-02-02T18:00:00Z')]);
    expect(spans(gaps(s, from, to))).toEqual([
      ['2026-02-02T00:00:00.000Z', '2026-02-02T08:00:00.000Z'],
      ['2026-02-02T18:00:00.000Z', '2026-02-03T00:00:00.000Z'],
    ]);
  });
});

describe('shifts', () => {
  it('merges consecutive turns of the same person from the same source', () => {
    // One member, daily handoffs: one shift for the whole week.
    const s = schedule([layer('solo', { members: ['x'] })]);
    expect(rows(shifts(s, utc('2026-02-02T00:00:00Z'), utc('2026-02-09T00:00:00Z')))).toEqual([['2026-02-02T00:00:00.000Z', '2026-02-09T00:00:00.000Z', 'x', 'solo']]);
  });

  it('does not merge the same person from different sources', () => {
    const s = schedule([layer('solo', { members: ['x'] })], [override('x', '2026-02-03T00:00:00Z', '2026-02-04T00:00:00Z')]);
    expect(rows(shifts(s, utc('2026-02-02T00:00:00Z'), utc('2026-02-05T00:00:00Z')))).toEqual([
      ['2026-02-02T00:00:00.000Z', '2026-02-03T00:00:00.000Z', 'x', 'solo'],
      ['2026-02-03T00:00:00.000Z', '2026-02-04T00:00:00.000Z', 'x', 'override'],
      ['2026-02-04T00:00:00.000Z', '2026-02-05T00:00:00.000Z', 'x', 'solo'],
    ]);
  });

  it('clips to [from, to) exactly, mid-turn', () => {
    // Daily 09:00 UTC from 2026-02-01 (a, b, c): 02-02 09:00Z hands a → b.
    const s = schedule([layer('d', { start: '2026-02-01' })]);
    expect(rows(shifts(s, utc('2026-02-02T05:17:00Z'), utc('2026-02-02T13:41:00Z')))).toEqual([
      ['2026-02-02T05:17:00.000Z', '2026-02-02T09:00:00.000Z', 'a', 'd'],
      ['2026-02-02T09:00:00.000Z', '2026-02-02T13:41:00.000Z', 'b', 'd'],
    ]);
  });
});

describe('properties: shifts and gaps agree with onCallAt', () => {
  const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Shanghai', 'Australia/Sydney', 'Asia/Kolkata'];
  const hhmm = fc.tuple(fc.integer({ min: 0, max: 23 }), fc.constantFrom(0, 15, 30, 45)).map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`);
  const rotationArb = fc.record({
    timezone: fc.constantFrom(...zones),
    start: fc.constantFrom('2026-02-26', '2026-03-07', '2026-03-28', '2026-03-29', '2026-04-04'),
    handoff: hhmm,
    lengthMs: fc.constantFrom(DAY, 7 * DAY, 3 * DAY, 12 * HOUR, 8 * HOUR, 36 * HOUR),
    members: fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { minLength: 1, maxLength: 3 }),
  });
  const restrictionArb = fc
    .record({ from: hhmm, to: hhmm, days: fc.subarray([...WEEKDAYS], { minLength: 1 }) })
    .filter((x) => x.from !== x.to);
  const layerArb = fc.record({ id: fc.constantFrom('l1', 'l2', 'l3'), rotation: rotationArb, restrictions: fc.array(restrictionArb, { maxLength: 2 }) });
  // The range: from somewhere in 2026-03-01 … 2026-04-10 (both March changes), 1 to 14 days long, minute-aligned.
  const rangeStart = utc('2026-03-01T00:00:00Z');
  const rangeArb = fc.tuple(fc.integer({ min: 0, max: 40 * 24 * 60 }), fc.integer({ min: 60, max: 14 * 24 * 60 })).map(([a, len]) => ({ from: rangeStart + a * MIN, to: rangeStart + (a + len) * MIN }));
  const overrideArb = fc.record({
    person: fc.constantFrom('a', 'o', 'p'),
    start: fc.integer({ min: 0, max: 55 * 24 * 60 }).map((m) => rangeStart + m * MIN),
    len: fc.integer({ min: 1, max: 48 * 60 }),
  }).map(({ person, start, len }): Override => ({ person, start, end: start + len * MIN }));
  const scheduleArb = fc.record({ layers: fc.array(layerArb, { minLength: 1, maxLength: 3 }), overrides: fc.array(overrideArb, { maxLength: 3 }) }).map((x): Schedule => ({ id: 's', ...x }));

  it('gaps and shifts partition [from, to): sorted, touching, non-empty, maximal', () => {
    fc.assert(
      fc.property(scheduleArb, rangeArb, (s, { from, to }) => {
        const sh = shifts(s, from, to);
        const pieces = [...sh.map((x) => ({ ...x, gap: false })), ...gaps(s, from, to).map((g) => ({ ...g, gap: true }))].sort((x, y) => x.start - y.start);
        expect(pieces[0]!.start).toBe(from);
        expect(pieces.at(-1)!.end).toBe(to);
        pieces.forEach((p, i) => {
          expect(p.end).toBeGreaterThan(p.start);
          if (i > 0) {
            expect(p.start).toBe(pieces[i - 1]!.end);
            expect(p.gap && pieces[i - 1]!.gap).toBe(false); // two gaps never touch
          }
        });
        sh.forEach((x, i) => {
          const prev = sh[i - 1];
          if (prev && prev.end === x.start) expect(prev.person === x.person && prev.source === x.source).toBe(false);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('onCallAt(t) is the shift containing t, and nobody exactly in the gaps (incl. at every shift edge)', () => {
    fc.assert(
      fc.property(scheduleArb, rangeArb, fc.array(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), { minLength: 1, maxLength: 20 }), (s, { from, to }, fractions) => {
        const sh = shifts(s, from, to);
        const g = gaps(s, from, to);
        const probes = [...fractions.map((f) => from + Math.floor(f * (to - from))), ...sh.flatMap((x) => [x.start, x.end - 1]), ...g.flatMap((x) => [x.start, x.end - 1])];
        for (const t of probes) {
          const inShift = sh.find((x) => t >= x.start && t < x.end);
          const inGap = g.some((x) => t >= x.start && t < x.end);
          expect(inGap).toBe(inShift === undefined);
          expect(onCallAt(s, t)).toEqual(inShift && { person: inShift.person, source: inShift.source });
        }
      }),
      { numRuns: 200 },
    );
  });
});

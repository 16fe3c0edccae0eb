import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cronOf, lastDue, nextDue, periodOf, type ReportSchedule } from '../../src/reports/report-schedule.js';

/**
 * Report schedules (pure): the last / next due instant of a daily or weekly report in the tenant's zone, what a
 * report covers (whole local days, 23 h / 25 h across DST) and the node-cron expression. Every expected instant is
 * written out by hand as a UTC ISO string; the comment next to it says the local wall-clock time it stands for.
 */

const SH = 'Asia/Shanghai'; // UTC+8 all year
const NY = 'America/New_York'; // EST UTC−5; EDT UTC−4 from Sun 8 Mar 2026 02:00 to Sun 1 Nov 2026 02:00
const H = 3_600_000;
const D = 24 * H;
const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

const daily = (t: string): ReportSchedule => ({ kind: 'daily', at: t });
const weekly = (day: NonNullable<ReportSchedule['day']>, t: string): ReportSchedule => ({ kind: 'weekly', day, at: t });

describe('lastDue / nextDue: daily', () => {
  it('Asia/Shanghai 08:30: exactly at the due instant it counts as due, 1 ms before it is the day before', () => {
    const s = daily('08:30');
    const due = at('2026-11-24T00:30:00Z'); // Tue 24 Nov 08:30 +08
    expect(iso(lastDue(s, SH, due))).toBe('2026-11-24T00:30:00.000Z');
    expect(iso(nextDue(s, SH, due))).toBe('2026-11-25T00:30:00.000Z'); // strictly after now
    expect(iso(lastDue(s, SH, due - 1))).toBe('2026-11-23T00:30:00.000Z');
    expect(iso(nextDue(s, SH, due - 1))).toBe('2026-11-24T00:30:00.000Z');
  });

  it('Asia/Shanghai: uses the local date, not the UTC date', () => {
    // 23:30Z on Mon 23 Nov is already Tue 24 Nov 07:30 in Shanghai.
    const now = at('2026-11-23T23:30:00Z');
    expect(iso(lastDue(daily('07:00'), SH, now))).toBe('2026-11-23T23:00:00.000Z'); // Tue 07:00 +08
    expect(iso(nextDue(daily('08:30'), SH, now))).toBe('2026-11-24T00:30:00.000Z'); // Tue 08:30 +08
    expect(iso(lastDue(daily('08:30'), SH, now))).toBe('2026-11-23T00:30:00.000Z'); // Mon 08:30 +08
  });

  it('America/New_York 08:30 in winter (EST) and summer (EDT)', () => {
    const s = daily('08:30');
    expect(iso(lastDue(s, NY, at('2026-01-15T13:30:00Z')))).toBe('2026-01-15T13:30:00.000Z'); // 08:30 EST
    expect(iso(lastDue(s, NY, at('2026-01-15T13:29:59.999Z')))).toBe('2026-01-14T13:30:00.000Z');
    expect(iso(nextDue(s, NY, at('2026-01-15T13:29:59.999Z')))).toBe('2026-01-15T13:30:00.000Z');
    expect(iso(lastDue(s, NY, at('2026-07-15T12:30:00Z')))).toBe('2026-07-15T12:30:00.000Z'); // 08:30 EDT
    expect(iso(nextDue(s, NY, at('2026-07-15T12:30:00Z')))).toBe('2026-07-16T12:30:00.000Z');
    // Late evening in New York is already the next day in UTC.
    expect(iso(lastDue(s, NY, at('2026-07-16T03:00:00Z')))).toBe('2026-07-15T12:30:00.000Z'); // Wed 15 Jul 23:00 EDT
  });
});

describe('lastDue / nextDue: weekly', () => {
  it('Asia/Shanghai monday 09:00', () => {
    const s = weekly('mon', '09:00');
    const due = at('2026-11-23T01:00:00Z'); // Mon 23 Nov 09:00 +08
    expect(iso(lastDue(s, SH, due))).toBe('2026-11-23T01:00:00.000Z');
    expect(iso(nextDue(s, SH, due))).toBe('2026-11-30T01:00:00.000Z');
    expect(iso(lastDue(s, SH, due - 1))).toBe('2026-11-16T01:00:00.000Z'); // same weekday but earlier: a week back
    expect(iso(nextDue(s, SH, due - 1))).toBe('2026-11-23T01:00:00.000Z');
    const wed = at('2026-11-25T12:00:00Z'); // Wed 25 Nov 20:00 +08
    expect(iso(lastDue(s, SH, wed))).toBe('2026-11-23T01:00:00.000Z');
    expect(iso(nextDue(s, SH, wed))).toBe('2026-11-30T01:00:00.000Z');
  });

  it('Asia/Shanghai monday 07:00 falls on a Sunday in UTC: the local weekday decides', () => {
    const s = weekly('mon', '07:00');
    // Mon 23 Nov 07:30 +08 = Sun 22 Nov 23:30Z.
    expect(iso(lastDue(s, SH, at('2026-11-22T23:30:00Z')))).toBe('2026-11-22T23:00:00.000Z'); // Mon 07:00 +08
    expect(iso(nextDue(s, SH, at('2026-11-22T23:30:00Z')))).toBe('2026-11-29T23:00:00.000Z');
    // Sun 22 Nov 22:00Z = Mon 06:00 +08: not yet due this Monday.
    expect(iso(nextDue(s, SH, at('2026-11-22T22:00:00Z')))).toBe('2026-11-22T23:00:00.000Z');
    expect(iso(lastDue(s, SH, at('2026-11-22T22:00:00Z')))).toBe('2026-11-15T23:00:00.000Z');
  });

  it('America/New_York sunday 20:00 (a Monday in UTC)', () => {
    const s = weekly('sun', '20:00');
    const due = at('2026-11-30T01:00:00Z'); // Sun 29 Nov 20:00 EST
    expect(iso(lastDue(s, NY, due))).toBe('2026-11-30T01:00:00.000Z');
    expect(iso(nextDue(s, NY, due))).toBe('2026-12-07T01:00:00.000Z');
    expect(iso(lastDue(s, NY, due - 1))).toBe('2026-11-23T01:00:00.000Z'); // Sun 22 Nov 20:00 EST
    expect(iso(nextDue(s, NY, due - 1))).toBe('2026-11-30T01:00:00.000Z');
  });

  it('America/New_York monday 09:00 across spring forward: the UTC instant moves by an hour', () => {
    const s = weekly('mon', '09:00');
    const before = at('2026-03-02T14:00:00Z'); // Mon 2 Mar 09:00 EST
    const after = at('2026-03-09T13:00:00Z'); // Mon 9 Mar 09:00 EDT
    expect(iso(nextDue(s, NY, before))).toBe(iso(after));
    expect(after - before).toBe(7 * D - H);
    expect(iso(lastDue(s, NY, after - 1))).toBe(iso(before));
  });
});

describe('lastDue / nextDue across DST in America/New_York', () => {
  it('spring forward (Sun 8 Mar 2026): 02:30 does not exist and runs at 03:30 EDT, once', () => {
    const s = daily('02:30');
    const skipped = at('2026-03-08T07:30:00Z'); // 03:30 EDT (02:30 EST would be 07:30Z too: the clock moved on)
    expect(iso(nextDue(s, NY, at('2026-03-08T06:00:00Z')))).toBe('2026-03-08T07:30:00.000Z'); // from 01:00 EST
    expect(iso(nextDue(s, NY, at('2026-03-08T07:00:00Z')))).toBe('2026-03-08T07:30:00.000Z'); // from 03:00 EDT
    expect(iso(lastDue(s, NY, skipped))).toBe('2026-03-08T07:30:00.000Z');
    expect(iso(lastDue(s, NY, skipped - 1))).toBe('2026-03-07T07:30:00.000Z'); // Sat 02:30 EST
    expect(iso(nextDue(s, NY, skipped))).toBe('2026-03-09T06:30:00.000Z'); // Mon 02:30 EDT
    expect(iso(lastDue(s, NY, at('2026-03-09T06:29:59.999Z')))).toBe('2026-03-08T07:30:00.000Z');
  });

  it('spring forward: times outside the gap on that day are unaffected', () => {
    expect(iso(lastDue(daily('01:30'), NY, at('2026-03-08T12:00:00Z')))).toBe('2026-03-08T06:30:00.000Z'); // 01:30 EST
    expect(iso(lastDue(daily('03:00'), NY, at('2026-03-08T12:00:00Z')))).toBe('2026-03-08T07:00:00.000Z'); // 03:00 EDT
  });

  it('fall back (Sun 1 Nov 2026): 01:30 happens twice, the report goes out at the first one only', () => {
    const s = daily('01:30');
    const first = at('2026-11-01T05:30:00Z'); // 01:30 EDT
    const second = at('2026-11-01T06:30:00Z'); // 01:30 EST, the repeated hour
    expect(iso(nextDue(s, NY, at('2026-11-01T04:00:00Z')))).toBe(iso(first)); // from 00:00 EDT
    expect(iso(lastDue(s, NY, first))).toBe(iso(first));
    expect(iso(lastDue(s, NY, first - 1))).toBe('2026-10-31T05:30:00.000Z'); // Sat 01:30 EDT
    // Between the two 01:30s, at the second one and after it: still the first; next is Monday's.
    for (const now of [first + 1, at('2026-11-01T06:00:00Z'), second, second + 1, at('2026-11-01T12:00:00Z')]) {
      expect(iso(lastDue(s, NY, now))).toBe(iso(first));
      expect(iso(nextDue(s, NY, now))).toBe('2026-11-02T06:30:00.000Z'); // Mon 01:30 EST
    }
  });

  it('fall back: 02:30 is not ambiguous (EST), 00:30 is still EDT', () => {
    expect(iso(lastDue(daily('02:30'), NY, at('2026-11-01T12:00:00Z')))).toBe('2026-11-01T07:30:00.000Z');
    expect(iso(lastDue(daily('00:30'), NY, at('2026-11-01T12:00:00Z')))).toBe('2026-11-01T04:30:00.000Z');
    expect(iso(lastDue(daily('01:30'), NY, at('2026-11-02T12:00:00Z')))).toBe('2026-11-02T06:30:00.000Z');
  });

  it('for any instant of 2026, last ≤ now < next and nothing is due strictly between them', () => {
    const from = at('2026-01-01T00:00:00Z');
    const to = at('2027-01-01T00:00:00Z');
    const schedules = [daily('02:30'), daily('01:30'), weekly('sun', '02:30'), weekly('sun', '01:30'), weekly('fri', '23:59')];
    fc.assert(
      fc.property(fc.integer({ min: from, max: to }), fc.constantFrom(...schedules), fc.constantFrom(NY, SH), (now, s, zone) => {
        const last = lastDue(s, zone, now);
        const next = nextDue(s, zone, now);
        expect(last).toBeLessThanOrEqual(now);
        expect(next).toBeGreaterThan(now);
        // Walking forward from the last due instant lands on the same next one: no due instant is skipped or doubled.
        expect(nextDue(s, zone, last)).toBe(next);
        expect(lastDue(s, zone, next - 1)).toBe(last);
        expect(next - last).toBeLessThanOrEqual((s.kind === 'daily' ? 1 : 7) * D + H);
        expect(next - last).toBeGreaterThanOrEqual((s.kind === 'daily' ? 1 : 7) * D - H);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('periodOf', () => {
  it('daily: the previous local day [midnight − 1 d, midnight) in Asia/Shanghai, with its label', () => {
    const p = periodOf('daily', at('2026-11-24T00:30:00Z'), SH); // due Tue 24 Nov 08:30 +08
    expect(p).toEqual({ from: at('2026-11-22T16:00:00Z'), to: at('2026-11-23T16:00:00Z'), label: 'Mon 23 Nov 2026' });
  });

  it('daily: the local day of the due instant decides, not its UTC day', () => {
    // Mon 23 Nov 16:30Z = Tue 24 Nov 00:30 +08: the report covers Monday (local).
    expect(periodOf('daily', at('2026-11-23T16:30:00Z'), SH)).toEqual(periodOf('daily', at('2026-11-24T00:30:00Z'), SH));
    // Exactly at local midnight: that midnight ends the period.
    expect(periodOf('daily', at('2026-11-23T16:00:00Z'), SH).to).toBe(at('2026-11-23T16:00:00Z'));
    // 1 ms before local midnight: still the day before.
    expect(periodOf('daily', at('2026-11-23T15:59:59.999Z'), SH).label).toBe('Sun 22 Nov 2026');
  });

  it('daily in America/New_York: 24 h on an ordinary day, 23 h for the spring-forward day, 25 h for fall back', () => {
    const sat = periodOf('daily', at('2026-03-08T07:30:00Z'), NY); // due Sun 8 Mar 03:30 EDT
    expect(sat).toEqual({ from: at('2026-03-07T05:00:00Z'), to: at('2026-03-08T05:00:00Z'), label: 'Sat 7 Mar 2026' });
    expect(sat.to - sat.from).toBe(24 * H);

    const spring = periodOf('daily', at('2026-03-09T06:30:00Z'), NY); // due Mon 9 Mar 02:30 EDT
    expect(spring).toEqual({ from: at('2026-03-08T05:00:00Z'), to: at('2026-03-09T04:00:00Z'), label: 'Sun 8 Mar 2026' });
    expect(spring.to - spring.from).toBe(23 * H);

    const fall = periodOf('daily', at('2026-11-02T06:30:00Z'), NY); // due Mon 2 Nov 01:30 EST
    expect(fall).toEqual({ from: at('2026-11-01T04:00:00Z'), to: at('2026-11-02T05:00:00Z'), label: 'Sun 1 Nov 2026' });
    expect(fall.to - fall.from).toBe(25 * H);
  });

  it('weekly: the seven local days before the due day', () => {
    const p = periodOf('weekly', at('2026-11-23T01:00:00Z'), SH); // due Mon 23 Nov 09:00 +08
    expect(p).toEqual({ from: at('2026-11-15T16:00:00Z'), to: at('2026-11-22T16:00:00Z'), label: '16 Nov – 22 Nov 2026' });
    expect(p.to - p.from).toBe(7 * D);
  });

  it('weekly across spring forward in America/New_York is 167 h, across fall back 169 h', () => {
    const spring = periodOf('weekly', at('2026-03-09T13:00:00Z'), NY); // due Mon 9 Mar 09:00 EDT
    expect(spring).toEqual({ from: at('2026-03-02T05:00:00Z'), to: at('2026-03-09T04:00:00Z'), label: '2 Mar – 8 Mar 2026' });
    expect(spring.to - spring.from).toBe(7 * D - H);
    const fall = periodOf('weekly', at('2026-11-02T14:00:00Z'), NY); // due Mon 2 Nov 09:00 EST
    expect(fall).toEqual({ from: at('2026-10-26T04:00:00Z'), to: at('2026-11-02T05:00:00Z'), label: '26 Oct – 1 Nov 2026' });
    expect(fall.to - fall.from).toBe(7 * D + H);
  });

  it('weekly label across the new year carries the year of the last day', () => {
    const p = periodOf('weekly', at('2027-01-04T01:00:00Z'), SH); // due Mon 4 Jan 2027 09:00 +08
    expect(p).toEqual({ from: at('2026-12-27T16:00:00Z'), to: at('2027-01-03T16:00:00Z'), label: '28 Dec – 3 Jan 2027' });
  });
});

describe('cronOf', () => {
  it('daily: minute hour * * *', () => {
    expect(cronOf(daily('08:30'))).toBe('30 8 * * *');
    expect(cronOf(daily('00:00'))).toBe('0 0 * * *');
    expect(cronOf(daily('23:05'))).toBe('5 23 * * *');
  });

  it('weekly: day of week with sunday = 0, monday = 1 … saturday = 6', () => {
    expect(cronOf(weekly('sun', '20:00'))).toBe('0 20 * * 0');
    expect(cronOf(weekly('mon', '09:05'))).toBe('5 9 * * 1');
    expect(cronOf(weekly('wed', '12:00'))).toBe('0 12 * * 3');
    expect(cronOf(weekly('sat', '07:45'))).toBe('45 7 * * 6');
  });
});

import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { addCalendarTime, businessDayMs, calendarTimeBetween, resolveTarget } from '../../src/tickets/calendar.js';
import { type ClockEvent, clockState } from '../../src/tickets/clock.js';
import { DEFAULT_SLA, mergeSla, parseTarget } from '../../src/shared/sla-policy.js';
import { TARGETS, TIERS } from '../../src/shared/tenant.js';
import { parseFileConfig } from '../../src/config/file.js';
import { Tenants } from '../../src/tenants/tenants.js';
import { PRIORITIES } from '../../src/shared/priority.js';
import { businessHours } from '../helpers/business-hours.js';


const SH = 'Asia/Shanghai'; // UTC+8, no DST
const BER = 'Europe/Berlin';
const H = 3_600_000;
const M = 60_000;
/** A local wall-clock time in a zone, as epoch ms. */
const local = (iso: string, zone = SH) => DateTime.fromISO(iso, { zone }).toMillis();
const biz = businessHours(SH, ['2026-10-01']); // Mon–Fri 09:00–18:00, National Day off
const iso = (ms: number, zone = SH) => DateTime.fromMillis(ms, { zone }).toFormat("ccc yyyy-MM-dd HH:mm:ss");

describe('business-hours arithmetic', () => {
  it('counts only working hours: overnight, weekends and holidays are skipped', () => {
    // Fri 2026-11-20 17:00 + 2 h → 1 h Friday, then Monday 09:00 + 1 h.
    expect(iso(addCalendarTime(biz, local('2026-11-20T17:00'), 2 * H))).toBe('Mon 2026-11-23 10:00:00');
    // Saturday start: the clock starts counting Monday 09:00.
    expect(iso(addCalendarTime(biz, local('2026-11-21T11:00'), 30 * M))).toBe('Mon 2026-11-23 09:30:00');
    // 2026-09-30 (Wed) 17:30 + 1 h: Thursday 10-01 is a holiday → Friday 10-02 09:30.
    expect(iso(addCalendarTime(biz, local('2026-09-30T17:30'), H))).toBe('Fri 2026-10-02 09:30:00');
    // Before opening: starts at 09:00 the same day.
    expect(iso(addCalendarTime(biz, local('2026-11-23T06:00'), 8 * H))).toBe('Mon 2026-11-23 17:00:00');
    expect(calendarTimeBetween(biz, local('2026-11-20T17:00'), local('2026-11-23T10:00'))).toBe(2 * H);
    expect(calendarTimeBetween(biz, local('2026-11-21T00:00'), local('2026-11-22T23:59'))).toBe(0);
  });

  it('targets spanning days: 3 business days of 9 h from Monday 10:00 end Thursday 10:00', () => {
    expect(businessDayMs(biz)).toBe(9 * H);
    expect(iso(addCalendarTime(biz, local('2026-11-23T10:00'), 27 * H))).toBe('Thu 2026-11-26 10:00:00');
  });

  it('follows the local clock across DST (Berlin, 2026-03-29): 09:00–18:00 local stays 9 h', () => {
    const ber = businessHours(BER);
    // Fri 2026-03-27 17:00 CET + 2 h → Mon 2026-03-30 10:00 CEST (UTC+2): 08:00Z.
    const at = addCalendarTime(ber, local('2026-03-27T17:00', BER), 2 * H);
    expect(new Date(at).toISOString()).toBe('2026-03-30T08:00:00.000Z');
    expect(calendarTimeBetween(ber, local('2026-03-27T09:00', BER), local('2026-03-30T18:00', BER))).toBe(18 * H);
  });

  it('24×7 is plain arithmetic', () => {
    expect(addCalendarTime('24x7', 1000, 5 * H)).toBe(1000 + 5 * H);
    expect(calendarTimeBetween('24x7', 0, 7 * H)).toBe(7 * H);
  });

  it('adding then measuring gives the same time back (property, Shanghai and Berlin)', () => {
    const from = local('2026-01-01T00:00');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 365 * 24 * 60 }), fc.integer({ min: 0, max: 200 * 60 }), fc.constantFrom(SH, BER), (startMin, durMin, zone) => {
        const cal = businessHours(zone, ['2026-05-01']);
        const start = from + startMin * M;
        const end = addCalendarTime(cal, start, durMin * M);
        return end >= start && calendarTimeBetween(cal, start, end) === durMin * M;
      }),
      { numRuns: 300 },
    );
  });
});

describe('SLA clocks from events', () => {
  const start = local('2026-11-23T10:00'); // a Monday
  const ev = (kind: ClockEvent['kind'], at: number): ClockEvent => ({ kind, at });

  it('warns at 80 % and breaches at 100 % of a 24×7 target, to the millisecond', () => {
    const s = clockState([ev('start', start)], '24x7', 15 * M, start);
    expect(s.warnAt).toBe(start + 12 * M);
    expect(s.dueAt).toBe(start + 15 * M);
    expect(clockState([ev('start', start)], '24x7', 15 * M, start + 15 * M - 1).breached).toBe(false);
    expect(clockState([ev('start', start)], '24x7', 15 * M, start + 15 * M).breached).toBe(true);
  });

  it('waiting on the customer pauses the clock; resuming carries the elapsed time on', () => {
    const events = [ev('start', start), ev('pause', start + 10 * M), ev('resume', start + 70 * M)];
    const paused = clockState(events.slice(0, 2), '24x7', 30 * M, start + 60 * M);
    expect(paused).toMatchObject({ elapsedMs: 10 * M, running: false, dueAt: undefined, breached: false });
    const resumed = clockState(events, '24x7', 30 * M, start + 75 * M);
    expect(resumed).toMatchObject({ elapsedMs: 15 * M, running: true, warnAt: start + 84 * M, dueAt: start + 90 * M, breached: false });
  });

  it('a priority change is a new target over the same events (history kept by the caller)', () => {
    const events = [ev('start', start)];
    expect(clockState(events, '24x7', 4 * H, start + H).dueAt).toBe(start + 4 * H); // enterprise P1 response
    const raised = clockState(events, '24x7', 30 * M, start + H); // → P0: 30 min, already past
    expect(raised).toMatchObject({ breached: true, dueAt: start + 30 * M, warnAt: start + 24 * M });
  });

  it('stopping in time is met; stopping after the due instant stays breached', () => {
    const onTime = clockState([ev('start', start), ev('stop', start + 15 * M)], '24x7', 15 * M, start + H);
    expect(onTime).toMatchObject({ breached: false, running: false, stoppedAt: start + 15 * M });
    const late = clockState([ev('start', start), ev('stop', start + 16 * M)], '24x7', 15 * M, start + H);
    expect(late).toMatchObject({ breached: true, dueAt: start + 15 * M });
  });

  it('business-hours clocks pause at night: 8 business hours from Monday 16:00 are due Tuesday 15:00', () => {
    const s = clockState([ev('start', local('2026-11-23T16:00'))], biz, 8 * H, local('2026-11-23T16:00'));
    expect(iso(s.dueAt!)).toBe('Tue 2026-11-24 15:00:00');
    expect(iso(s.warnAt!)).toBe('Tue 2026-11-24 13:24:00'); // 6.4 h: 2 h Monday + 4 h 24 min Tuesday
  });
});

describe('the default matrix: every cell warns and breaches at its exact instant', () => {
  // Opened Monday 2026-11-23 10:00 in Shanghai (business hours 09:00–18:00).
  const opened = local('2026-11-23T10:00');
  const expected: Record<string, [warn: string, due: string]> = {
    'basic P0 response': ['Mon 2026-11-23 16:24:00', 'Mon 2026-11-23 18:00:00'], // 8 h: exactly the rest of Monday
    'strategic P3 response': ['Mon 2026-11-23 17:12:00', 'Tue 2026-11-24 10:00:00'],
    'basic P3 response': ['Wed 2026-11-25 13:36:00', 'Thu 2026-11-26 10:00:00'],
  };
  for (const tier of TIERS) {
    for (const p of PRIORITIES) {
      for (const name of TARGETS) {
        const target = DEFAULT_SLA[tier][p][name];
        if (!target) continue;
        it(`${tier} ${p} ${name}`, () => {
          const { calendar, ms } = resolveTarget(target, biz);
          const s = clockState([{ kind: 'start', at: opened }], calendar, ms, opened);
          const cell = expected[`${tier} ${p} ${name}`];
          if (calendar === '24x7') {
            expect([s.warnAt, s.dueAt]).toEqual([opened + 0.8 * ms, opened + ms]);
          } else if (cell) {
            expect([iso(s.warnAt!), iso(s.dueAt!)]).toEqual(cell);
          } else {
            // Other business-hour cells are 8 business hours, like basic P0's response.
            expect([iso(s.warnAt!), iso(s.dueAt!)]).toEqual(expected['basic P0 response']);
          }
          expect(clockState([{ kind: 'start', at: opened }], calendar, ms, s.dueAt! - 1).breached).toBe(false);
          expect(clockState([{ kind: 'start', at: opened }], calendar, ms, s.dueAt!).breached).toBe(true);
        });
      }
    }
  }
});

describe('SLA overrides (config)', () => {
  it('reads targets as written and merges tier then tenant overrides cell by cell', () => {
    expect(parseTarget('10m')).toEqual({ ms: 10 * M, calendar: '24x7' });
    expect(parseTarget('8h business')).toEqual({ ms: 8 * H, calendar: 'business' });
    expect(parseTarget('2 business days')).toEqual({ businessDays: 2 });
    expect(parseTarget('none')).toBeNull();
    expect(parseTarget('soon')).toBeUndefined();
    const row = mergeSla(DEFAULT_SLA.strategic, { P0: { response: parseTarget('10m')! } }, { P0: { resolve: null }, P3: { restore: parseTarget('3d')! } });
    expect(row.P0).toEqual({ response: { ms: 10 * M, calendar: '24x7' }, restore: DEFAULT_SLA.strategic.P0.restore });
    expect(row.P3.restore).toEqual({ ms: 72 * H, calendar: '24x7' });
    expect(row.P1).toBe(DEFAULT_SLA.strategic.P1);
  });

  it('applies them to tenants from the config file, and names a bad target', () => {
    const cfg = parseFileConfig('sla:\n  strategic:\n    P0: { response: 10m }\ntenants:\n  - { id: acme, tier: strategic, sla: { P0: { restore: 30m } } }\n  - { id: beta, tier: strategic }\n', 'c.yaml');
    const tenants = new Tenants(cfg);
    expect(tenants.get('acme')!.sla.P0).toMatchObject({ response: { ms: 10 * M }, restore: { ms: 30 * M } });
    expect(tenants.get('beta')!.sla.P0).toMatchObject({ response: { ms: 10 * M }, restore: { ms: H } });
    expect(() => parseFileConfig('sla:\n  basic:\n    P1: { response: soon }\n', 'c.yaml')).toThrow(/sla\.basic\.P1\.response: "soon" is not an SLA target/);
  });
});

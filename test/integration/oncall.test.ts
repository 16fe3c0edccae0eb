import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { api } from '../helpers/alerting.js';
import { type StartOptions, type TestApp, appsClosedAfterEach } from '../helpers/app.js';
import { CLI, runCli } from '../helpers/service.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The on-call model end to end (issue 4, PRODUCT.md §4): an on-call YAML file loaded by the real app with an injected
 * clock, the admin API (who is on call, resolved shifts, overrides) and the `qoswatch oncall` CLI. Every expected
 * person, shift and gap below is computed by hand from the fixture; the comments show the arithmetic.
 *
 * Fixture, schedule `sun` (follow the sun; later layers win where they have someone, earlier ones fill the rest):
 *   backstop  UTC               weekly, Mondays 00:00 from 2026-01-05   [zed, yan]   always
 *   apac      Asia/Shanghai     daily 09:00 from 2026-01-05             [ana, bo]    09:00–17:00 every day
 *   emea      Europe/Berlin     daily 09:00 from 2026-01-05             [eva, finn]  09:00–17:00 Mon–Fri
 *   amer      America/New_York  weekly, Mondays 09:00 from 2026-01-05   [max, nia]   09:00–17:00 every day
 *   file override: eva 2026-03-13 20:00Z–23:00Z
 * Schedule `lab` (reached only by P2 pages in region "lab", so its gaps are allowed):
 *   office    UTC  daily 09:00       [zed]  09:00–17:00 Mon–Fri
 *   late      UTC  weekly 00:00      [yan]  22:00–02:00 Fridays only (runs past midnight into Saturday)
 *
 * Turn numbers: daily turn n starts n days after 2026-01-05 at 09:00 local (2026-03-10 is day 64 → even → first member);
 * weekly turn n starts n weeks after it (the week of 2026-03-09 is turn 9 → odd → second member).
 * Offsets: Shanghai is always UTC+8 (09–17 local = 01–09Z); Berlin is UTC+1 until 2026-03-29, then +2
 * (09–17 local = 08–16Z, then 07–15Z); New York is UTC−5 until 2026-03-08, then −4 (09–17 local = 14–22Z, then 13–21Z).
 */

/** Tuesday 2026-03-10 00:00Z: the app's clock at start (and so the anchor of the 28-day coverage check). */
const T0 = Date.parse('2026-03-10T00:00:00Z');
const DAY = 86_400_000;
/** "03-10 01:00" → "2026-03-10T01:00:00.000Z": every instant in this file is in March 2026, UTC. */
const z = (s: string) => new Date(`2026-${s.replace(' ', 'T')}Z`).toISOString();
const iso = (ms: number) => new Date(ms).toISOString();

type Obj = Record<string, unknown>;
interface OnCallDoc {
  people: Obj[];
  schedules: { id: string; layers: Obj[]; overrides?: Obj[] }[];
  escalation_policies: Obj[];
  routing: Obj[];
  default_policy?: string;
}

const nineToFive = (days?: string[]) => [{ from: '09:00', to: '17:00', ...(days && { days }) }];
const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri'];

/** A fresh copy of the fixture described above. */
function fixture(): OnCallDoc {
  const person = (id: string, timezone: string, email?: string) => ({ id, name: id[0]!.toUpperCase() + id.slice(1), timezone, ...(email && { email }) });
  const layer = (id: string, timezone: string, rotation: string, handoff: string, members: string[], restrictions?: Obj[]) => ({
    id, timezone, rotation, handoff, start: '2026-01-05', members, ...(restrictions && { restrictions }),
  });
  return {
    people: [
      person('ana', 'Asia/Shanghai', 'ana@example.com'), person('bo', 'Asia/Shanghai'),
      person('eva', 'Europe/Berlin'), person('finn', 'Europe/Berlin'),
      person('max', 'America/New_York'), person('nia', 'America/New_York'),
      person('yan', 'UTC'), person('zed', 'UTC'),
    ],
    schedules: [
      {
        id: 'sun',
        layers: [
          layer('backstop', 'UTC', 'weekly', '00:00', ['zed', 'yan']),
          layer('apac', 'Asia/Shanghai', 'daily', '09:00', ['ana', 'bo'], nineToFive()),
          layer('emea', 'Europe/Berlin', 'daily', '09:00', ['eva', 'finn'], nineToFive(WEEKDAYS)),
          layer('amer', 'America/New_York', 'weekly', '09:00', ['max', 'nia'], nineToFive()),
        ],
        overrides: [{ person: 'eva', start: '2026-03-13T20:00:00Z', end: '2026-03-13T23:00:00Z' }],
      },
      {
        id: 'lab',
        layers: [
          layer('office', 'UTC', 'daily', '09:00', ['zed'], nineToFive(WEEKDAYS)),
          layer('late', 'UTC', 'weekly', '00:00', ['yan'], [{ from: '22:00', to: '02:00', days: ['fri'] }]),
        ],
      },
    ],
    escalation_policies: [
      { id: 'main', levels: [{ targets: [{ schedule: 'sun' }] }] },
      { id: 'lab-policy', levels: [{ targets: [{ schedule: 'lab' }] }] },
    ],
    routing: [
      { match: { priority: 'P2', region: 'lab' }, policy: 'lab-policy' },
      { match: { priority: ['P0', 'P1', 'P2'] }, policy: 'main' },
    ],
    default_policy: 'main',
  };
}

/** The fixture with `edit` applied, written to a fresh temp file; returns its path. */
function onCallFile(edit: (d: OnCallDoc) => void = () => {}): string {
  const doc = fixture();
  edit(doc);
  const path = join(tempDir('qoswatch-oncall'), 'oncall.yaml');
  writeFileSync(path, stringify(doc));
  return path;
}

const startClosed = appsClosedAfterEach();
/** The app on the fixture (or `file`) at T0. */
const start = (file = onCallFile(), o: StartOptions = {}) => startClosed({ clock: () => T0, env: { QOSWATCH_ONCALL: file }, ...o });

/** An admin API call that must answer `status`; returns the body. */
async function ok(t: TestApp, method: string, path: string, status = 200, body?: unknown): Promise<any> {
  const r = await api(t.url, method, path, body);
  expect(r.status, `${method} ${path} → ${JSON.stringify(r.body)}`).toBe(status);
  return r.body;
}

/** Who /v1/oncall/now says is on call in `schedule` at `at`: [person id, source, until]. */
async function whoAt(t: TestApp, at: string, schedule = 'sun'): Promise<[string, string, string] | undefined> {
  const all: { schedule: string; person?: { id: string }; source?: string; until?: string }[] = await ok(t, 'GET', `/v1/oncall/now?at=${encodeURIComponent(at)}`);
  const s = all.find((x) => x.schedule === schedule)!;
  return s.person && [s.person.id, s.source!, s.until!];
}

type Span = [start: string, end: string];
/** The resolved shifts ([start, end, person id, source]) and gaps of a schedule over [from, to). */
async function resolved(t: TestApp, schedule: string, from: string, to: string): Promise<{ shifts: [string, string, string, string][]; gaps: Span[] }> {
  const r = await ok(t, 'GET', `/v1/oncall/schedules/${schedule}?from=${from}&to=${to}`);
  expect([r.from, r.to]).toEqual([from, to]);
  return {
    shifts: r.shifts.map((s: { start: string; end: string; person: { id: string }; source: string }) => [s.start, s.end, s.person.id, s.source]),
    gaps: r.gaps.map((g: { start: string; end: string }) => [g.start, g.end]),
  };
}

/** Shifts and gaps together tile [from, to) exactly: no overlap, no hole. */
function expectTiles(r: { shifts: [string, string, ...string[]][]; gaps: Span[] }, from: string, to: string): void {
  const spans = [...r.shifts, ...r.gaps].map(([s, e]) => [s, e]).sort((a, b) => a[0]!.localeCompare(b[0]!));
  expect(spans[0]![0]).toBe(from);
  spans.forEach(([s, e], i) => {
    expect(s! < e!, `empty span ${s}–${e}`).toBe(true);
    expect(e).toBe(spans[i + 1]?.[0] ?? to);
  });
}

const sunDay = async (t: TestApp, day: string) => (await resolved(t, 'sun', z(`${day} 00:00`), z(`${day} 09:00`))).shifts;
const override = (t: TestApp, body: Obj, schedule = 'sun') => ok(t, 'POST', `/v1/oncall/schedules/${schedule}/overrides`, 201, body);
const overrideIds = async (t: TestApp, schedule = 'sun') => (await ok(t, 'GET', `/v1/oncall/schedules/${schedule}/overrides`)).map((o: { id: number }) => o.id);

describe('GET /v1/oncall/now', () => {
  it.each([
    ['03-10 00:30', 'yan', 'backstop', '03-10 01:00', 'night: no region works; backstop turn 9 (week of 03-09); APAC opens at 01:00Z'],
    ['03-10 01:00', 'ana', 'apac', '03-10 08:00', '09:00 Shanghai: window opens with daily turn 64; EMEA takes over at 09:00 Berlin (CET) = 08:00Z'],
    ['03-10 07:59:59.999', 'ana', 'apac', '03-10 08:00', 'the last millisecond before EMEA'],
    ['03-10 08:00', 'eva', 'emea', '03-10 13:00', '09:00 Berlin, turn 64; AMER takes over at 09:00 New York (EDT) = 13:00Z'],
    ['03-11 03:00', 'bo', 'apac', '03-11 08:00', 'the next day is turn 65: the other APAC member'],
    ['03-11 12:00', 'finn', 'emea', '03-11 13:00', 'turn 65 in EMEA too'],
    ['03-10 15:00', 'nia', 'amer', '03-10 21:00', 'weekly turn 9; window ends 17:00 EDT = 21:00Z'],
    ['03-10 22:00', 'yan', 'backstop', '03-11 01:00', 'after AMER the backstop runs until APAC opens the next day'],
    ['03-14 03:00', 'ana', 'apac', '03-14 09:00', 'Saturday, turn 68: EMEA works Mon–Fri, so APAC runs its whole window (to 17:00 Shanghai)'],
    ['03-14 10:00', 'yan', 'backstop', '03-14 13:00', 'Saturday: no EMEA, so the backstop fills in until AMER'],
    ['03-16 00:00', 'zed', 'backstop', '03-16 01:00', 'Monday 00:00 UTC: the weekly backstop hands off to turn 10'],
    ['03-06 13:30', 'eva', 'emea', '03-06 14:00', 'before US DST New York is UTC−5: AMER opens at 14:00Z'],
    ['03-06 14:00', 'max', 'amer', '03-06 22:00', 'weekly turn 8 (week of 03-02), until 17:00 EST = 22:00Z'],
    ['03-27 07:30', 'bo', 'apac', '03-27 08:00', 'last weekday before EU DST: EMEA still opens at 08:00Z (turn 81 in APAC)'],
    ['03-30 07:30', 'eva', 'emea', '03-30 13:00', 'after EU DST 09:00 Berlin is 07:00Z: handoff and window moved with the wall clock (turn 84)'],
    ['03-13 21:00', 'eva', 'override', '03-13 23:00', 'the file override beats every layer for its range'],
  ])('at %s → %s via %s until %s (%s)', async (at, person, source, until) => {
    const t = await start();
    expect(await whoAt(t, z(at))).toEqual([person, source, z(until)]);
  });

  it('lists every schedule with the person in full, and no person where nobody is on call', async () => {
    const t = await start();
    expect(await ok(t, 'GET', `/v1/oncall/now?at=${z('03-10 03:00')}`)).toEqual([
      { schedule: 'sun', person: { id: 'ana', name: 'Ana', email: 'ana@example.com', timezone: 'Asia/Shanghai' }, source: 'apac', until: z('03-10 08:00') },
      { schedule: 'lab' },
    ]);
    // Friday's late window runs past midnight into Saturday.
    expect(await whoAt(t, z('03-14 01:00'), 'lab')).toEqual(['yan', 'late', z('03-14 02:00')]);
    expect(await whoAt(t, z('03-13 12:00'), 'lab')).toEqual(['zed', 'office', z('03-13 17:00')]);
  });

  it('accepts epoch milliseconds and defaults to the clock', async () => {
    const t = await start();
    expect(await whoAt(t, String(Date.parse(z('03-10 15:00'))))).toEqual(['nia', 'amer', z('03-10 21:00')]);
    const [sun] = await ok(t, 'GET', '/v1/oncall/now');
    expect([sun.person.id, sun.source, sun.until]).toEqual(['yan', 'backstop', z('03-10 01:00')]); // T0 = 03-10 00:00Z
  });

  it.each([
    ['garbage', 'not a time'],
    ['2026-03-10', 'a date without a time'],
    ['2026-03-10T03:00:00', 'no offset'],
    ['9000000000000000', 'beyond the range of dates'],
  ])('?at=%s (%s) → 400 naming at', async (at) => {
    const t = await start();
    const r = await api(t.url, 'GET', `/v1/oncall/now?at=${at}`);
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body.message).toMatch(/\bat\b/);
  });
});

describe('GET /v1/oncall/schedules/:id', () => {
  it('resolves follow-the-sun into shifts that partition the range, each with its source', async () => {
    const t = await start();
    const from = z('03-10 00:00');
    const to = z('03-12 00:00');
    const r = await resolved(t, 'sun', from, to);
    expect(r.shifts).toEqual([
      [z('03-10 00:00'), z('03-10 01:00'), 'yan', 'backstop'],
      [z('03-10 01:00'), z('03-10 08:00'), 'ana', 'apac'],
      [z('03-10 08:00'), z('03-10 13:00'), 'eva', 'emea'],
      [z('03-10 13:00'), z('03-10 21:00'), 'nia', 'amer'],
      [z('03-10 21:00'), z('03-11 01:00'), 'yan', 'backstop'], // one shift across midnight
      [z('03-11 01:00'), z('03-11 08:00'), 'bo', 'apac'],
      [z('03-11 08:00'), z('03-11 13:00'), 'finn', 'emea'],
      [z('03-11 13:00'), z('03-11 21:00'), 'nia', 'amer'],
      [z('03-11 21:00'), z('03-12 00:00'), 'yan', 'backstop'],
    ]);
    expect(r.gaps).toEqual([]);
    expectTiles(r, from, to);
  });

  it('moves the EMEA shift an hour earlier in UTC after Europe changes clocks, and shows the file override', async () => {
    const t = await start();
    expect((await resolved(t, 'sun', z('03-30 00:00'), z('03-31 00:00'))).shifts).toEqual([
      [z('03-30 00:00'), z('03-30 01:00'), 'zed', 'backstop'], // weekly turn 12
      [z('03-30 01:00'), z('03-30 07:00'), 'ana', 'apac'],
      [z('03-30 07:00'), z('03-30 13:00'), 'eva', 'emea'],
      [z('03-30 13:00'), z('03-30 21:00'), 'max', 'amer'],
      [z('03-30 21:00'), z('03-31 00:00'), 'zed', 'backstop'],
    ]);
    expect((await resolved(t, 'sun', z('03-13 13:00'), z('03-14 01:00'))).shifts).toEqual([
      [z('03-13 13:00'), z('03-13 20:00'), 'nia', 'amer'],
      [z('03-13 20:00'), z('03-13 23:00'), 'eva', 'override'],
      [z('03-13 23:00'), z('03-14 01:00'), 'yan', 'backstop'],
    ]);
  });

  it('reports the gaps of a schedule that only P2 pages reach (the app starts despite them)', async () => {
    const t = await start();
    const from = z('03-13 00:00'); // Friday
    const to = z('03-16 00:00'); // Monday
    const r = await resolved(t, 'lab', from, to);
    expect(r.shifts).toEqual([
      [z('03-13 09:00'), z('03-13 17:00'), 'zed', 'office'],
      [z('03-13 22:00'), z('03-14 02:00'), 'yan', 'late'],
    ]);
    expect(r.gaps).toEqual([
      [z('03-13 00:00'), z('03-13 09:00')],
      [z('03-13 17:00'), z('03-13 22:00')],
      [z('03-14 02:00'), z('03-16 00:00')],
    ]);
    expectTiles(r, from, to);
  });

  it('defaults to the next 7 days from the clock', async () => {
    const t = await start();
    const r = await ok(t, 'GET', '/v1/oncall/schedules/sun');
    expect([r.from, r.to]).toEqual([iso(T0), iso(T0 + 7 * DAY)]);
    expect(r.shifts[0]).toMatchObject({ start: iso(T0), end: z('03-10 01:00'), person: { id: 'yan' }, source: 'backstop' });
    expect(r.shifts.at(-1).end).toBe(iso(T0 + 7 * DAY));
    expect(r.gaps).toEqual([]);
  });

  it('accepts a range of exactly 92 days and rejects bad ones with 400 naming the parameter', async () => {
    const t = await start();
    const from = Date.parse(z('03-10 00:00'));
    expect((await ok(t, 'GET', `/v1/oncall/schedules/lab?from=${from}&to=${from + 92 * DAY}`)).gaps.length).toBeGreaterThan(0);
    for (const [query, field] of [
      [`from=${from}&to=${from}`, /^to: must be after from/],
      [`from=${from}&to=${from - 1}`, /^to: must be after from/],
      [`from=${from}&to=${from + 92 * DAY + 1}`, /^to: at most 92 days/],
      ['from=yesterday', /querystring\.from/],
      [`from=${from}&to=soon`, /querystring\.to/],
    ] as const) {
      const r = await api(t.url, 'GET', `/v1/oncall/schedules/sun?${query}`);
      expect([r.status, r.body.message], query).toEqual([400, expect.stringMatching(field)]);
    }
  });

  it('404s an unknown schedule', async () => {
    const t = await start();
    const r = await api(t.url, 'GET', '/v1/oncall/schedules/nope');
    expect([r.status, r.body]).toEqual([404, { error: 'not_found', message: 'no schedule nope' }]);
  });
});

describe('overrides API', () => {
  it('POST puts the person on call for exactly its range, in /now and in the shifts', async () => {
    const t = await start();
    const created = await override(t, {
      person: 'max', start: '2026-03-10T10:00:00+08:00', end: Date.parse(z('03-10 04:00')), comment: 'covering for ana', by: 'lead',
    });
    expect(created).toEqual({
      id: expect.any(Number), schedule: 'sun', person: 'max', start: z('03-10 02:00'), end: z('03-10 04:00'),
      comment: 'covering for ana', created_by: 'lead', created_at: iso(T0),
    });
    expect(await whoAt(t, z('03-10 01:59:59.999'))).toEqual(['ana', 'apac', z('03-10 02:00')]);
    expect(await whoAt(t, z('03-10 02:00'))).toEqual(['max', 'override', z('03-10 04:00')]);
    expect(await whoAt(t, z('03-10 03:59:59.999'))).toEqual(['max', 'override', z('03-10 04:00')]);
    expect(await whoAt(t, z('03-10 04:00'))).toEqual(['ana', 'apac', z('03-10 08:00')]);
    expect(await sunDay(t, '03-10')).toEqual([
      [z('03-10 00:00'), z('03-10 01:00'), 'yan', 'backstop'],
      [z('03-10 01:00'), z('03-10 02:00'), 'ana', 'apac'],
      [z('03-10 02:00'), z('03-10 04:00'), 'max', 'override'],
      [z('03-10 04:00'), z('03-10 08:00'), 'ana', 'apac'],
      [z('03-10 08:00'), z('03-10 09:00'), 'eva', 'emea'],
    ]);
    expect(await overrideIds(t)).toEqual([created.id]);
    expect(await overrideIds(t, 'lab')).toEqual([]);
  });

  it('a later override wins where they overlap; DELETE restores what was there (soft delete)', async () => {
    const t = await start();
    const first = await override(t, { person: 'max', start: z('03-10 02:00'), end: z('03-10 04:00') });
    const second = await override(t, { person: 'nia', start: z('03-10 03:00'), end: z('03-10 05:00') });
    const withFirst = [
      [z('03-10 00:00'), z('03-10 01:00'), 'yan', 'backstop'],
      [z('03-10 01:00'), z('03-10 02:00'), 'ana', 'apac'],
      [z('03-10 02:00'), z('03-10 04:00'), 'max', 'override'],
      [z('03-10 04:00'), z('03-10 08:00'), 'ana', 'apac'],
      [z('03-10 08:00'), z('03-10 09:00'), 'eva', 'emea'],
    ];
    expect(await sunDay(t, '03-10')).toEqual([
      ...withFirst.slice(0, 2),
      [z('03-10 02:00'), z('03-10 03:00'), 'max', 'override'],
      [z('03-10 03:00'), z('03-10 05:00'), 'nia', 'override'],
      [z('03-10 05:00'), z('03-10 08:00'), 'ana', 'apac'],
      withFirst[4],
    ]);
    expect(await whoAt(t, z('03-10 03:30'))).toEqual(['nia', 'override', z('03-10 05:00')]);
    expect(await overrideIds(t)).toEqual([first.id, second.id]);

    await ok(t, 'DELETE', `/v1/oncall/schedules/sun/overrides/${second.id}?by=lead`, 204);
    expect(await sunDay(t, '03-10')).toEqual(withFirst);
    expect(await overrideIds(t)).toEqual([first.id]);
    const again = await api(t.url, 'DELETE', `/v1/oncall/schedules/sun/overrides/${second.id}`);
    expect([again.status, again.body.error]).toEqual([404, 'not_found']);

    await ok(t, 'DELETE', `/v1/oncall/schedules/sun/overrides/${first.id}`, 204);
    expect(await sunDay(t, '03-10')).toEqual([withFirst[0], [z('03-10 01:00'), z('03-10 08:00'), 'ana', 'apac'], withFirst[4]]);
    expect(await whoAt(t, z('03-10 03:30'))).toEqual(['ana', 'apac', z('03-10 08:00')]);
    expect(await overrideIds(t)).toEqual([]);
    // Kept for the record, with who deleted it and when.
    const rows = t.app.stateDb!.prepare('SELECT id, deleted_by, deleted_at FROM oncall_overrides ORDER BY id').all();
    expect(rows).toEqual([
      { id: first.id, deleted_by: 'admin', deleted_at: T0 },
      { id: second.id, deleted_by: 'lead', deleted_at: T0 },
    ]);
  });

  it('API overrides win over the file’s', async () => {
    const t = await start();
    await override(t, { person: 'finn', start: z('03-13 21:00'), end: z('03-13 22:00') });
    expect((await resolved(t, 'sun', z('03-13 20:00'), z('03-13 23:00'))).shifts).toEqual([
      [z('03-13 20:00'), z('03-13 21:00'), 'eva', 'override'],
      [z('03-13 21:00'), z('03-13 22:00'), 'finn', 'override'],
      [z('03-13 22:00'), z('03-13 23:00'), 'eva', 'override'],
    ]);
  });

  it('survive a restart', async () => {
    const dataDir = tempDir('qoswatch-oncall-data');
    const file = onCallFile();
    const first = await start(file, { dataDir });
    await override(first, { person: 'bo', start: z('03-10 02:00'), end: z('03-10 03:00') });
    await first.close();
    const second = await start(file, { dataDir });
    expect(await whoAt(second, z('03-10 02:30'))).toEqual(['bo', 'override', z('03-10 03:00')]);
  });

  it.each<[string, Obj, RegExp]>([
    ['an unknown person', { person: 'ghost' }, /^person: unknown person "ghost"/],
    ['end before start', { start: z('03-10 05:00') }, /^end: must be after start/],
    ['end equal to start', { end: z('03-10 02:00') }, /^end: must be after start/],
    ['no person', { person: undefined }, /^body\.person:/],
    ['start "tomorrow"', { start: 'tomorrow' }, /^body\.start:/],
    ['a start without offset', { start: '2026-03-10T02:00:00' }, /^body\.start:/],
    ['a date-only end', { end: '2026-03-10' }, /^body\.end:/],
    ['start null', { start: null }, /^body\.start:/],
    ['start ""', { start: '' }, /^body\.start:/],
    ['start true', { start: true }, /^body\.start:/],
    ['an end past the last representable date', { end: 9_000_000_000_000_000 }, /^body\.end:/],
    ['an unknown field', { who: 'max' }, /who/],
  ])('POST with %s → 400 naming the field, and nothing is stored', async (_, change, message) => {
    const t = await start();
    const r = await api(t.url, 'POST', '/v1/oncall/schedules/sun/overrides', { person: 'max', start: z('03-10 02:00'), end: z('03-10 04:00'), ...change });
    expect.soft([r.status, r.body], JSON.stringify(r.body)).toEqual([400, { error: 'bad_request', message: expect.stringMatching(message) }]);
    expect(await overrideIds(t)).toEqual([]);
  });

  it('404s unknown schedules and overrides', async () => {
    const t = await start();
    const mine = await override(t, { person: 'max', start: z('03-10 02:00'), end: z('03-10 04:00') });
    const calls: [string, string, unknown?][] = [
      ['GET', '/v1/oncall/schedules/nope/overrides'],
      ['POST', '/v1/oncall/schedules/nope/overrides', { person: 'max', start: z('03-10 02:00'), end: z('03-10 04:00') }],
      ['DELETE', '/v1/oncall/schedules/sun/overrides/999999'],
      ['DELETE', '/v1/oncall/schedules/nope/overrides/1'],
      ['DELETE', `/v1/oncall/schedules/lab/overrides/${mine.id}`], // exists, but on another schedule
    ];
    for (const [method, path, body] of calls) {
      const r = await api(t.url, method, path, body);
      expect([r.status, r.body.error], `${method} ${path}`).toEqual([404, 'not_found']);
    }
    expect(await overrideIds(t)).toEqual([mine.id]);
  });
});

describe('the on-call API needs the admin token', () => {
  const routes: [string, string, unknown?][] = [
    ['GET', '/v1/oncall/now'],
    ['GET', '/v1/oncall/schedules/sun'],
    ['GET', '/v1/oncall/schedules/sun/overrides'],
    ['POST', '/v1/oncall/schedules/sun/overrides', { person: 'max', start: z('03-10 02:00'), end: z('03-10 04:00') }],
    ['DELETE', '/v1/oncall/schedules/sun/overrides/1'],
  ];
  it.each(routes)('%s %s → 401 without a token or with a wrong one', async (method, path, body) => {
    const t = await start();
    await override(t, { person: 'bo', start: z('03-10 02:00'), end: z('03-10 03:00') }); // override 1, which DELETE must not remove
    for (const token of [null, 'not-the-admin-token']) {
      const r = await api(t.url, method, path, body, token);
      expect([r.status, r.body.error], `token ${token}`).toEqual([401, 'unauthorized']);
    }
    expect(await overrideIds(t)).toEqual([1]);
  });
});

describe('loading the on-call file at start', () => {
  it.each<[string, (d: OnCallDoc) => void, RegExp]>([
    ['an unknown layer member', (d) => (d.schedules[0]!.layers[1]!.members = ['ana', 'ghost']), /schedules\[sun\]\.layers\[1\]\.members\[1\]: unknown person "ghost"/],
    ['an unknown person in a file override', (d) => (d.schedules[0]!.overrides![0]!.person = 'ghost'), /schedules\[sun\]\.overrides\[0\]\.person: unknown person "ghost"/],
    ['an unknown person as escalation target', (d) => d.escalation_policies.push({ id: 'x', levels: [{ targets: [{ person: 'ghost' }] }] }), /escalation_policies\[x\]\.levels\[0\]\.targets\[0\]: unknown person "ghost"/],
    ['an unknown time zone', (d) => (d.schedules[0]!.layers[1]!.timezone = 'Asia/Beijing'), /schedules\[0\]\.layers\[1\]\.timezone: is not an IANA time zone/],
    ['a handoff that is not HH:MM', (d) => (d.schedules[0]!.layers[2]!.handoff = '9am'), /schedules\[0\]\.layers\[2\]\.handoff: use HH:MM/],
    ['a misspelt field', (d) => (d.schedules[1]!.layers[0]!.restriction = []), /schedules\[1\]\.layers\[0\]: unknown field restriction/],
  ])('%s makes the start fail naming the field', async (_, edit, message) => {
    await expect(start(onCallFile(edit))).rejects.toThrow(message);
  });

  it('a missing file makes the start fail naming QOSWATCH_ONCALL', async () => {
    await expect(start(join(tempDir('qoswatch-oncall'), 'missing.yaml'))).rejects.toThrow(/QOSWATCH_ONCALL: cannot read .*missing\.yaml: ENOENT/);
  });

  it.each<[string, (d: OnCallDoc) => void, RegExp]>([
    [
      'a gappy schedule routed for P1',
      (d) => (d.routing[0]!.match = { priority: 'P1', region: 'lab' }),
      // T0 is Tuesday 00:00Z; the lab office opens at 09:00Z.
      /schedules\[lab\]: nobody is on call from 2026-03-10T00:00:00\.000Z to 2026-03-10T09:00:00\.000Z \(9h\), and escalation policy "lab-policy" pages it for P0\/P1/,
    ],
    [
      'the follow-the-sun schedule without its backstop',
      (d) => d.schedules[0]!.layers.shift(),
      // Between AMER (ends 21:00Z on 03-09) and APAC (opens 01:00Z) nobody is on call.
      /schedules\[sun\]: nobody is on call from 2026-03-10T00:00:00\.000Z to 2026-03-10T01:00:00\.000Z \(1h\), and escalation policy "main" pages it for P0\/P1/,
    ],
  ])('%s makes the start fail naming the gap', async (_, edit, message) => {
    await expect(start(onCallFile(edit))).rejects.toThrow(message);
  });

  it('oncall.example.yaml loads and resolves (apac daily turn 323 on 2026-11-24 → Chen Jing)', async () => {
    const at = Date.parse('2026-11-24T03:00:00Z');
    const t = await startClosed({ clock: () => at, env: { QOSWATCH_ONCALL: 'oncall.example.yaml' } });
    expect(await ok(t, 'GET', '/v1/oncall/now')).toEqual([
      {
        schedule: 'noc', person: { id: 'chen-jing', name: 'Chen Jing', email: 'chen.jing@example.com', timezone: 'Asia/Shanghai' }, source: 'apac',
        until: '2026-11-24T08:00:00.000Z', // 09:00 in Berlin (CET): EMEA takes over
      },
    ]);
  });
});

describe('qoswatch oncall CLI', () => {
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);
  });
  const cli = (...args: string[]) => runCli(['oncall', ...args], {});

  it('check: the example is valid (exit 0)', async () => {
    const r = await cli('check', 'oncall.example.yaml');
    expect(r).toEqual({ code: 0, output: expect.stringContaining('oncall.example.yaml: valid (6 people, 2 channels, 1 schedules, 1 escalation policies') });
  });

  it.each<[string, (d: OnCallDoc) => void, RegExp]>([
    ['an unknown person', (d) => (d.schedules[0]!.layers[3]!.members = ['max', 'nobody']), /schedules\[sun\]\.layers\[3\]\.members\[1\]: unknown person "nobody"/],
    ['a coverage gap', (d) => (d.default_policy = 'lab-policy'), /schedules\[lab\]: nobody is on call from \S+ to \S+ \(\w+\), and escalation policy "lab-policy" pages it/],
  ])('check: %s → exit 1 naming it', async (_, edit, message) => {
    const r = await cli('check', onCallFile(edit));
    expect(r.code).toBe(1);
    expect(r.output).toMatch(message);
    expect(r.output).not.toContain('valid (');
  });

  it('who --at on the example prints the person computed by hand', async () => {
    // 03:00Z is 11:00 in Shanghai, inside APAC's window (Berlin 04:00, New York 22:00 are outside theirs). 2026-11-24 is
    // 323 days after 2026-01-05 and past that day's 09:00 handoff: daily turn 323, odd → members[1] = chen-jing.
    const r = await cli('who', '--at', '2026-11-24T03:00:00Z', 'oncall.example.yaml');
    expect(r).toEqual({ code: 0, output: 'on call at 2026-11-24T03:00:00.000Z:\n  noc: Chen Jing (chen-jing, chen.jing@example.com) via apac\n' });
  });

  it('who agrees with the API on the fixture, and says NOBODY for an uncovered schedule', async () => {
    const r = await runCli(['oncall', 'who', '--at', z('03-13 21:30')], { QOSWATCH_ONCALL: onCallFile() }); // file from the environment
    expect(r).toEqual({ code: 0, output: `on call at ${z('03-13 21:30')}:\n  sun: Eva (eva) via override\n  lab: NOBODY\n` });
  });

  it('who --at garbage fails with a clear message', async () => {
    const r = await cli('who', '--at', 'garbage', 'oncall.example.yaml');
    expect(r.code).not.toBe(0);
    expect(r.output).toContain('--at: "garbage" is not a time (use RFC 3339');
    expect(r.output).not.toContain('on call at');
  });
});

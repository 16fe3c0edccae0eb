import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ical, { type VEvent } from 'node-ical';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type Session, asSession, createUser, signIn } from '../helpers/accounts.js';
import { api } from '../helpers/alerting.js';
import { type TestApp, appsClosedAfterEach } from '../helpers/app.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Calendar feeds end to end: a feed made through the API, fetched as a calendar app does (no headers, the secret in
 * the URL), parsed back with an iCalendar parser and compared with the shifts API over the same span; revocation;
 * who may make which feed; the secret kept out of the log.
 *
 * Schedule `primary`: Europe/Berlin daily 09:00 [anna, ben] from 2026-03-26 (Berlin goes from +01:00 to +02:00 on
 * 2026-03-29, so the handoff moves from 08:00Z to 07:00Z). Schedule `backup`: UTC weekly Mondays 00:00 [ben].
 */
const T0 = Date.parse('2026-03-28T06:00:00Z');
/** The feed's span at T0: from UTC midnight 14 days back, 71 days long. */
const FROM = '2026-03-14T00:00:00.000Z';
const TO = '2026-05-24T00:00:00.000Z';
const PASSWORD = 'calendar-test-password-0123';

function onCallFile(): string {
  const layer = (id: string, timezone: string, rotation: string, members: string[], handoff = '09:00', start = '2026-03-26') => ({ id, timezone, rotation, handoff, start, members });
  const path = join(tempDir('qoswatch-calendar'), 'oncall.yaml');
  writeFileSync(path, stringify({
    people: [{ id: 'anna', name: 'Anna Berg', timezone: 'Europe/Berlin' }, { id: 'ben', name: 'Ben Okafor', timezone: 'UTC' }],
    schedules: [
      { id: 'primary', layers: [layer('emea', 'Europe/Berlin', 'daily', ['anna', 'ben'])] },
      { id: 'backup', layers: [layer('weekly', 'UTC', 'weekly', ['ben'], '00:00', '2026-03-02')] },
    ],
  }));
  return path;
}

const startClosed = appsClosedAfterEach();
const start = () => startClosed({ clock: () => T0, env: { QOSWATCH_ONCALL: onCallFile(), QOSWATCH_PUBLIC_URL: 'https://pager.example.com/' } });

async function ok(t: TestApp, method: string, path: string, status: number, body?: unknown): Promise<any> {
  const r = await api(t.url, method, path, body);
  expect(r.status, `${method} ${path} → ${JSON.stringify(r.body)}`).toBe(status);
  return r.body;
}

/** Fetches a feed as a calendar app does: no headers. */
async function fetchFeed(t: TestApp, token: string): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(`${t.url}/v1/oncall/calendar.ics?token=${encodeURIComponent(token)}`);
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

/** A feed's events as [start, end, summary], by start. */
function events(text: string): [string, string, string][] {
  return Object.values(ical.sync.parseICS(text))
    .filter((c): c is VEvent => c?.type === 'VEVENT')
    .sort((a, b) => a.start.getTime() - b.start.getTime())
    .map((e) => [e.start.toISOString(), e.end!.toISOString(), String(e.summary)]);
}

describe('calendar feeds', () => {
  it("a schedule's feed holds exactly the resolved shifts (overrides too) until it is revoked; the secret never reaches the log", async () => {
    const t = await start();
    await ok(t, 'POST', '/v1/oncall/schedules/primary/overrides', 201, { person: 'ben', start: '2026-03-30T10:00:00Z', end: '2026-03-30T12:00:00Z' });
    const made = await ok(t, 'POST', '/v1/oncall/calendars', 201, { schedule: 'primary', name: 'team wall' });
    expect(made).toMatchObject({ id: expect.stringMatching(/^c_/), schedule: 'primary', name: 'team wall', created_by: 'admin', secret: expect.stringMatching(/^qwc_/) });
    expect(made.url).toBe(`https://pager.example.com/v1/oncall/calendar.ics?token=${made.secret}`);

    const feed = await fetchFeed(t, made.secret);
    expect(feed.status).toBe(200);
    expect(feed.type).toBe('text/calendar; charset=utf-8');
    expect(feed.text).toContain('X-WR-CALNAME:On call: primary');
    const name = { anna: 'Anna Berg', ben: 'Ben Okafor' };
    const resolved = await ok(t, 'GET', `/v1/oncall/schedules/primary?from=${FROM}&to=${TO}`, 200);
    const expected = resolved.shifts.map((s: { start: string; end: string; person: { id: 'anna' | 'ben' } }) => [s.start, s.end, `${name[s.person.id]} on call: primary`]);
    expect(events(feed.text)).toEqual(expected);
    // Around the clock change and the override, spelled out.
    expect(events(feed.text).filter(([s]) => s >= '2026-03-28' && s < '2026-03-31')).toEqual([
      ['2026-03-28T08:00:00.000Z', '2026-03-29T07:00:00.000Z', 'Anna Berg on call: primary'],
      ['2026-03-29T07:00:00.000Z', '2026-03-30T07:00:00.000Z', 'Ben Okafor on call: primary'],
      ['2026-03-30T07:00:00.000Z', '2026-03-30T10:00:00.000Z', 'Anna Berg on call: primary'],
      ['2026-03-30T10:00:00.000Z', '2026-03-30T12:00:00.000Z', 'Ben Okafor on call: primary'],
      ['2026-03-30T12:00:00.000Z', '2026-03-31T07:00:00.000Z', 'Anna Berg on call: primary'],
    ]);

    expect((await fetchFeed(t, `${made.secret}x`)).status).toBe(401);
    expect((await fetchFeed(t, 'not-a-feed-token')).status).toBe(401);
    expect((await fetch(`${t.url}/v1/oncall/calendar.ics`)).status).toBe(400);
    expect((await ok(t, 'GET', '/v1/oncall/calendars', 200)).map((f: { id: string }) => f.id)).toEqual([made.id]);
    await ok(t, 'DELETE', `/v1/oncall/calendars/${made.id}`, 204);
    await ok(t, 'DELETE', `/v1/oncall/calendars/${made.id}`, 404);
    expect((await fetchFeed(t, made.secret)).status).toBe(401);
    expect(await ok(t, 'GET', '/v1/oncall/calendars', 200)).toEqual([]);

    const audit = (await ok(t, 'GET', '/v1/audit?action=calendar_feed.', 200)).entries as { action: string; target: string }[];
    expect(audit.map((e) => [e.action, e.target])).toEqual([['calendar_feed.revoke', 'schedule:primary'], ['calendar_feed.create', 'schedule:primary']]);
    const logs = t.logs.join('\n');
    expect(logs).toContain('/v1/oncall/calendar.ics?token=[redacted]');
    expect(logs).not.toContain(made.secret.slice(4));
  });

  it('a responder makes and revokes a feed of their own shifts only; viewers and customers make none', async () => {
    const t = await start();
    await ok(t, 'POST', '/v1/users/anna/password', 204, { password: PASSWORD });
    await createUser(t.url, { id: 'vic', role: 'viewer', password: PASSWORD });
    await createUser(t.url, { id: 'cust', role: 'customer', tenant: 'default', password: PASSWORD });
    const [anna, viewer, customer] = (await Promise.all(['anna', 'vic', 'cust'].map((u) => signIn(t.url, u, PASSWORD)))) as [Session, Session, Session];
    const wall = await ok(t, 'POST', '/v1/oncall/calendars', 201, { schedule: 'primary' });

    expect((await asSession(t.url, anna, 'POST', '/v1/oncall/calendars', { person: 'ben' })).status).toBe(403);
    expect((await asSession(t.url, anna, 'POST', '/v1/oncall/calendars', { schedule: 'primary' })).status).toBe(403);
    for (const s of [viewer, customer]) {
      expect((await asSession(t.url, s, 'POST', '/v1/oncall/calendars', { person: 'anna' })).status).toBe(403);
      expect((await asSession(t.url, s, 'GET', '/v1/oncall/calendars')).status).toBe(403);
    }
    expect((await asSession(t.url, anna, 'DELETE', `/v1/oncall/calendars/${wall.id}`)).status, "another's feed is not hers to see").toBe(404);
    expect((await ok(t, 'POST', '/v1/oncall/calendars', 404, { person: 'nobody' })).message).toBe('no person nobody');

    const own = await asSession(t.url, anna, 'POST', '/v1/oncall/calendars', { person: 'anna' });
    expect(own.status).toBe(201);
    expect(own.body).toMatchObject({ person: 'anna', created_by: 'anna' });
    expect((await asSession(t.url, anna, 'GET', '/v1/oncall/calendars')).body.map((f: { id: string }) => f.id)).toEqual([own.body.id]);
    // (Both made at the same instant of the test's clock: then by id.)
    expect((await ok(t, 'GET', '/v1/oncall/calendars', 200)).map((f: { id: string }) => f.id)).toEqual([wall.id, own.body.id].sort());

    // Her shifts only: every other day on primary; ben's weekly backup is not in it.
    const feed = events((await fetchFeed(t, own.body.secret)).text);
    expect(feed.length, 'every other day from 03-26 to 05-23').toBe(30);
    expect(feed.every(([, , summary]) => summary === 'Anna Berg on call: primary')).toBe(true);
    expect(feed.slice(0, 3).map(([s]) => s)).toEqual(['2026-03-26T08:00:00.000Z', '2026-03-28T08:00:00.000Z', '2026-03-30T07:00:00.000Z']);
    const bens = await ok(t, 'POST', '/v1/oncall/calendars', 201, { person: 'ben' });
    expect(events((await fetchFeed(t, bens.secret)).text).filter(([, , s]) => s.endsWith('backup'))).toEqual([
      ['2026-03-14T00:00:00.000Z', TO, 'Ben Okafor on call: backup'],
    ]);

    expect((await asSession(t.url, anna, 'DELETE', `/v1/oncall/calendars/${own.body.id}`)).status).toBe(204);
    expect((await fetchFeed(t, own.body.secret)).status).toBe(401);
  });
});

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError } from '../../src/config/env.js';
import { EMPTY_ONCALL, type OnCallConfig, ackTimeout, parseOnCall, policyFor, unreachablePeople } from '../../src/oncall/config.js';
import { gaps, onCallAt } from '../../src/oncall/schedule.js';
import type { Priority } from '../../src/shared/priority.js';
import { billionLaughs } from '../helpers/yaml-bombs.js';

const MIN = 60_000;
const DAY = 86_400_000;
const utc = (iso: string) => Date.parse(iso);
/** Sunday 2026-02-01, 00:00Z: Berlin on CET (+01:00). */
const NOW = utc('2026-02-01T00:00:00Z');
const SOURCE = 'oncall.yaml';

type Obj = Record<string, unknown>;

// A valid file, built from parts that each test changes: people anna/tom/maria; schedule "primary" = one 24×7 daily
// Berlin layer (anna, tom) since 2026-01-01; policy "main" = [schedule primary] then [maria] after 10m, repeated twice;
// P0/P1 of tenant acme → main; default main.
const PEOPLE = [
  { id: 'anna', name: 'Anna Schmidt', email: 'anna@example.com', timezone: 'Europe/Berlin', chat: { slack: 'U0ANNA' } },
  { id: 'tom', name: 'Tom Keller' },
  { id: 'maria', name: 'Maria Lopez', timezone: 'America/New_York' },
];
const layer = (over: Obj = {}): Obj => ({ id: 'day', timezone: 'Europe/Berlin', rotation: 'daily', handoff: '09:00', start: '2026-01-01', members: ['anna', 'tom'], ...over });
const schedule = (over: Obj = {}): Obj => ({ id: 'primary', layers: [layer()], ...over });
const policy = (over: Obj = {}): Obj => ({
  id: 'main',
  levels: [{ targets: [{ schedule: 'primary' }] }, { targets: [{ person: 'maria' }], ack_timeout: '10m' }],
  repeat: 2,
  ...over,
});
/** A policy paging one person (no schedule, so no coverage check). */
const personPolicy = (id: string, person = 'maria'): Obj => ({ id, levels: [{ targets: [{ person }] }] });
const file = (over: Obj = {}): Obj => ({
  people: PEOPLE,
  schedules: [schedule()],
  escalation_policies: [policy()],
  routing: [{ match: { tenant: 'acme', priority: ['P0', 'P1'] }, policy: 'main' }],
  default_policy: 'main',
  ...over,
});

const parse = (doc: Obj | string, now = NOW) => parseOnCall(typeof doc === 'string' ? doc : stringify(doc), SOURCE, now);
/** The problem lines of a rejected file (after "oncall.yaml is invalid:"). */
function problems(doc: Obj | string, now = NOW): string[] {
  let error: unknown;
  try {
    parse(doc, now);
  } catch (e) {
    error = e;
  }
  expect(error, 'the file should be rejected').toBeInstanceOf(ConfigError);
  const [head, ...lines] = (error as Error).message.split('\n');
  expect(head).toBe(`${SOURCE} is invalid:`);
  return lines.map((l) => l.trim());
}

describe('parseOnCall: a valid file', () => {
  it('resolves people, schedules, policies and routes', () => {
    const c = parse(
      file({
        schedules: [
          schedule({
            layers: [
              layer(),
              layer({ id: 'nights', timezone: 'UTC', rotation: 'custom', length: '12h', handoff: '21:00', members: ['tom'], restrictions: [{ from: '21:00', to: '07:00', days: ['sat', 'sun'] }] }),
              layer({ id: 'weekly', rotation: 'weekly', members: ['maria'], restrictions: [{ from: '12:00', to: '13:00' }] }),
            ],
            overrides: [{ person: 'maria', start: '2026-02-03T10:00:00+01:00', end: '2026-02-03T12:00:00Z' }],
          }),
        ],
      }),
    );
    expect([...c.people.keys()]).toEqual(['anna', 'tom', 'maria']);
    expect(c.people.get('anna')).toEqual(PEOPLE[0]);
    expect(c.people.get('tom')).toEqual({ id: 'tom', name: 'Tom Keller', timezone: 'UTC', chat: {} }); // defaults

    const s = c.schedules.get('primary')!;
    expect(s.layers.map((l) => [l.id, l.rotation.lengthMs])).toEqual([
      ['day', DAY],
      ['nights', 12 * 3_600_000],
      ['weekly', 7 * DAY],
    ]);
    expect(s.layers[0]).toEqual({ id: 'day', rotation: { timezone: 'Europe/Berlin', start: '2026-01-01', handoff: '09:00', lengthMs: DAY, members: ['anna', 'tom'] }, restrictions: [] });
    expect(s.layers[1]!.restrictions).toEqual([{ from: '21:00', to: '07:00', days: ['sat', 'sun'] }]);
    expect(s.layers[2]!.restrictions).toEqual([{ from: '12:00', to: '13:00', days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] }]);
    // 10:00+01:00 = 09:00Z.
    expect(s.overrides.map((o) => [o.person, o.start, o.end])).toEqual([['maria', utc('2026-02-03T09:00:00Z'), utc('2026-02-03T12:00:00Z')]]);

    expect(c.policies.get('main')).toEqual({
      id: 'main',
      repeat: 2,
      levels: [
        { targets: [{ schedule: 'primary' }], ackTimeoutMs: undefined },
        { targets: [{ person: 'maria' }], ackTimeoutMs: 10 * MIN },
      ],
    });
    expect(c.routing).toEqual([{ policy: 'main', tenant: ['acme'], priority: ['P0', 'P1'] }]);
    expect(c.defaultPolicy).toBe('main');
  });

  it('the resolved schedule answers who is on call', () => {
    const s = parse(file()).schedules.get('primary')!;
    // Daily 09:00 CET = 08:00Z from 2026-01-01 (anna, tom): 2026-02-02 is turn 32 → anna; 02-02 07:59Z is turn 31 → tom.
    expect(onCallAt(s, utc('2026-02-02T07:59:00Z'))).toEqual({ person: 'tom', source: 'day' });
    expect(onCallAt(s, utc('2026-02-02T08:00:00Z'))).toEqual({ person: 'anna', source: 'day' });
  });

  it('an empty file is an empty configuration', () => {
    expect(parse('')).toEqual(EMPTY_ONCALL);
  });
});

describe('parseOnCall: errors name the field', () => {
  it('anchors that would expand without bound are a clean ConfigError naming the file', () => {
    const refused = () => parseOnCall(billionLaughs('people: []'), 'oncall.yaml', NOW);
    expect(refused).toThrow(ConfigError);
    expect(refused).toThrow(/^oncall\.yaml: too many YAML aliases/);
  });

  it.each<[string, Obj, string[]]>([
    ['unknown person in members', file({ schedules: [schedule({ layers: [layer({ members: ['anna', 'zed'] })] })] }), ['schedules[primary].layers[0].members[1]: unknown person "zed"']],
    [
      'unknown person in an override',
      file({ schedules: [schedule({ overrides: [{ person: 'zed', start: '2026-02-03T10:00:00Z', end: '2026-02-03T11:00:00Z' }] })] }),
      ['schedules[primary].overrides[0].person: unknown person "zed"'],
    ],
    ['unknown person in a policy target', file({ escalation_policies: [policy(), personPolicy('other', 'zed')] }), ['escalation_policies[other].levels[0].targets[0]: unknown person "zed"']],
    [
      'unknown schedule in a policy target',
      file({ escalation_policies: [policy({ levels: [{ targets: [{ person: 'tom' }] }, { targets: [{ person: 'anna' }, { schedule: 'nope' }] }] })] }),
      ['escalation_policies[main].levels[1].targets[1]: unknown schedule "nope"'],
    ],
    ['unknown policy in routing', file({ routing: [{ policy: 'main' }, { match: { priority: 'P2' }, policy: 'nope' }] }), ['routing[1].policy: unknown escalation policy "nope"']],
    ['unknown default policy', file({ default_policy: 'nope' }), ['default_policy: unknown escalation policy "nope"']],
    ['duplicate person id', file({ people: [...PEOPLE, { id: 'tom', name: 'Another Tom' }] }), ['people: duplicate id "tom"']],
    ['duplicate schedule id', file({ schedules: [schedule(), schedule()] }), ['schedules: duplicate id "primary"']],
    ['duplicate layer id in a schedule', file({ schedules: [schedule({ layers: [layer(), layer()] })] }), ['schedules[primary].layers: duplicate id "day"']],
    ['duplicate policy id', file({ escalation_policies: [policy(), personPolicy('main')] }), ['escalation_policies: duplicate id "main"']],
    ['override ending before it starts', file({ schedules: [schedule({ overrides: [{ person: 'tom', start: '2026-02-03T11:00:00Z', end: '2026-02-03T10:00:00Z' }] })] }), ['schedules[primary].overrides[0]: end must be after start']],
    ['override ending when it starts', file({ schedules: [schedule({ overrides: [{ person: 'tom', start: '2026-02-03T11:00:00Z', end: '2026-02-03T12:00:00+01:00' }] })] }), ['schedules[primary].overrides[0]: end must be after start']],
  ])('%s', (_name, doc, expected) => {
    expect(problems(doc)).toEqual(expected);
  });

  it.each<[string, Obj, string[]]>([
    ['bad person time zone', file({ people: [PEOPLE[0], PEOPLE[1], { ...PEOPLE[2], timezone: 'America/Gotham' }] }), ['people[2].timezone: is not an IANA time zone (e.g. Asia/Shanghai)']],
    ['bad layer time zone', file({ schedules: [schedule({ layers: [layer({ timezone: 'Mars/Olympus' })] })] }), ['schedules[0].layers[0].timezone: is not an IANA time zone (e.g. Asia/Shanghai)']],
    ['handoff without a leading zero', file({ schedules: [schedule({ layers: [layer({ handoff: '9:00' })] })] }), ['schedules[0].layers[0].handoff: use HH:MM (24 h)']],
    ['restriction ending at 24:00', file({ schedules: [schedule({ layers: [layer({ restrictions: [{ from: '09:00', to: '24:00' }] })] })] }), ['schedules[0].layers[0].restrictions[0].to: use HH:MM (24 h)']],
    ['restriction starting at 12:60', file({ schedules: [schedule({ layers: [layer({ restrictions: [{ from: '12:60', to: '13:00' }] })] })] }), ['schedules[0].layers[0].restrictions[0].from: use HH:MM (24 h)']],
    ['custom rotation without length', file({ schedules: [schedule({ layers: [layer({ rotation: 'custom' })] })] }), ['schedules[0].layers[0].length: give length for a custom rotation, and only then']],
    ['length on a daily rotation', file({ schedules: [schedule({ layers: [layer({ length: '12h' })] })] }), ['schedules[0].layers[0].length: give length for a custom rotation, and only then']],
    ['custom length under an hour', file({ schedules: [schedule({ layers: [layer({ rotation: 'custom', length: '30m' })] })] }), ['schedules[0].layers[0].length: must be between 1h and 90d']],
    ['override instant without an offset', file({ schedules: [schedule({ overrides: [{ person: 'tom', start: '2026-02-03T10:00:00', end: '2026-02-03T11:00:00Z' }] })] }), ['schedules[0].overrides[0].start: Invalid ISO datetime']],
    ['ack timeout under a minute', file({ escalation_policies: [policy({ levels: [{ targets: [{ person: 'tom' }], ack_timeout: '30s' }] })] }), ['escalation_policies[0].levels[0].ack_timeout: must be between 1m and 1d']],
    ['unknown field in a layer', file({ schedules: [schedule({ layers: [layer({ colour: 'red' })] })] }), ['schedules[0].layers[0]: unknown field colour']],
    ['unknown field in a route match', file({ routing: [{ match: { tenant: 'acme', severity: 'P0' }, policy: 'main' }] }), ['routing[0].match: unknown field severity']],
  ])('%s', (_name, doc, expected) => {
    expect(problems(doc)).toEqual(expected);
  });

  it('an unknown top-level field is named', () => {
    expect(problems(file({ escalation: [] }))).toEqual(['(top level): unknown field escalation']);
  });

  it.each(['local', 'system', 'default'])('the luxon alias "%s" for the host zone is not an IANA time zone', (timezone) => {
    // These would make handoffs follow the server's TZ, so the same file would page different people on different hosts.
    expect(problems(file({ schedules: [schedule({ layers: [layer({ timezone })] })] }))).toEqual(['schedules[0].layers[0].timezone: is not an IANA time zone (e.g. Asia/Shanghai)']);
  });

  it('every problem is listed, not only the first', () => {
    const doc = file({
      people: [...PEOPLE, { id: 'tom', name: 'Another Tom' }],
      schedules: [schedule({ layers: [layer({ members: ['zed'] })] })],
      default_policy: 'nope',
    });
    expect(problems(doc)).toEqual(['people: duplicate id "tom"', 'schedules[primary].layers[0].members[0]: unknown person "zed"', 'default_policy: unknown escalation policy "nope"']);
  });

  it('a duplicate YAML key names the line', () => {
    const text = 'people: []\ndefault_policy: a\ndefault_policy: b\n';
    expect(() => parse(text)).toThrow(ConfigError);
    expect(() => parse(text)).toThrow(/^oncall\.yaml:3: Map keys must be unique/);
  });
});

describe('parseOnCall: coverage of schedules that P0/P1 pages reach', () => {
  // "office": Berlin 09:00–17:00 only. From NOW (Sun 2026-02-01 00:00Z) the first gap ends at 09:00 CET = 08:00Z.
  const office = schedule({ id: 'office', layers: [layer({ restrictions: [{ from: '09:00', to: '17:00' }] })] });
  const officeGap = (pid: string) => `schedules[office]: nobody is on call from 2026-02-01T00:00:00.000Z to 2026-02-01T08:00:00.000Z (8h), and escalation policy "${pid}" pages it for P0/P1`;
  const officePolicy = (id: string) => ({ id, levels: [{ targets: [{ person: 'tom' }] }, { targets: [{ schedule: 'office' }] }] });
  const withOffice = (routing: Obj[], default_policy?: string) =>
    file({ schedules: [schedule(), office], escalation_policies: [policy(), officePolicy('office-hours')], routing, default_policy });

  it.each<[string, Obj[], string | undefined]>([
    ['a P1 route', [{ match: { tenant: 'acme', priority: ['P2', 'P1'] }, policy: 'office-hours' }], 'main'],
    ['a P0 route', [{ match: { priority: 'P0' }, policy: 'office-hours' }], undefined],
    ['a route for every priority', [{ match: { region: 'eu' }, policy: 'office-hours' }], 'main'],
    ['the default policy', [{ match: { priority: 'P0' }, policy: 'main' }], 'office-hours'],
  ])('a gap is an error naming the schedule, the gap in UTC and the policy, when reached through %s', (_name, routing, def) => {
    expect(problems(withOffice(routing, def))).toEqual([officeGap('office-hours')]);
  });

  it('does not fire for a schedule reachable only from P2 (or P3) routes', () => {
    const c = parse(withOffice([{ match: { priority: 'P2' }, policy: 'office-hours' }, { match: { priority: ['P3'] }, policy: 'office-hours' }], 'main'));
    expect(gaps(c.schedules.get('office')!, NOW, NOW + DAY)).not.toEqual([]); // the gaps are there, and allowed
    expect(policyFor(c, { tenant: 'acme', priority: 'P2' })?.id).toBe('office-hours');
  });

  it('does not fire for an unreferenced schedule', () => {
    expect(() => parse(file({ schedules: [schedule(), office] }))).not.toThrow();
  });

  it('names the first gap before a rotation starts, and passes once `now` is past it', () => {
    // Starts 2026-02-10 09:00 CET = 08:00Z: 9 days 8 hours = 224 h after NOW.
    const late = file({ schedules: [schedule({ layers: [layer({ start: '2026-02-10' })] })] });
    expect(problems(late)).toEqual(['schedules[primary]: nobody is on call from 2026-02-01T00:00:00.000Z to 2026-02-10T08:00:00.000Z (224h), and escalation policy "main" pages it for P0/P1']);
    expect(() => parse(late, utc('2026-02-10T08:00:00Z'))).not.toThrow();
  });

  it('counts overrides as coverage', () => {
    // One gap only: a rotation starting 2026-02-01 09:00 CET = 08:00Z, with an override for the first 8 hours.
    const covered = file({ schedules: [schedule({ layers: [layer({ start: '2026-02-01' })], overrides: [{ person: 'maria', start: '2026-01-31T23:00:00Z', end: '2026-02-01T08:00:00Z' }] })] });
    expect(() => parse(covered)).not.toThrow();
  });
});

describe('policyFor and ackTimeout', () => {
  const config = parse(
    file({
      escalation_policies: [policy(), personPolicy('acme-west'), personPolicy('low'), personPolicy('beta-urgent')],
      routing: [
        { match: { tenant: 'acme', region: ['eu', 'us'] }, policy: 'acme-west' },
        { match: { priority: 'P2' }, policy: 'low' },
        { match: { tenant: ['beta', 'gamma'], priority: ['P0'] }, policy: 'beta-urgent' },
      ],
      default_policy: 'main',
    }),
  );
  const pick = (c: OnCallConfig, tenant: string, region: string | undefined, priority: Priority) => policyFor(c, { tenant, region, priority })?.id;

  it.each<[string, string, string | undefined, Priority, string | undefined]>([
    ['tenant and region match', 'acme', 'eu', 'P0', 'acme-west'],
    ['the first matching route wins over a later one', 'acme', 'us', 'P2', 'acme-west'],
    ['region not listed → next routes, then the default', 'acme', 'ap', 'P0', 'main'],
    ['no region on the incident never matches a region route', 'acme', undefined, 'P1', 'main'],
    ['priority-only route', 'zed', 'eu', 'P2', 'low'],
    ['tenant list and priority', 'gamma', undefined, 'P0', 'beta-urgent'],
    ['tenant list, other priority → default', 'beta', undefined, 'P1', 'main'],
    ['P3 never pages, even where a route matches', 'acme', 'eu', 'P3', undefined],
    ['P3 never pages, not even the default', 'zed', undefined, 'P3', undefined],
  ])('%s', (_name, tenant, region, priority, expected) => {
    expect(pick(config, tenant, region, priority)).toBe(expected);
  });

  it('without a default policy an unmatched incident has none', () => {
    const c = parse(file({ escalation_policies: [policy()], routing: [{ match: { tenant: 'acme' }, policy: 'main' }], default_policy: undefined }));
    expect(pick(c, 'acme', undefined, 'P0')).toBe('main');
    expect(pick(c, 'beta', undefined, 'P0')).toBeUndefined();
  });

  it('a level without ack_timeout waits by priority (P0 5m, P1 15m, P2 30m); an explicit one wins', () => {
    const [first, second] = policyFor(config, { tenant: 'zed', priority: 'P0' })!.levels;
    expect(ackTimeout(first!, 'P0')).toBe(5 * MIN);
    expect(ackTimeout(first!, 'P1')).toBe(15 * MIN);
    expect(ackTimeout(first!, 'P2')).toBe(30 * MIN);
    for (const p of ['P0', 'P1', 'P2'] as const) expect(ackTimeout(second!, p)).toBe(10 * MIN);
    expect(ackTimeout({ targets: [], ackTimeoutMs: 90_000 }, 'P0')).toBe(90_000);
  });
});

describe('oncall.example.yaml', () => {
  const text = readFileSync(fileURLToPath(new URL('../../oncall.example.yaml', import.meta.url)), 'utf8');

  it.each([
    '2026-01-01T00:00:00Z',
    '2026-01-04T12:00:00Z',
    '2026-03-08T06:30:00Z', // New York about to spring forward
    '2026-03-10T00:00:00Z', // New York on EDT, Berlin still CET
    '2026-03-29T00:30:00Z', // Berlin about to spring forward
    '2026-06-15T12:00:00Z',
    '2026-10-25T00:30:00Z', // Berlin about to fall back
    '2026-10-27T00:00:00Z', // Berlin on CET, New York still EDT
    '2026-11-01T05:30:00Z', // New York's repeated hour
    '2027-03-14T06:00:00Z', // New York spring forward 2027
    '2027-03-28T00:00:00Z', // Berlin spring forward 2027
    '2027-10-31T00:00:00Z',
    '2027-11-07T05:00:00Z',
    '2027-12-31T23:00:00Z',
  ])('is valid at %s', (at) => {
    expect(() => parseOnCall(text, 'oncall.example.yaml', utc(at))).not.toThrow();
    const c = parseOnCall(text, 'oncall.example.yaml', utc(at));
    expect(gaps(c.schedules.get('noc')!, utc(at), utc(at) + 28 * DAY)).toEqual([]);
  });

  it('resolves the follow-the-sun schedule and the default policy', () => {
    const c = parseOnCall(text, 'oncall.example.yaml', utc('2026-03-10T00:00:00Z'));
    const noc = c.schedules.get('noc')!;
    // Rotations start Mon 2025-01-06; 2025-01-06 → 2026-01-05 is 52 weeks (364 days), → Mon 2026-03-09 9 more weeks.
    // 2026-03-10 12:00Z = 13:00 CET (EMEA window), 08:00 EDT (before AMER). EMEA weekly: turn 61 → members[1] = tom.
    expect(onCallAt(noc, utc('2026-03-10T12:00:00Z'))).toEqual({ person: 'tom', source: 'emea' });
    // 13:00Z = 09:00 EDT: AMER turn 61 → members[1] = sam.
    expect(onCallAt(noc, utc('2026-03-10T13:00:00Z'))).toEqual({ person: 'sam', source: 'amer' });
    // 21:30Z: after AMER (17:00 EDT = 21:00Z), before APAC (09:00 CST = 01:00Z): the UTC weekly backstop, turn 61 of
    // (tom, maria, li-wei) → members[1] = maria.
    expect(onCallAt(noc, utc('2026-03-10T21:30:00Z'))).toEqual({ person: 'maria', source: 'backstop' });
    // 03-11 02:00Z = 10:00 in Shanghai: APAC daily, 03-11 is turn 364 + 65 = 429 → members[1] = chen-jing.
    expect(onCallAt(noc, utc('2026-03-11T02:00:00Z'))).toEqual({ person: 'chen-jing', source: 'apac' });
    expect(policyFor(c, { tenant: 'any', priority: 'P1' })?.id).toBe('default');
    expect(policyFor(c, { tenant: 'any', priority: 'P3' })).toBeUndefined();
  });
});

describe('channels and where people are paged', () => {
  const SLACK = { id: 'noc-slack', provider: 'slack', url: 'https://hooks.slack.com/services/T0/B0/${SLACK_TOKEN}' };
  const FEISHU = { id: 'noc-feishu', provider: 'feishu', url: 'https://open.feishu.cn/open-apis/bot/v2/hook/abc', secret: '${FEISHU_SECRET}' };
  const withEnv = (doc: Obj, env: NodeJS.ProcessEnv) => parseOnCall(stringify(doc), SOURCE, NOW, env);
  const env = { SLACK_TOKEN: 'xyz123', FEISHU_SECRET: 'fs-secret' };

  it('fills ${VARS} from the environment and validates each channel with its provider', () => {
    const c = withEnv(file({ channels: [SLACK, FEISHU] }), env);
    expect(c.channels.get('noc-slack')).toEqual({ id: 'noc-slack', provider: 'slack', config: { url: 'https://hooks.slack.com/services/T0/B0/xyz123' } });
    expect(c.channels.get('noc-feishu')?.config).toEqual({ url: FEISHU.url, secret: 'fs-secret' });
  });

  it('names a missing variable and the provider field that is wrong', () => {
    expect(() => withEnv(file({ channels: [SLACK] }), {})).toThrow(/channels\[noc-slack\]: environment variable SLACK_TOKEN is not set/);
    expect(() => withEnv(file({ channels: [{ id: 'x', provider: 'slack', url: 'http://hooks.slack.com/x' }] }), env)).toThrow(/channels\[x\]\.url: url must use https/);
    expect(() => withEnv(file({ channels: [{ id: 'x', provider: 'pager' }] }), env)).toThrow(/channels\[0\]\.provider/);
    expect(() => withEnv(file({ channels: [{ ...SLACK, id: 'email' }] }), env)).toThrow(/"email" is reserved/);
  });

  it('pages people on the channels of providers they have a handle on, then email, unless notify says otherwise', () => {
    const c = withEnv(file({ channels: [SLACK, FEISHU] }), env);
    expect(c.notify.get('anna')).toEqual(['noc-slack', 'email']); // slack handle, and an email address
    expect(c.notify.get('tom')).toEqual([]); // neither: validation of P0/P1 reachability is the pager's concern
    const people = [{ ...PEOPLE[0], notify: ['email', 'noc-feishu'] }, ...PEOPLE.slice(1)];
    expect(withEnv(file({ people, channels: [SLACK, FEISHU] }), env).notify.get('anna')).toEqual(['email', 'noc-feishu']);
  });

  it('rejects notify entries that cannot work, and unknown channel targets', () => {
    const people = [{ ...PEOPLE[0] }, { ...PEOPLE[1], notify: ['email', 'nope'] }, PEOPLE[2]];
    expect(() => withEnv(file({ people }), env)).toThrow(/people\[tom\]\.notify\[0\]: "email" needs the person's email[\s\S]*people\[tom\]\.notify\[1\]: unknown channel "nope"/);
    const pol = personPolicy('main');
    (pol.levels as Obj[])[0] = { targets: [{ channel: 'ghost' }] };
    expect(() => withEnv(file({ escalation_policies: [pol] }), env)).toThrow(/escalation_policies\[main\]\.levels\[0\]\.targets\[0\]: unknown channel "ghost"/);
  });
});

describe('unreachablePeople', () => {
  it('lists people P0/P1 escalations can page who have no channel at all', () => {
    // anna has an email; tom (a member of the P0/P1 schedule) and maria (a level-2 target) have nothing.
    expect(unreachablePeople(parse(file()))).toEqual(['maria', 'tom']);
    // Only reachable through a P2 route: not urgent.
    expect(unreachablePeople(parse(file({ routing: [{ match: { priority: 'P2' }, policy: 'main' }], default_policy: undefined })))).toEqual([]);
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseOnCall, policyFor } from '../../src/oncall/config.js';
import { recipients } from '../../src/oncall/escalation.js';
import { formatPagingPlan, pagingPlan } from '../../src/oncall/route-test.js';

/**
 * `qoswatch oncall test`'s answer: the route and policy paging would pick and whom each escalation step pages, each
 * resolved at the instant the step starts. Expected people are worked out by hand from the example file.
 */

const NOW = Date.parse('2026-11-20T00:00:00Z');
const EXAMPLE = parseOnCall(readFileSync(new URL('../../oncall.example.yaml', import.meta.url), 'utf8'), 'oncall.example.yaml', NOW);

const MIN = 60_000;
const at = (iso: string) => Date.parse(iso);

describe('on the example file', () => {
  it('a P0 at 03:00Z on 2026-11-24: routing[0], the NOC schedule\'s APAC person, then the level-2 people, repeated twice', () => {
    // 03:00Z is 11:00 in Shanghai (APAC's 09-17 window); 2026-11-24 is 687 days after the layer's start: odd turn,
    // chen-jing. Level 1 waits 5 min (P0's default ack timeout), level 2 10 min (its own).
    const opened = at('2026-11-24T03:00:00Z');
    const plan = pagingPlan(EXAMPLE, { tenant: 'acme', region: 'eu-west', priority: 'P0' }, opened);
    expect(plan.route).toBe(0);
    expect(plan.policy?.id).toBe('default');
    expect(plan.steps.map((s) => [(s.startsAt - opened) / MIN, s.round, s.level, s.people.map((p) => p.id), s.channels])).toEqual([
      [0, 0, 0, ['chen-jing'], []],
      [5, 0, 1, ['tom', 'maria'], ['noc-slack']],
      [15, 1, 0, ['chen-jing'], []],
      [20, 1, 1, ['tom', 'maria'], ['noc-slack']],
      [30, 2, 0, ['chen-jing'], []],
      [35, 2, 1, ['tom', 'maria'], ['noc-slack']],
    ]);
    expect(plan.steps[0]!.people).toEqual([{ id: 'chen-jing', via: [{ schedule: 'noc', source: 'apac' }], notify: ['noc-feishu', 'email'] }]);
    expect(plan.steps[1]!.people[0]).toEqual({ id: 'tom', via: [], notify: ['noc-slack', 'email'] });
  });

  it('a day later the daily APAC handoff has passed: li-wei', () => {
    const plan = pagingPlan(EXAMPLE, { tenant: 'acme', priority: 'P1' }, at('2026-11-25T03:00:00Z'));
    expect(plan.steps[0]!.people.map((p) => [p.id, p.via])).toEqual([['li-wei', [{ schedule: 'noc', source: 'apac' }]]]);
    // P1's default ack timeout for level 1 is 15 min
    expect(plan.steps[1]!.startsAt - plan.steps[0]!.startsAt).toBe(15 * MIN);
  });

  it('each step is resolved when it starts: opened before APAC\'s window, the repeat pages APAC', () => {
    // 00:55Z is 08:55 in Shanghai, 01:55 in Berlin, 19:55 in New York: only the backstop (weekly from Monday
    // 2025-01-06 09:00Z; week 98 → members[98 % 3] = li-wei). The repeat at +15 min, 09:10 in Shanghai, is APAC's.
    const plan = pagingPlan(EXAMPLE, { tenant: 'acme', priority: 'P0' }, at('2026-11-24T00:55:00Z'));
    expect(plan.steps[0]!.people.map((p) => [p.id, p.via])).toEqual([['li-wei', [{ schedule: 'noc', source: 'backstop' }]]]);
    expect(plan.steps[2]!.people.map((p) => [p.id, p.via])).toEqual([['chen-jing', [{ schedule: 'noc', source: 'apac' }]]]);
  });

  it('pages exactly whom paging pages (recipients of the same steps)', () => {
    const opened = at('2026-11-24T08:30:00Z'); // 09:30 in Berlin: EMEA (a later layer) wins over APAC
    const plan = pagingPlan(EXAMPLE, { tenant: 'acme', priority: 'P2' }, opened);
    expect(plan.policy).toBe(policyFor(EXAMPLE, { tenant: 'acme', priority: 'P2' }));
    for (const s of plan.steps) expect(s.people.map((p) => p.id)).toEqual(recipients(s, (id) => EXAMPLE.schedules.get(id)!).people);
    expect(plan.steps[0]!.people[0]!.via).toEqual([{ schedule: 'noc', source: 'emea' }]);
  });

  it('prints the route, and per step when and whom', () => {
    const opened = at('2026-11-24T03:00:00Z');
    const incident = { tenant: 'acme', region: 'eu-west', priority: 'P0' as const };
    const text = formatPagingPlan(EXAMPLE, incident, opened, pagingPlan(EXAMPLE, incident, opened));
    expect(text.split('\n').slice(0, 4)).toEqual([
      'a P0 incident of tenant acme, region eu-west opened at 2026-11-24T03:00:00.000Z:',
      '  routing[0] (priority P0, P1, P2) matches: escalation policy "default" (2 level(s), run 3 times)',
      '  +0s     2026-11-24T03:00:00.000Z  level 1: chen-jing (Chen Jing; schedule noc via apac) on noc-feishu, email',
      '  +5m     2026-11-24T03:05:00.000Z  level 2: tom (Tom Keller) on noc-slack, email; maria (Maria Lopez) on noc-slack, email; channel noc-slack',
    ]);
    expect(text).toContain('  +15m    2026-11-24T03:15:00.000Z  level 1, repeat 1: chen-jing');
  });

  it('P3 never pages', () => {
    const plan = pagingPlan(EXAMPLE, { tenant: 'acme', priority: 'P3' }, NOW);
    expect(plan).toEqual({ route: undefined, policy: undefined, steps: [] });
    expect(formatPagingPlan(EXAMPLE, { tenant: 'acme', priority: 'P3' }, NOW, plan)).toBe('a P3 incident of tenant acme opened at 2026-11-20T00:00:00.000Z: P3 never pages\n');
  });
});

describe('routes, the default policy, overrides and gaps', () => {
  const config = parseOnCall(
    `
people:
  - { id: ann, name: Ann, email: ann@example.com }
  - { id: bob, name: Bob, email: bob@example.com }
  - { id: cy, name: Cy }
schedules:
  - id: day
    layers: [{ id: office, timezone: Europe/Berlin, rotation: daily, handoff: "09:00", start: 2026-01-05, members: [ann, bob], restrictions: [{ from: "09:00", to: "17:00" }] }]
    overrides: [{ person: bob, start: 2026-11-24T10:00:00Z, end: 2026-11-24T12:00:00Z }]
  - id: all
    layers: [{ id: all, timezone: UTC, rotation: weekly, handoff: "00:00", start: 2026-01-05, members: [ann] }]
escalation_policies:
  - { id: big, levels: [{ targets: [{ schedule: all }] }] }
  - { id: office, levels: [{ targets: [{ schedule: day }, { person: cy }] }] }
routing:
  - { match: { tenant: [bigco], region: eu-west }, policy: big }
  - { match: { priority: P2 }, policy: office }
default_policy: big
`,
    'test.yaml',
    NOW,
  );

  it('the first matching route wins; a route on region needs the region; else the default policy', () => {
    expect(pagingPlan(config, { tenant: 'bigco', region: 'eu-west', priority: 'P2' }, NOW)).toMatchObject({ route: 0, policy: { id: 'big' } });
    expect(pagingPlan(config, { tenant: 'bigco', priority: 'P2' }, NOW)).toMatchObject({ route: 1, policy: { id: 'office' } });
    const fallback = pagingPlan(config, { tenant: 'small', priority: 'P0' }, NOW);
    expect(fallback).toMatchObject({ route: undefined, policy: { id: 'big' } });
    expect(formatPagingPlan(config, { tenant: 'small', priority: 'P0' }, NOW, fallback)).toContain('  no route matches: default_policy "big" (1 level(s))\n');
  });

  it('an override in the file wins over the layer; outside office hours the schedule has nobody', () => {
    const override = pagingPlan(config, { tenant: 'x', priority: 'P2' }, at('2026-11-24T11:00:00Z'));
    expect(override.steps[0]!.people.map((p) => [p.id, p.via])).toEqual([['bob', [{ schedule: 'day', source: 'override' }]], ['cy', []]]);
    const night = pagingPlan(config, { tenant: 'x', priority: 'P2' }, at('2026-11-24T22:00:00Z'));
    expect(night.steps[0]!.uncovered).toEqual(['day']);
    const text = formatPagingPlan(config, { tenant: 'x', priority: 'P2' }, at('2026-11-24T22:00:00Z'), night);
    expect(text).toContain('level 1: cy (Cy) on NO CHANNEL; schedule day: NOBODY on call');
  });

  it('no route and no default policy: nobody is paged', () => {
    const bare = { ...config, defaultPolicy: undefined };
    const plan = pagingPlan(bare, { tenant: 'small', priority: 'P1' }, NOW);
    expect(plan).toEqual({ route: undefined, policy: undefined, steps: [] });
    expect(formatPagingPlan(bare, { tenant: 'small', priority: 'P1' }, NOW, plan)).toBe(
      'a P1 incident of tenant small opened at 2026-11-20T00:00:00.000Z: no route matches and there is no default_policy: nobody is paged\n',
    );
  });
});

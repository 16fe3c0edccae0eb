import { describe, expect, it } from 'vitest';
import type { EscalationPolicy } from '../../src/oncall/config.js';
import { dueSteps, escalationSteps, nextStepAt, recipients } from '../../src/oncall/escalation.js';
import type { Schedule } from '../../src/oncall/schedule.js';

const T0 = Date.UTC(2026, 10, 23, 12); // a Monday, 12:00 UTC
const M = 60_000;
const policy: EscalationPolicy = {
  id: 'p',
  repeat: 1,
  levels: [
    { targets: [{ schedule: 'noc' }], ackTimeoutMs: undefined },
    { targets: [{ person: 'lead' }, { schedule: 'noc' }], ackTimeoutMs: 10 * M },
  ],
};
// A daily rotation at 12:00 UTC: anna today, bob from tomorrow noon.
const noc: Schedule = {
  id: 'noc',
  layers: [{ id: 'day', restrictions: [], rotation: { timezone: 'UTC', start: '2026-11-23', handoff: '12:00', lengthMs: 86_400_000, members: ['anna', 'bob'] } }],
  overrides: [],
};

describe('escalation steps (injected clock)', () => {
  it('starts each level when the previous ack timeout runs out, with defaults by priority, and repeats', () => {
    const at = (p: 'P0' | 'P1' | 'P2') => escalationSteps(policy, p, T0).map((s) => [s.round, s.level, (s.startsAt - T0) / M]);
    // P0: level 1 waits 5 min (default), level 2 waits its own 10 min; then the policy runs once more.
    expect(at('P0')).toEqual([[0, 0, 0], [0, 1, 5], [1, 0, 15], [1, 1, 20]]);
    expect(at('P1')).toEqual([[0, 0, 0], [0, 1, 15], [1, 0, 25], [1, 1, 40]]);
    expect(at('P2')).toEqual([[0, 0, 0], [0, 1, 30], [1, 0, 40], [1, 1, 70]]);
  });

  it('P3 never pages', () => {
    expect(escalationSteps(policy, 'P3', T0)).toEqual([]);
    expect(nextStepAt(policy, 'P3', T0, T0)).toBeUndefined();
  });

  it('tells which steps are due at an instant and when the next one starts (edges exact)', () => {
    expect(dueSteps(policy, 'P0', T0, T0).map((s) => s.index)).toEqual([0]);
    expect(dueSteps(policy, 'P0', T0, T0 + 5 * M - 1).map((s) => s.index)).toEqual([0]);
    expect(dueSteps(policy, 'P0', T0, T0 + 5 * M).map((s) => s.index)).toEqual([0, 1]);
    expect(nextStepAt(policy, 'P0', T0, T0 + 5 * M)).toBe(T0 + 15 * M);
    expect(nextStepAt(policy, 'P0', T0, T0 + 20 * M)).toBeUndefined();
  });

  it('resolves schedule targets at the step start and collapses duplicates', () => {
    const steps = escalationSteps(policy, 'P0', T0);
    const schedule = () => noc;
    expect(recipients(steps[0]!, schedule)).toEqual({ people: ['anna'], channels: [] });
    expect(recipients(steps[1]!, schedule)).toEqual({ people: ['lead', 'anna'], channels: [] });
    // An incident opened just before the handoff: its escalation 5 min later reaches the next person.
    const late = escalationSteps(policy, 'P0', T0 + 86_400_000 - 2 * M);
    expect(recipients(late[0]!, schedule).people).toEqual(['anna']);
    expect(recipients(late[1]!, schedule).people).toEqual(['lead', 'bob']);
    const twice: EscalationPolicy = { id: 'x', repeat: 0, levels: [{ targets: [{ person: 'anna' }, { schedule: 'noc' }, { channel: 'noc-chat' }], ackTimeoutMs: undefined }] };
    expect(recipients(escalationSteps(twice, 'P1', T0)[0]!, schedule)).toEqual({ people: ['anna'], channels: ['noc-chat'] });
  });
});

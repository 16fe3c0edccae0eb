import { describe, expect, it } from 'vitest';
import { EventOverlay, type EventWindow, PLANNED_END_AFTER_MS, PLANNED_END_BEFORE_MS, applies, tightenLevels } from '../../src/events/overlay.js';
import { compileRuleFiles } from '../../src/rules/load.js';
import type { ThresholdRule } from '../../src/rules/rule-schema.js';

const rules = compileRuleFiles(
  [{
    path: 'r.yaml',
    text: `rules:
  - { id: stall, description: d, metric: stall_ratio, window: 1m, thresholds: { P0: "> 0.2", P1: "> 0.05" } }
  - { id: viewers-low, description: d, metric: viewers, window: 1m, thresholds: { P2: "< 100" } }
  - { id: tenant-wide, description: d, metric: stall_ratio, window: 1m, group_by: [tenant], thresholds: { P1: "> 0.05" } }
`,
  }],
  { windowMs: 10_000, horizonMs: 300_000 },
).rules as ThresholdRule[];
const [stall, low, tenantWide] = rules as [ThresholdRule, ThresholdRule, ThresholdRule];

const event = (over: Partial<EventWindow> = {}): EventWindow => ({ id: 1, name: 'Final', tenant: 'acme', regions: ['eu-west'], startsAt: 1000, endsAt: 2000, factor: 0.5, rules: null, ...over });

describe('event overlay', () => {
  it('tightens upward thresholds by multiplying and downward ones by dividing, keeping priorities and order', () => {
    expect(tightenLevels(stall.levels, 0.5, 'Final').map((l) => [l.priority, l.cmp.op, l.cmp.value, l.cmp.text])).toEqual([
      ['P0', '>', 0.1, '> 0.1 (Final)'],
      ['P1', '>', 0.025, '> 0.025 (Final)'],
    ]);
    expect(tightenLevels(low.levels, 0.5, 'Final').map((l) => [l.cmp.op, l.cmp.value])).toEqual([['<', 200]]);
    // No floating-point noise in the text operators read: 0.05 × 0.3 is 0.015, not 0.015000000000000001.
    expect(tightenLevels(stall.levels, 0.3, 'x')[1]!.cmp.value).toBe(0.015);
  });

  it('applies only inside [start, end), to its tenant, its regions and its rules', () => {
    const labels = { tenant: 'acme', region: 'eu-west' };
    expect(applies(event(), stall, labels, 999)).toBe(false);
    expect(applies(event(), stall, labels, 1000)).toBe(true);
    expect(applies(event(), stall, labels, 1999)).toBe(true);
    expect(applies(event(), stall, labels, 2000)).toBe(false);
    expect(applies(event(), stall, { tenant: 'other', region: 'eu-west' }, 1500)).toBe(false);
    expect(applies(event(), stall, { tenant: 'acme', region: 'us-east' }, 1500)).toBe(false);
    expect(applies(event({ regions: [] }), stall, { tenant: 'acme', region: 'us-east' }, 1500)).toBe(true);
    expect(applies(event({ rules: ['viewers-low'] }), stall, labels, 1500)).toBe(false);
    // A group over the whole tenant is covered only by an event over all its regions.
    expect(applies(event(), tenantWide, { tenant: 'acme' }, 1500)).toBe(false);
    expect(applies(event({ regions: [] }), tenantWide, { tenant: 'acme' }, 1500)).toBe(true);
  });

  it('picks the tightest of overlapping events and returns nothing outside them', () => {
    const o = new EventOverlay();
    o.set([event({ id: 1, factor: 0.8 }), event({ id: 2, factor: 0.5, startsAt: 1500 })]);
    const labels = { tenant: 'acme', region: 'eu-west' };
    expect(o.levelsFor(stall, labels, 900)).toBeUndefined();
    expect(o.levelsFor(stall, labels, 1200)![1]!.cmp.value).toBe(0.04);
    expect(o.levelsFor(stall, labels, 1600)![1]!.cmp.value).toBe(0.025);
    // Cached: the same array for the same rule and event.
    expect(o.levelsFor(stall, labels, 1700)).toBe(o.levelsFor(stall, labels, 1800));
    o.set([]);
    expect(o.levelsFor(stall, labels, 1600)).toBeUndefined();
  });

  it('plannedEnd: from 10 min before an event`s end to 1 h after, for its tenant and regions (a tenant-wide group: all regions only)', () => {
    const o = new EventOverlay();
    const end = 10 * 3_600_000;
    o.set([event({ startsAt: end - 3_600_000, endsAt: end })]);
    const labels = { tenant: 'acme', region: 'eu-west' };
    expect(PLANNED_END_BEFORE_MS).toBe(10 * 60_000);
    expect(PLANNED_END_AFTER_MS).toBe(3_600_000);
    expect(o.plannedEnd(labels, end - PLANNED_END_BEFORE_MS - 1)).toBe(false);
    expect(o.plannedEnd(labels, end - PLANNED_END_BEFORE_MS)).toBe(true);
    expect(o.plannedEnd(labels, end + PLANNED_END_AFTER_MS)).toBe(true);
    expect(o.plannedEnd(labels, end + PLANNED_END_AFTER_MS + 1)).toBe(false);
    expect(o.plannedEnd({ tenant: 'acme', region: 'us-east' }, end)).toBe(false);
    expect(o.plannedEnd({ tenant: 'other', region: 'eu-west' }, end)).toBe(false);
    expect(o.plannedEnd({ tenant: 'acme' }, end)).toBe(false);
    o.set([event({ regions: [], startsAt: end - 3_600_000, endsAt: end })]);
    expect(o.plannedEnd({ tenant: 'acme' }, end)).toBe(true);
  });
});

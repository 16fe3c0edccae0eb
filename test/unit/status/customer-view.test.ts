import { describe, expect, it } from 'vitest';
import { customerIncident, customerTitle, regionStatuses } from '../../../src/status/customer-view.js';

const T0 = Date.UTC(2026, 11, 5, 12);
const facts = { state: 'open' as const, priority: 'P1', region: 'eu-west', openedAt: T0, mitigatedAt: undefined, resolvedAt: undefined, metrics: ['stall_ratio'] };

describe('the customer view', () => {
  it('says what viewers notice, once per kind, and where; an absent-data rule and an unknown metric in plain words too', () => {
    expect(customerTitle({ metrics: ['stall_ratio', 'stall_ratio', 'latency_p95'], region: 'eu-west' })).toBe('Playback interruptions (buffering), Increased stream delay in eu-west');
    expect(customerTitle({ metrics: [undefined], region: 'ap-south' })).toBe('Playback data missing in ap-south');
    expect(customerTitle({ metrics: ['vmaf_p5'], region: undefined })).toBe('Degraded streaming');
  });

  it('names the phase, the impact (P0: outage) and the restore target only while service is not restored', () => {
    const ticket = { publicId: 'tk_1', state: 'new', openedAt: T0, restoreDue: T0 + 3_600_000, updates: [] };
    expect(customerIncident(facts, ticket, 'x')).toMatchObject({ id: 'tk_1', phase: 'investigating', impact: 'degraded', restore_target: T0 + 3_600_000 });
    expect(customerIncident({ ...facts, priority: 'P0', state: 'acknowledged' }, ticket, 'x')).toMatchObject({ phase: 'identified', impact: 'outage', restore_target: T0 + 3_600_000 });
    const restored = customerIncident({ ...facts, state: 'mitigated', mitigatedAt: T0 + 60_000 }, ticket, 'x');
    expect(restored).toMatchObject({ phase: 'monitoring', restored_at: T0 + 60_000 });
    expect(restored.restore_target).toBeUndefined();
    expect(customerIncident(facts, undefined, 'i_abc').id).toBe('i_abc');
  });

  it('turns the ticket\'s customer-visible events into updates in words; events without words are left out', () => {
    const updates = [
      { at: T0, kind: 'opened', text: undefined, to: undefined },
      { at: T0 + 1, kind: 'priority_changed', text: undefined, to: undefined },
      { at: T0 + 2, kind: 'state_changed', text: undefined, to: 'acknowledged' },
      { at: T0 + 3, kind: 'comment', text: 'A CDN node in Frankfurt is being replaced.', to: undefined },
      { at: T0 + 4, kind: 'comment', text: '', to: undefined },
    ];
    expect(customerIncident(facts, { publicId: 'tk_1', state: 'acknowledged', openedAt: T0, restoreDue: undefined, updates }, 'x').updates).toEqual([
      { at: T0, text: 'We are aware of the problem and are looking into it.' },
      { at: T0 + 2, text: 'Our team is working on it.' },
      { at: T0 + 3, text: 'A CDN node in Frankfurt is being replaced.' },
    ]);
  });

  it('a region is as bad as its worst unrestored incident; restored and quiet regions are operational', () => {
    const open = [
      { region: 'eu-west', impact: 'degraded' as const, phase: 'investigating' as const },
      { region: 'eu-west', impact: 'outage' as const, phase: 'identified' as const },
      { region: 'eu-west', impact: 'degraded' as const, phase: 'investigating' as const },
      { region: 'us-east', impact: 'outage' as const, phase: 'monitoring' as const },
      { region: 'ap-south', impact: 'degraded' as const, phase: 'identified' as const },
    ];
    expect(regionStatuses(['us-east', 'eu-west', 'sa-east'], open)).toEqual([
      { region: 'ap-south', status: 'degraded' },
      { region: 'eu-west', status: 'outage' },
      { region: 'sa-east', status: 'operational' },
      { region: 'us-east', status: 'operational' },
    ]);
  });
});

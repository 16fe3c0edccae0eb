import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EscalationRepo } from '../../../../src/storage/state/escalations.js';
import { BACKENDS } from '../../../helpers/backends.js';

const T0 = Date.UTC(2026, 4, 4, 12);

describe.each(BACKENDS)('EscalationRepo on $name', (backend) => {
  let escalations: EscalationRepo;
  let close: () => Promise<void>;
  beforeEach(async () => {
    const opened = await backend.open();
    ({ close } = opened);
    escalations = opened.store.escalations;
  });
  afterEach(() => close());

  it('begins once per triggering timeline entry: the same entry again (a replay) changes nothing, a new one (a reopen) starts the next generation', async () => {
    expect(await escalations.begin(7, 'main', 100, T0)).toBe(true);
    expect(await escalations.running()).toEqual([{ incidentId: 7, policy: 'main', generation: 0, startedAt: T0, nextStep: 0 }]);
    const [e] = await escalations.running(7);
    expect(await escalations.step(e!, 2)).toBe(true);
    expect(await escalations.begin(7, 'main', 100, T0 + 5000)).toBe(false);
    expect(await escalations.running(7)).toEqual([{ incidentId: 7, policy: 'main', generation: 0, startedAt: T0, nextStep: 2 }]);
    await escalations.stop(7, T0 + 6000);
    expect(await escalations.begin(7, 'other', 200, T0 + 9000)).toBe(true);
    expect(await escalations.running(7)).toEqual([{ incidentId: 7, policy: 'other', generation: 1, startedAt: T0 + 9000, nextStep: 0 }]);
  });

  it('moves a step only from the step it read: of two passes that read the same row, one enqueues the pages', async () => {
    await escalations.begin(7, 'main', 100, T0);
    const [a] = await escalations.running();
    const [b] = await escalations.running();
    expect(await escalations.step(a!, 1)).toBe(true);
    expect(await escalations.step(b!, 1)).toBe(false);
    expect(await escalations.nextStep(7)).toBe(1);
  });

  it('a step read before a reopen does not move the new generation', async () => {
    await escalations.begin(7, 'main', 100, T0);
    const [old] = await escalations.running();
    await escalations.begin(7, 'main', 200, T0 + 1000);
    expect(await escalations.step(old!, 1)).toBe(false);
    expect((await escalations.running(7))[0]).toMatchObject({ generation: 1, nextStep: 0 });
  });

  it('stopped escalations are not running but keep their step (an SLA alert pages the level after the last one paged)', async () => {
    await escalations.begin(7, 'main', 100, T0);
    await escalations.begin(8, 'main', 101, T0);
    await escalations.step((await escalations.running(7))[0]!, 3);
    await escalations.stop(7, T0 + 1000);
    expect((await escalations.running()).map((e) => e.incidentId)).toEqual([8]);
    expect(await escalations.running(7)).toEqual([]);
    expect(await escalations.nextStep(7)).toBe(3);
    expect(await escalations.nextStep(9)).toBe(0);
  });
});

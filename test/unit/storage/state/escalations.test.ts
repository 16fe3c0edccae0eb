import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EscalationRepo } from '../../../../src/storage/state/escalations.js';
import type { Db } from '../../../../src/storage/sqlite.js';
import { openStateDb } from '../../../../src/storage/state-db.js';
import { tempDir } from '../../../helpers/tmp.js';

const T0 = Date.UTC(2026, 4, 4, 12);

let db: Db;
let escalations: EscalationRepo;
beforeEach(() => {
  db = openStateDb(join(tempDir('esc'), 'state.db'));
  escalations = new EscalationRepo(db);
});
afterEach(() => db.close());

describe('EscalationRepo (real SQLite)', () => {
  it('begins once per triggering timeline entry: the same entry again (a replay) changes nothing, a new one (a reopen) starts the next generation', () => {
    expect(escalations.begin(7, 'main', 100, T0)).toBe(true);
    expect(escalations.running()).toEqual([{ incidentId: 7, policy: 'main', generation: 0, startedAt: T0, nextStep: 0 }]);
    const [e] = escalations.running(7);
    expect(escalations.step(e!, 2)).toBe(true);
    expect(escalations.begin(7, 'main', 100, T0 + 5000)).toBe(false);
    expect(escalations.running(7)).toEqual([{ incidentId: 7, policy: 'main', generation: 0, startedAt: T0, nextStep: 2 }]);
    escalations.stop(7, T0 + 6000);
    expect(escalations.begin(7, 'other', 200, T0 + 9000)).toBe(true);
    expect(escalations.running(7)).toEqual([{ incidentId: 7, policy: 'other', generation: 1, startedAt: T0 + 9000, nextStep: 0 }]);
  });

  it('moves a step only from the step it read: of two passes that read the same row, one enqueues the pages', () => {
    escalations.begin(7, 'main', 100, T0);
    const [a] = escalations.running();
    const [b] = escalations.running();
    expect(escalations.step(a!, 1)).toBe(true);
    expect(escalations.step(b!, 1)).toBe(false);
    expect(escalations.nextStep(7)).toBe(1);
  });

  it('a step read before a reopen does not move the new generation', () => {
    escalations.begin(7, 'main', 100, T0);
    const [old] = escalations.running();
    escalations.begin(7, 'main', 200, T0 + 1000);
    expect(escalations.step(old!, 1)).toBe(false);
    expect(escalations.running(7)[0]).toMatchObject({ generation: 1, nextStep: 0 });
  });

  it('stopped escalations are not running but keep their step (an SLA alert pages the level after the last one paged)', () => {
    escalations.begin(7, 'main', 100, T0);
    escalations.begin(8, 'main', 101, T0);
    escalations.step(escalations.running(7)[0]!, 3);
    escalations.stop(7, T0 + 1000);
    expect(escalations.running().map((e) => e.incidentId)).toEqual([8]);
    expect(escalations.running(7)).toEqual([]);
    expect(escalations.nextStep(7)).toBe(3);
    expect(escalations.nextStep(9)).toBe(0);
  });
});

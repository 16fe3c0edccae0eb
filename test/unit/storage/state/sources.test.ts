import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StateStore } from '../../../../src/storage/state/store.js';
import { BACKENDS } from '../../../helpers/backends.js';

const T0 = Date.UTC(2026, 11, 6, 12);
const source = (id: string, name: string, kind = 'alertmanager') => ({ id, name, kind, config: { mapping: { priority: 'P2' }, settings: {} }, sha256: `sha-${id}`, createdBy: 'admin', createdAt: T0 });

describe.each(BACKENDS)('alert source repository on $name', (backend) => {
  let store: StateStore;
  let close: () => Promise<void>;
  beforeEach(async () => {
    ({ store, close } = await backend.open());
  });
  afterEach(() => close());

  it('sources are found by id, name and secret; a deleted one by nothing, and its name is free again', async () => {
    await store.sources.insert(source('a1', 'prom'));
    await store.sources.insert(source('b2', 'beat', 'heartbeat'));
    expect(await store.sources.get('a1')).toEqual({ ...source('a1', 'prom'), updatedAt: T0, seenAt: undefined });
    expect((await store.sources.byName('prom'))?.id).toBe('a1');
    expect((await store.sources.bySecret('sha-b2'))?.name).toBe('beat');
    expect((await store.sources.list('heartbeat')).map((s) => s.id)).toEqual(['b2']);
    await expect(store.sources.insert(source('c3', 'prom'))).rejects.toThrow();

    expect(await store.sources.update('a1', { config: { mapping: { priority: 'P0' }, settings: {} }, sha256: 'sha-new' }, T0 + 5)).toBe(true);
    expect(await store.sources.bySecret('sha-a1')).toBeUndefined();
    expect(await store.sources.bySecret('sha-new')).toMatchObject({ config: { mapping: { priority: 'P0' } }, updatedAt: T0 + 5 });
    await store.sources.seen('a1', T0 + 9);
    expect((await store.sources.get('a1'))?.seenAt).toBe(T0 + 9);

    expect(await store.sources.remove('a1', T0 + 10)).toBe(true);
    expect(await store.sources.remove('a1', T0 + 10)).toBe(false);
    expect(await store.sources.get('a1')).toBeUndefined();
    expect(await store.sources.bySecret('sha-new')).toBeUndefined();
    expect(await store.sources.update('a1', { name: 'x' }, T0)).toBe(false);
    await store.sources.insert(source('c3', 'prom'));
    expect((await store.sources.list()).map((s) => s.id)).toEqual(['b2', 'c3']);
  });

  it('the firing alerts of a source, by fingerprint', async () => {
    const id = await store.incidents.insert({ groupKey: 'tenant=t,region=r', tenant: 't', region: 'r', title: 'x', priority: 'P1', silenced: false, at: T0 });
    for (const fp of ['f1', 'f2']) await store.incidents.upsertAlert(id, { ruleId: 'source:prom', groupKey: fp, labels: { tenant: 't' }, priority: 'P1', silenced: false, at: T0, trigger: { metric: 'external', value: 1 } });
    await store.incidents.clearAlert(id, 'source:prom', 'f2', T0 + 1);
    expect((await store.incidents.firingOf('source:prom')).map((a) => [a.incident_id, a.group_key])).toEqual([[id, 'f1']]);
    expect(await store.incidents.firingOf('source:prom', 'f2')).toEqual([]);
    expect((await store.incidents.firingOf('source:prom', 'f1'))[0]).toMatchObject({ incident_id: id, priority: 'P1', trigger: { metric: 'external' } });
  });
});

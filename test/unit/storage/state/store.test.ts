import { afterEach, describe, expect, it } from 'vitest';
import { StaleEpochError } from '../../../../src/storage/state/fences.js';
import type { StateStore } from '../../../../src/storage/state/store.js';
import { BACKENDS, POSTGRES, SQLITE } from '../../../helpers/backends.js';
import { waitFor } from '../../../helpers/ports.js';

/** A turn of the event loop: what a transaction waits on while other callers come in. */
const turn = () => new Promise((r) => setImmediate(r));

describe.each(BACKENDS)('StateStore on $name', (backend) => {
  let store: StateStore;
  let close = async () => {};
  const fresh = async () => {
    ({ store, close } = await backend.open());
  };
  afterEach(() => close());

  it('stores all writes of a transaction, or none when it throws', async () => {
    await fresh();
    await store.tx(async (t) => {
      await t.meta.set('a', '1');
      await t.meta.set('b', '2');
    });
    await expect(
      store.tx(async (t) => {
        await t.meta.set('a', 'changed');
        await t.meta.set('c', '3');
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect([await store.meta.get('a'), await store.meta.get('b'), await store.meta.get('c')]).toEqual(['1', '2', undefined]);
  });

  it('a call from outside waits for an open transaction and sees what it committed, never what it rolled back', async () => {
    await fresh();
    await store.meta.set('n', '0');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const writing = store.tx(async (t) => {
      await t.meta.set('n', '1');
      await gate;
      throw new Error('rolled back');
    });
    await turn();
    const read = store.meta.get('n');
    const write = store.meta.set('other', 'x');
    await turn();
    release();
    await expect(writing).rejects.toThrow('rolled back');
    expect(await read, 'the read waited: it did not see the write that was rolled back').toBe('0');
    await write;
    expect(await store.meta.get('other'), 'a write from outside is not part of the transaction that rolled back').toBe('x');
  });

  it('a transaction fenced by a stale epoch writes nothing; the newer owner writes on', async () => {
    await fresh();
    const fence = (epoch: number) => ({ fence: { kind: 'p', partition: 3, epoch } });
    await store.tx((t) => t.meta.set('owner', 'epoch 1'), fence(1));
    await store.tx((t) => t.meta.set('owner', 'epoch 2'), fence(2));
    await expect(store.tx((t) => t.meta.set('owner', 'zombie'), fence(1))).rejects.toBeInstanceOf(StaleEpochError);
    await store.tx((t) => t.meta.set('owner', 'epoch 2 again'), fence(2));
    expect(await store.meta.get('owner')).toBe('epoch 2 again');
    expect(await store.fences.epoch('p', 3)).toBe(2);
    // Fences are per partition: another one's owner is not affected.
    await store.tx((t) => t.meta.set('other', 'epoch 1'), { fence: { kind: 'p', partition: 4, epoch: 1 } });
    expect(await store.meta.get('other')).toBe('epoch 1');
  });

  it("an old owner's transaction open when the new owner raises the fence ends first; the old owner's next is refused", async () => {
    await fresh();
    const fence = (epoch: number) => ({ fence: { kind: 'p', partition: 0, epoch } });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const order: string[] = [];
    const old = store.tx(async (t) => {
      await gate;
      await t.meta.set('n', 'old');
      order.push('old commits');
    }, fence(1));
    await turn();
    const taking = store.tx(async (t) => {
      order.push('new writes');
      await t.meta.set('n', 'new');
    }, fence(2));
    await turn();
    release();
    await Promise.all([old, taking]);
    expect(order, 'the fence row serialises the two owners').toEqual(['old commits', 'new writes']);
    expect(await store.meta.get('n')).toBe('new');
    await expect(store.tx((t) => t.meta.set('n', 'late'), fence(1))).rejects.toBeInstanceOf(StaleEpochError);
  });

  // Other nodes hear of a change through PostgreSQL (their caches and followers); SQLite has one process.
  it.runIf(backend === POSTGRES)('tells listeners of a committed timeline entry and of a changed silence, override, tenant or key table', async () => {
    await fresh();
    const heard: string[] = [];
    store.listen('timeline', () => void heard.push('timeline'));
    store.listen('config', (table) => void heard.push(`config ${table}`));
    // The listening connection comes up in the background: notify until it hears.
    await waitFor('the listener to be up', async () => {
      await store.tenants.save('probe', { id: 'probe' }, 'admin', 0);
      return heard.includes('config tenants') || undefined;
    });
    heard.length = 0;
    const id = await store.silences.insert({ matchers: {}, startsAt: 0, endsAt: 1, recurrence: undefined, comment: 'c' }, 'admin', 0);
    await store.tx(async (t) => {
      const inc = await t.incidents.insert({ groupKey: 'g', tenant: 'acme', region: 'eu', title: 't', priority: 'P1', silenced: false, at: 0 });
      await t.incidents.addEntry(inc, 0, 'qoswatch', 'opened', undefined);
      await t.silences.delete(id, 'admin', 1);
    });
    // A probe's notification may still come in late: the tenants table is not what this checks.
    const changes = () => heard.filter((h) => h !== 'config tenants').sort();
    await waitFor('both notifications', () => (changes().length >= 3 ? true : undefined));
    expect(changes()).toEqual(['config silences', 'config silences', 'timeline']);
  });

  // One connection: SQLite's transactions take turns (PostgreSQL's run side by side, each on its own connection).
  it.runIf(backend === SQLITE)('runs transactions one after the other, in the order they were asked for', async () => {
    await fresh();
    const order: string[] = [];
    const one = (name: string) =>
      store.tx(async (t) => {
        order.push(`${name} begins`);
        await turn();
        await t.meta.set('last', name);
        order.push(`${name} ends`);
      });
    await Promise.all([one('a'), one('b'), one('c')]);
    expect(order).toEqual(['a begins', 'a ends', 'b begins', 'b ends', 'c begins', 'c ends']);
    expect(await store.meta.get('last')).toBe('c');
  });

  it('a transaction inside one is a savepoint: its failure undoes its own writes only', async () => {
    await fresh();
    await store.tx(async (t) => {
      await t.meta.set('outer', 'kept');
      await expect(
        t.tx(async (inner) => {
          await inner.meta.set('inner', 'undone');
          throw new Error('inner refused');
        }),
      ).rejects.toThrow('inner refused');
      await t.tx(async (inner) => inner.meta.set('second', 'kept'));
    });
    expect([await store.meta.get('outer'), await store.meta.get('inner'), await store.meta.get('second')]).toEqual(['kept', undefined, 'kept']);
  });

  it.runIf(backend === SQLITE)('the outer store called from inside a transaction throws (it would wait for that transaction forever)', async () => {
    await fresh();
    await expect(store.tx(async () => store.meta.get('x'))).rejects.toThrow(/inside a transaction/);
    // Work a transaction only schedules runs after it ended: that is not a call from inside.
    let later: Promise<string | undefined> | undefined;
    await store.tx(async (t) => {
      await t.meta.set('x', 'committed');
      setImmediate(() => {
        later = store.meta.get('x');
      });
    });
    await turn();
    expect(await later).toBe('committed');
  });
});

import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Db } from '../../../../src/storage/sqlite.js';
import { SqliteStateStore } from '../../../../src/storage/state/sqlite-store.js';
import type { StateStore } from '../../../../src/storage/state/store.js';
import { openStateDb } from '../../../../src/storage/state-db.js';
import { tempDir } from '../../../helpers/tmp.js';

/** A store over a fresh database, and how to close it: each implementation of StateStore passes the same suite. */
interface Backend {
  name: string;
  open(): { store: StateStore; close(): void };
}

const sqlite: Backend = {
  name: 'SQLite',
  open() {
    const db: Db = openStateDb(join(tempDir('state-store'), 'state.db'));
    return { store: new SqliteStateStore(db), close: () => db.close() };
  },
};

/** A turn of the event loop: what a transaction waits on while other callers come in. */
const turn = () => new Promise((r) => setImmediate(r));

describe.each([sqlite])('StateStore on $name', (backend) => {
  let store: StateStore;
  let close = () => {};
  const fresh = () => {
    ({ store, close } = backend.open());
  };
  afterEach(() => close());

  it('stores all writes of a transaction, or none when it throws', async () => {
    fresh();
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
    fresh();
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

  it('runs transactions one after the other, in the order they were asked for', async () => {
    fresh();
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
    fresh();
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

  it('the outer store called from inside a transaction throws (it would wait for that transaction forever)', async () => {
    fresh();
    await expect(store.tx(async () => store.meta.get('x'))).rejects.toThrow(/inside a transaction/);
    // Work a transaction only schedules runs after it ended: that is not a call from inside.
    let later: Promise<string | undefined> | undefined;
    await store.tx(async (t) => {
      await t.meta.set('x', 'committed');
      setImmediate(() => (later = store.meta.get('x')));
    });
    await turn();
    expect(await later).toBe('committed');
  });
});

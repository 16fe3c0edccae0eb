import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StateStore } from '../../../../src/storage/state/store.js';
import type { UserRecord } from '../../../../src/storage/state/users.js';
import { BACKENDS } from '../../../helpers/backends.js';

const T0 = Date.UTC(2026, 11, 5, 12);
const user = (id: string, over: Partial<UserRecord> = {}): UserRecord => ({
  id, name: id, email: undefined, role: 'responder', tenant: undefined, password: undefined, source: 'api', createdAt: T0, updatedAt: T0, disabledAt: undefined, ...over,
});

describe.each(BACKENDS)('accounts repositories on $name', (backend) => {
  let store: StateStore;
  let close: () => Promise<void>;
  beforeEach(async () => {
    ({ store, close } = await backend.open());
  });
  afterEach(() => close());

  it('users: an id is taken once; emails match in any case; disabled users are not counted', async () => {
    expect(await store.users.insert(user('anna', { email: 'Anna@Example.com', role: 'admin' }))).toBe(true);
    expect(await store.users.insert(user('anna'))).toBe(false);
    await store.users.insert(user('tom', { role: 'admin', disabledAt: T0 }));
    expect((await store.users.byEmail('anna@example.COM')).map((u) => u.id)).toEqual(['anna']);
    expect(await store.users.count('admin')).toBe(1);
    await store.users.update({ ...(await store.users.get('anna'))!, role: 'viewer', email: undefined, updatedAt: T0 + 1 });
    expect(await store.users.get('anna')).toEqual(user('anna', { role: 'viewer', updatedAt: T0 + 1 }));
    expect((await store.users.list()).map((u) => u.id)).toEqual(['anna', 'tom']);
  });

  it('sessions expire, move on use, and end for one user at once; tokens are revoked by their owner only', async () => {
    await store.sessions.insert({ sha256: 'a', userId: 'anna', csrf: 'c1', createdAt: T0, seenAt: T0, expiresAt: T0 + 1000 });
    await store.sessions.insert({ sha256: 'b', userId: 'anna', csrf: 'c2', createdAt: T0, seenAt: T0, expiresAt: T0 + 1000 });
    await store.sessions.insert({ sha256: 'c', userId: 'tom', csrf: 'c3', createdAt: T0, seenAt: T0, expiresAt: T0 + 1000 });
    expect(await store.sessions.get('a', T0 + 1000)).toBeUndefined();
    await store.sessions.touch('a', T0 + 900, T0 + 5000);
    expect(await store.sessions.get('a', T0 + 1000)).toMatchObject({ userId: 'anna', csrf: 'c1', seenAt: T0 + 900, expiresAt: T0 + 5000 });
    await store.sessions.deleteForUser('anna');
    expect(await store.sessions.get('a', T0)).toBeUndefined();
    expect(await store.sessions.get('c', T0)).toBeDefined();
    expect(await store.sessions.prune(T0 + 1000)).toBe(1);

    await store.sessions.insertToken({ id: 'p1', userId: 'anna', name: 'cli', sha256: 'h1', createdAt: T0, usedAt: undefined });
    await store.sessions.tokenUsed('p1', T0 + 5);
    expect(await store.sessions.token('h1')).toEqual({ id: 'p1', userId: 'anna', name: 'cli', sha256: 'h1', createdAt: T0, usedAt: T0 + 5 });
    expect(await store.sessions.revokeToken('tom', 'p1', T0)).toBe(false);
    expect(await store.sessions.revokeToken('anna', 'p1', T0)).toBe(true);
    expect(await store.sessions.token('h1')).toBeUndefined();
    expect(await store.sessions.tokens('anna')).toEqual([]);
  });

  it('share links: found by secret hash until revoked, per tenant', async () => {
    await store.shareLinks.insert({ id: 's1', tenant: 'acme', name: 'public', sha256: 'h', summaryOnly: true, createdBy: 'anna', createdAt: T0 });
    expect(await store.shareLinks.bySecret('h')).toEqual({ id: 's1', tenant: 'acme', name: 'public', sha256: 'h', summaryOnly: true, createdBy: 'anna', createdAt: T0 });
    expect(await store.shareLinks.revoke('other', 's1', T0)).toBe(false);
    expect((await store.shareLinks.list('acme')).map((l) => l.id)).toEqual(['s1']);
    expect(await store.shareLinks.revoke('acme', 's1', T0)).toBe(true);
    expect(await store.shareLinks.bySecret('h')).toBeUndefined();
  });

  it('audit log: newest first, paged by id, filtered by target and by an action prefix taken literally', async () => {
    const a = await store.audit.insert({ at: T0, actor: 'anna', action: 'silence.create', target: 'silence:1', before: undefined, after: { comment: 'x' } });
    await store.audit.insert({ at: T0 + 1, actor: 'anna', action: 'silence_x', target: 'silence:2', before: { a: 1 }, after: undefined });
    const c = await store.audit.insert({ at: T0 + 2, actor: 'tom', action: 'user.update', target: 'user:anna', before: { role: 'viewer' }, after: { role: 'admin' } });
    expect(a).toEqual({ id: a.id, at: T0, actor: 'anna', action: 'silence.create', target: 'silence:1', before: undefined, after: { comment: 'x' } });
    expect((await store.audit.list({ limit: 10 })).map((e) => e.action)).toEqual(['user.update', 'silence_x', 'silence.create']);
    expect((await store.audit.list({ limit: 10, before: c.id })).map((e) => e.action)).toEqual(['silence_x', 'silence.create']);
    // '_' is a LIKE wildcard: a prefix matches only itself.
    expect((await store.audit.list({ limit: 10, action: 'silence.' })).map((e) => e.action)).toEqual(['silence.create']);
    expect((await store.audit.list({ limit: 10, action: 'silence_' })).map((e) => e.action)).toEqual(['silence_x']);
    expect((await store.audit.list({ limit: 10, target: 'user:anna' })).map((e) => e.actor)).toEqual(['tom']);
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CalendarFeedRecord } from '../../../../src/storage/state/calendar-feeds.js';
import type { StateStore } from '../../../../src/storage/state/store.js';
import { BACKENDS } from '../../../helpers/backends.js';

const T0 = Date.UTC(2026, 11, 5, 12);
const feed = (id: string, over: Partial<CalendarFeedRecord> = {}): CalendarFeedRecord => ({
  id, kind: 'person', target: 'anna', name: undefined, sha256: `h-${id}`, createdBy: 'anna', createdAt: T0, ...over,
});

describe.each(BACKENDS)('calendar feeds repository on $name', (backend) => {
  let store: StateStore;
  let close: () => Promise<void>;
  beforeEach(async () => {
    ({ store, close } = await backend.open());
  });
  afterEach(() => close());

  it('finds a feed by its secret hash and id until it is revoked; lists live feeds oldest first', async () => {
    await store.calendarFeeds.insert(feed('c2', { kind: 'schedule', target: 'primary', name: 'team wall', createdBy: 'admin', createdAt: T0 + 1 }));
    await store.calendarFeeds.insert(feed('c1'));
    expect(await store.calendarFeeds.bySecret('h-c2')).toEqual(feed('c2', { kind: 'schedule', target: 'primary', name: 'team wall', createdBy: 'admin', createdAt: T0 + 1 }));
    expect((await store.calendarFeeds.list()).map((f) => f.id)).toEqual(['c1', 'c2']);
    await expect(store.calendarFeeds.insert(feed('c3', { sha256: 'h-c1' })), 'a secret hash is unique').rejects.toThrow();

    expect(await store.calendarFeeds.revoke('c1', T0 + 5)).toBe(true);
    expect(await store.calendarFeeds.revoke('c1', T0 + 6), 'revoked once').toBe(false);
    expect(await store.calendarFeeds.bySecret('h-c1')).toBeUndefined();
    expect(await store.calendarFeeds.get('c1')).toBeUndefined();
    expect(await store.calendarFeeds.get('c2')).toMatchObject({ id: 'c2', target: 'primary' });
    expect((await store.calendarFeeds.list()).map((f) => f.id)).toEqual(['c2']);
  });
});

import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../src/incidents/bus.js';
import { TimelineFollower } from '../../src/incidents/follower.js';
import { Incidents } from '../../src/incidents/incidents.js';
import type { IncidentEvent, TimelineKind } from '../../src/incidents/model.js';
import type { Sql } from '../../src/storage/state/sql.js';
import type { StateStore } from '../../src/storage/state/store.js';
import { BACKENDS } from '../helpers/backends.js';
import { waitFor } from '../helpers/ports.js';

/**
 * The follower of the incident timeline (the pager's and the tickets' hand-off) over a real database (SQLite,
 * PostgreSQL). A consumer "dying" mid-handle is a handler that throws after its writes: in one transaction with the
 * cursor, that is what a kill -9 before the commit leaves on disk (nothing of either); without one, its writes stay
 * and the cursor does not.
 */

const T0 = Date.UTC(2030, 0, 7, 12);
const KINDS = new Set<TimelineKind>(['commented']);
const log = pino({ level: 'silent' });

describe.each(BACKENDS)('TimelineFollower on $name', (backend) => {
  let store: StateStore;
  let sql: Sql;
  let close: () => Promise<void>;
  let incidents: Incidents;
  let bus: EventBus<IncidentEvent>;
  let followers: TimelineFollower[];
  /** How many times a handler was called so far: the effects' order. */
  let calls: number;

  beforeEach(async () => {
    ({ store, sql, close } = await backend.open());
    incidents = new Incidents(store, { groupBy: ['tenant', 'region'], reopenMs: 0, silenced: () => false });
    bus = new EventBus((err) => {
      if (!(err instanceof Error && err.message === 'killed')) throw err;
    });
    followers = [];
    calls = 0;
  });
  afterEach(async () => {
    for (const f of followers) await f.stop();
    await close();
  });

  /**
   * A started follower (caught up) whose handler records an effect per event; `dies` makes a call throw after writing
   * its effect. The effect is written through the store of the transaction the follower handles the event in (a meta
   * row of its own per call: on PostgreSQL that transaction has a connection of its own, which only that store
   * reaches), so it commits or rolls back with the cursor.
   */
  async function follower(dies: (e: IncidentEvent) => boolean = () => false, pollMs?: number): Promise<TimelineFollower> {
    const f = new TimelineFollower('test', { state: store, incidents, bus, log, pollMs }, KINDS, async (e, t) => {
      await t.meta.set(`effect:${String(++calls).padStart(6, '0')}`, String(e.entry.id));
      if (dies(e)) throw new Error('killed');
    });
    followers.push(f);
    await f.start();
    return f;
  }

  /** Waits until the running follower's cursor is at entry `id` or past it: it handles events after their publisher returns. */
  const passed = (id: number) => waitFor(`the follower past entry ${id}`, async () => ((await store.cursors.get('test')) ?? 0) >= id || undefined);

  /** The entries of the effects on disk, in the order they were written. */
  const effects = async () => (await sql.all<{ value: string }>("SELECT value FROM meta WHERE key LIKE 'effect:%' ORDER BY key")).map((r) => Number(r.value));

  /** An incident of its own and a comment on it, committed and published as the API does (unless `publish` is false: another node's write). */
  async function comment(text: string, publish = true): Promise<number> {
    const { id } = (await sql.get<{ id: number }>("INSERT INTO incidents (group_key, tenant, title, state, priority, opened_at, updated_at) VALUES (?, 'acme', 't', 'open', 'P1', ?, ?) RETURNING id", `g-${text}`, T0, T0))!;
    const e = await incidents.comment(id, 'alice', text, T0);
    if (publish) bus.emit(e);
    return e.entry.id;
  }

  it('handles entries another node committed (no event on this bus): woken by the store on PostgreSQL, by its poll on SQLite', async () => {
    // PostgreSQL's notification must do it: its poll is far longer than the wait below. Its listening connection comes
    // up in the background, so entries are committed until one wakes the follower: then every one of them is handled,
    // those committed before it could hear included.
    await follower(undefined, backend.name === 'PostgreSQL' ? 600_000 : 50);
    const committed: number[] = [];
    await waitFor('the follower past the latest entry', async () => {
      committed.push(await comment(`elsewhere ${committed.length}`, false));
      await new Promise((r) => setTimeout(r, 100));
      return ((await store.cursors.get('test')) ?? 0) >= committed.at(-1)! || undefined;
    }, 5000);
    expect(await effects()).toEqual(committed);
  });

  it('retries an entry whose handler fails, then passes over it (logged): later entries are not held up forever', async () => {
    const f = await follower((e) => e.entry.data?.text === 'poison', 20);
    const bad = await comment('poison');
    const good = await comment('after it');
    await passed(good);
    await f.idle();
    expect(await effects(), 'the poison entry was never handled (its effects rolled back each time); the next one was').toEqual([good]);
    expect(calls, 'three attempts at the poison entry, one at the next').toBe(4);
    expect(bad).toBeLessThan(good);
  });

  it('handles each event once across a death between its effects and the cursor: both commit together or neither', async () => {
    const first = await follower((e) => e.entry.data?.text === 'second');
    const a = await comment('first');
    const b = await comment('second'); // the consumer dies handling this one
    await first.stop(); // waits for the events it took
    expect(await effects(), 'the effects of the event it died on are not on disk').toEqual([a]);

    await follower(); // the restart
    expect(await effects(), 'after the restart every event has been handled exactly once').toEqual([a, b]);
    const c = await comment('third');
    await passed(c);
    expect(await effects()).toEqual([a, b, c]);
  });

  it('replays after a restart only what was committed after the cursor, and nothing when it was all handled', async () => {
    const first = await follower();
    const a = await comment('first');
    await first.stop();
    const missed = await comment('while down'); // committed, never delivered to a follower
    await follower();
    expect(await effects()).toEqual([a, missed]);
    await followers.at(-1)!.stop();
    await follower();
    expect(await effects()).toEqual([a, missed]);
  });
});

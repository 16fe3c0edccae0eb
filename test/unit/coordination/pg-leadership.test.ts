import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { PgLeadership } from '../../../src/coordination/pg-leadership.js';
import { PG_URL } from '../../helpers/postgres.js';
import { waitFor } from '../../helpers/ports.js';

const silent = { error: () => {}, warn: () => {}, info: () => {} };

/** A node of a cluster whose one duty records when it runs. */
function node(name: string, lockKey: number, log: string[]) {
  const l = new PgLeadership({ url: PG_URL!, lockKey, checkMs: 100, timeoutMs: 2000 }, silent);
  l.duty('record', { start: () => void log.push(`${name} starts`), stop: () => void log.push(`${name} stops`) });
  return l;
}

/** The backend process holding the advisory lock `key`. */
async function holder(key: number): Promise<number | undefined> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    // An advisory lock on a bigint key shows as classid (high 32 bits) and objid (low 32 bits), objsubid 1.
    const r = await c.query<{ pid: number }>(
      "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $1",
      [key],
    );
    return r.rows[0]?.pid;
  } finally {
    await c.end();
  }
}

async function terminate(pid: number): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  await c.query('SELECT pg_terminate_backend($1)', [pid]);
  await c.end();
}

describe.runIf(PG_URL)('PgLeadership (PostgreSQL advisory lock)', () => {
  const nodes: PgLeadership[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop();
  });

  /** Two nodes of a cluster of their own, started a then b; what their duties did. */
  async function twoStarted() {
    const key = 900_000_000 + Math.floor(Math.random() * 1e6);
    const log: string[] = [];
    const a = node('a', key, log);
    const b = node('b', key, log);
    nodes.push(a, b);
    await a.start();
    await b.start();
    return { key, log, a, b };
  }

  it('one node of two leads; stopping it hands the lead to the other, whose duties then start', async () => {
    const { log, a, b } = await twoStarted();
    expect([a.isLeader(), b.isLeader()]).toEqual([true, false]);
    expect(log).toEqual(['a starts']);
    await a.stop();
    await waitFor('b leads', () => b.isLeader() || undefined, 5000);
    expect(log).toEqual(['a starts', 'a stops', 'b starts']);
  });

  it('a leader whose lock session dies (terminated by the server) stops its duties; the other node takes over', async () => {
    const { key, log, a, b } = await twoStarted();
    const pid = await holder(key);
    expect(pid, 'the lock is held by a session').toBeDefined();
    await terminate(pid!);
    await waitFor('a steps down and b leads', () => (!a.isLeader() && b.isLeader()) || undefined, 5000);
    expect(log).toEqual(['a starts', 'a stops', 'b starts']);
    expect(a.changes, 'a gained and lost the lead').toBe(2);
    // The node that lost the lead campaigns again and wins it back once the leader is gone.
    await b.stop();
    await waitFor('a leads again', () => a.isLeader() || undefined, 5000);
    expect(log.at(-1)).toBe('a starts');
  });
});

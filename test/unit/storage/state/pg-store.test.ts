import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { PgStateStore } from '../../../../src/storage/state/pg/store.js';
import { PG_URL, freshSchema } from '../../../helpers/postgres.js';

describe.runIf(PG_URL)('PgStateStore', () => {
  it('a connection the server cut while it sat in the pool fails one transaction at most, never the next ones', async () => {
    const { schema, drop } = freshSchema();
    const app = `qoswatch-test-${schema}`;
    const store = await PgStateStore.open({ url: `${PG_URL}?application_name=${app}`, schema, max: 1 });
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      for (let round = 0; round < 5; round++) {
        await store.tx((t) => t.meta.set('k', String(round)));
        await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [app]);
        const outcomes: string[] = [];
        for (let i = 0; i < 4; i++) outcomes.push(await store.tx((t) => t.meta.get('k')).then((v) => `ok ${v}`, (e: Error) => e.message.slice(0, 40)));
        expect(outcomes.slice(1), JSON.stringify(outcomes)).toEqual([`ok ${round}`, `ok ${round}`, `ok ${round}`]);
      }
    } finally {
      await admin.end();
      await store.close();
      await drop();
    }
  });

  it('a connection the server cuts in the middle of a transaction fails that transaction, and does not crash the process', async () => {
    const { schema, drop } = freshSchema();
    const app = `qoswatch-test-mid-${schema}`;
    const store = await PgStateStore.open({ url: `${PG_URL}?application_name=${app}`, schema, max: 1 });
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      const tx = store.tx(async (t) => {
        await t.meta.set('k', 'v');
        // Between two statements (the client checked out, no query running), the server ends the session.
        await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [app]);
        await new Promise((r) => setTimeout(r, 200));
        return t.meta.get('k');
      });
      await expect(tx).rejects.toThrow();
      await expect(store.tx((t) => t.meta.get('k')), 'the cut transaction stored nothing; the next works').resolves.toBeUndefined();
    } finally {
      await admin.end();
      await store.close();
      await drop();
    }
  });
});

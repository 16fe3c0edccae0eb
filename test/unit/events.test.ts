import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileConfigSchema } from '../../src/config/file.js';
import { Events, READINESS_CLAIM_MS, READINESS_RETRY_MS } from '../../src/events/events.js';
import { type ReadinessDeps, sendDueReadiness } from '../../src/events/readiness.js';
import { Incidents } from '../../src/incidents/incidents.js';
import { EmailSender } from '../../src/notify/email.js';
import { EMPTY_ONCALL } from '../../src/oncall/config.js';
import { OnCallService } from '../../src/oncall/oncall.js';
import { PgStateStore } from '../../src/storage/state/pg/store.js';
import type { Sql } from '../../src/storage/state/sql.js';
import { SqliteStateStore } from '../../src/storage/state/sqlite-store.js';
import type { StateStore } from '../../src/storage/state/store.js';
import { openStateDb } from '../../src/storage/state-db.js';
import { Tenants } from '../../src/tenants/tenants.js';
import { BACKENDS, type Backend, SQLITE } from '../helpers/backends.js';
import { PG_URL } from '../helpers/postgres.js';
import { SmtpSink } from '../helpers/smtp.js';

const H = 3_600_000;
const T0 = Date.UTC(2030, 0, 7, 12, 0, 0);
const quiet = { info() {}, warn() {} };

/** A sink of its own per test (it keeps every mail it took). */
let smtp: SmtpSink;
beforeEach(() => {
  smtp = new SmtpSink();
});
afterEach(async () => {
  smtp.hold = undefined;
  await smtp.stop();
});

/**
 * A second state store on the database `sql` is on, as another process opens it: a connection of its own to the
 * same state db file (SQLite), a pool of its own on the same schema (PostgreSQL).
 */
async function sameDatabase(backend: Backend, sql: Sql): Promise<{ store: StateStore; close(): Promise<void> }> {
  if (backend === SQLITE) {
    const { file } = (await sql.get<{ file: string }>("SELECT file FROM pragma_database_list WHERE name = 'main'"))!;
    const db = openStateDb(file);
    return {
      store: new SqliteStateStore(db),
      async close() {
        db.close();
      },
    };
  }
  const { schema } = (await sql.get<{ schema: string }>('SELECT current_schema() AS schema'))!;
  const store = await PgStateStore.open({ url: PG_URL!, schema, max: 4 });
  return { store, close: () => store.close() };
}

/** One runner of readiness reports over the state store `store` (another process would be another such runner). */
async function runner(store: StateStore, clock: () => number): Promise<ReadinessDeps & { close(): void }> {
  const tenants = new Tenants(fileConfigSchema.parse({ tenants: [{ id: 'default', contacts: [{ name: 'NOC', email: 'noc@acme.example' }] }] }));
  const mailer = new EmailSender(smtp.url, 'qoswatch <qoswatch@localhost>', 10_000);
  return {
    events: new Events(store.events), tenant: (id) => tenants.get(id), oncall: await OnCallService.load(store.overrides, EMPTY_ONCALL),
    incidents: new Incidents(store, { groupBy: ['tenant', 'region'], reopenMs: 600_000, silenced: () => false }),
    influx: undefined, rules: () => [], mailer, grafanaUrl: undefined, clock, log: quiet,
    close: () => mailer.close(),
  };
}

describe.each(BACKENDS)('readiness reports over one state db on $name', (backend) => {
  let store: StateStore;
  let sql: Sql;
  /** Closed after each test, the last first. */
  let closing: (() => Promise<void>)[];
  beforeEach(async () => {
    const opened = await backend.open();
    ({ store, sql } = opened);
    closing = [opened.close];
  });
  afterEach(async () => {
    for (const close of closing.reverse()) await close();
  });

  it('two runners that find the same report due send it once: the first claims it, the other leaves it', async () => {
    await smtp.start();
    const other = await sameDatabase(backend, sql);
    closing.push(other.close);
    let now = T0;
    const a = await runner(store, () => now);
    const b = await runner(other.store, () => now);
    await a.events.create({ tenant: 'default', name: 'Gala', regions: [], starts_at: T0 + 2 * H, ends_at: T0 + 4 * H, factor: 0.5, readiness_lead: 3 * H }, 'admin', now);
    let release!: () => void;
    smtp.hold = new Promise<void>((r) => (release = r));
    const sends = [sendDueReadiness(a), sendDueReadiness(b)];
    await new Promise((r) => setTimeout(r, 200));
    release();
    await Promise.all(sends);
    expect(smtp.mails.map((m) => m.subject)).toEqual([expect.stringContaining('Gala')]);
    expect(await a.events.get(1)).toMatchObject({ readinessSentAt: T0, readinessAttempts: 1 });
    now += 24 * H;
    await sendDueReadiness(b);
    expect(smtp.mails).toHaveLength(1);
    a.close();
    b.close();
  });

  it('a report whose runner died mid-send is due again once the claim has run out, not before; each attempt counts', async () => {
    const events = new Events(store.events);
    const e = await events.create({ tenant: 'default', name: 'Gala', regions: [], starts_at: T0 + 2 * H, ends_at: T0 + 4 * H, factor: 0.5, readiness_lead: 3 * H }, 'admin', T0);
    expect((await events.claimReadiness(T0)).map((c) => c.event.id)).toEqual([e.id]); // this runner dies
    expect(await events.claimReadiness(T0 + READINESS_CLAIM_MS - 1)).toEqual([]);
    const [again] = await events.claimReadiness(T0 + READINESS_CLAIM_MS);
    expect(again!.event).toMatchObject({ id: e.id, readinessAttempts: 2, readinessAt: T0 - H });
    await events.readinessFailed(again!, 'SMTP 451', T0 + READINESS_CLAIM_MS);
    expect(await events.claimReadiness(T0 + READINESS_CLAIM_MS + READINESS_RETRY_MS - 1)).toEqual([]);
    const [third] = await events.claimReadiness(T0 + READINESS_CLAIM_MS + READINESS_RETRY_MS);
    await events.readinessSent(third!, T0 + H);
    expect(await events.get(e.id)).toMatchObject({ readinessSentAt: T0 + H, readinessAttempts: 3, readinessError: undefined });
    // the dead runner's late outcome changes nothing: its claim is gone
    await events.readinessFailed({ event: e, until: T0 + READINESS_CLAIM_MS }, 'late', T0 + 2 * H);
    expect(await events.get(e.id)).toMatchObject({ readinessSentAt: T0 + H, readinessError: undefined });
    expect(await events.claimReadiness(T0 + 3 * H)).toEqual([]);
  });
});

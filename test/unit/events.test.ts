import { afterEach, describe, expect, it } from 'vitest';
import { fileConfigSchema } from '../../src/config/file.js';
import { Events, READINESS_CLAIM_MS, READINESS_RETRY_MS } from '../../src/events/events.js';
import { type ReadinessDeps, sendDueReadiness } from '../../src/events/readiness.js';
import { Incidents } from '../../src/incidents/incidents.js';
import { EmailSender } from '../../src/notify/email.js';
import { EMPTY_ONCALL } from '../../src/oncall/config.js';
import { OnCallService } from '../../src/oncall/oncall.js';
import { openStateDb } from '../../src/storage/state-db.js';
import { Tenants } from '../../src/tenants/tenants.js';
import { SmtpSink } from '../helpers/smtp.js';
import { tempDir } from '../helpers/tmp.js';
import { incidentsOn, stateOn } from '../helpers/state.js';

const H = 3_600_000;
const T0 = Date.UTC(2030, 0, 7, 12, 0, 0);
const quiet = { info() {}, warn() {} };

const smtp = new SmtpSink();
afterEach(async () => {
  smtp.hold = undefined;
  await smtp.stop();
});

/** One runner of readiness reports over the state db at `path` (another process would be another such runner). */
async function runner(path: string, clock: () => number): Promise<ReadinessDeps & { close(): void }> {
  const db = openStateDb(path);
  const tenants = new Tenants(fileConfigSchema.parse({ tenants: [{ id: 'default', contacts: [{ name: 'NOC', email: 'noc@acme.example' }] }] }));
  const mailer = new EmailSender(smtp.url, 'qoswatch <qoswatch@localhost>', 10_000);
  return {
    events: new Events(stateOn(db).events), tenant: (id) => tenants.get(id), oncall: await OnCallService.load(stateOn(db).overrides, EMPTY_ONCALL),
    incidents: incidentsOn(db, { groupBy: ['tenant', 'region'], reopenMs: 600_000, silenced: () => false }),
    influx: undefined, rules: () => [], mailer, grafanaUrl: undefined, clock, log: quiet,
    close: () => {
      mailer.close();
      db.close();
    },
  };
}

describe('readiness reports over one state db', () => {
  it('two runners that find the same report due send it once: the first claims it, the other leaves it', async () => {
    await smtp.start();
    const path = `${tempDir('qoswatch-events')}/state.db`;
    let now = T0;
    const a = await runner(path, () => now);
    const b = await runner(path, () => now);
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
    const db = openStateDb(':memory:');
    const events = new Events(stateOn(db).events);
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

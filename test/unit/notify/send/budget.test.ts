import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Incidents } from '../../../../src/incidents/incidents.js';
import { Metrics } from '../../../../src/metrics.js';
import { Outbox } from '../../../../src/notify/outbox.js';
import type { OutboxItem, OutboxRow } from '../../../../src/storage/state/outbox.js';
import { BudgetStage } from '../../../../src/notify/send/budget.js';
import { Notes } from '../../../../src/notify/send/notes.js';
import type { Priority } from '../../../../src/shared/priority.js';
import type { Sql } from '../../../../src/storage/state/sql.js';
import type { StateStore } from '../../../../src/storage/state/store.js';
import { BACKENDS } from '../../../helpers/backends.js';

/** The budget stage over a real outbox, incidents and storms, on each state store backend. */

const H = 3_600_000;
const T0 = Date.UTC(2030, 0, 7, 12);
/** Two pages per tenant per hour. */
const BUDGET = { max: 2, windowMs: H };

/** A page of incident `inc` to team channel `channel` (each channel its own lane). */
const item = (inc: number, channel: string, o: { tenant?: string; priority?: Priority; key?: string; stormId?: number } = {}): OutboxItem => ({
  key: o.key ?? `${inc}:g1:s0:#${channel}:${channel}`, incidentId: inc, kind: 'opened', recipient: `#${channel}`, channel, payload: '{}',
  priority: o.priority ?? 'P1', tenant: o.tenant ?? 'acme', stormId: o.stormId,
});

/** A customer update (not a page) by email to a plain address. */
const update = (n: number, tenant = 'acme'): OutboxItem => ({
  key: `ticket:T-${n}:update:1:mailto:noc${n}@customer.example:email`, incidentId: 0, kind: 'updated', recipient: `mailto:noc${n}@customer.example`, channel: 'email', payload: '{}', priority: 'P2', tenant,
});

describe.each(BACKENDS)('BudgetStage on $name', (backend) => {
  let sql: Sql;
  let close = async () => {};
  let outbox: Outbox;
  let incidents: Incidents;
  let storms: StateStore['storms'];
  let metrics: Metrics;
  let budget: BudgetStage;

  beforeEach(async () => {
    let store: StateStore;
    ({ store, sql, close } = await backend.open());
    outbox = new Outbox(store, { baseMs: 1000, capMs: 60_000, maxAttempts: 5 });
    incidents = new Incidents(store, { groupBy: ['tenant', 'region'], reopenMs: 0, silenced: () => false });
    storms = store.storms;
    metrics = new Metrics();
    budget = new BudgetStage({ outbox, metrics, notes: new Notes(incidents, store) }, BUDGET);
  });
  afterEach(() => close());

  /** An open incident of `tenant`; returns its id. */
  async function incident(tenant = 'acme'): Promise<number> {
    const r = await sql.get<{ id: number }>("INSERT INTO incidents (group_key, tenant, title, state, priority, opened_at, updated_at) VALUES (?, ?, 't', 'open', 'P1', ?, ?) RETURNING id", `g-${Math.random()}`, tenant, T0, T0);
    return r!.id;
  }

  /** Enqueues and sends an item at `at` (claimed then delivered), outside any pass. */
  async function sent(i: OutboxItem, at: number): Promise<OutboxRow> {
    const [r] = await outbox.enqueue([i], at);
    expect((await outbox.claimDue(at, { busy: new Set() })).map((c) => c.id)).toEqual([r!.id]);
    await outbox.delivered(r!.id, at);
    return r!;
  }

  /** One dispatch pass as the sender runs it: claim what the budget admits, then record what it holds. */
  async function pass(now: number): Promise<OutboxRow[]> {
    const p = budget.pass(now);
    const claimed = await outbox.claimDue(now, { admit: p.admit });
    for (const r of claimed) budget.claimed(r.id);
    await p.end();
    return claimed;
  }

  const heldNotes = async (inc: number) => (await incidents.timeline(inc)).filter((e) => e.kind === 'page_held');
  async function heldMetric(tenant: string): Promise<number> {
    return (await metrics.pagesHeld.get()).values.find((v) => v.labels.tenant === tenant)?.value ?? 0;
  }

  describe('BudgetStage: admit', () => {
    it('admits within one pass the budget minus the pages sent in the period, counting pages being sent', async () => {
      const inc = await incident();
      await sent(item(inc, 'old-hook', { key: 'old' }), T0 - H); // out of the period (sent_at must be after now - 1 h)
      const s = await sent(item(inc, 'a-hook'), T0 - 10 * 60_000); // within it
      expect(s.tenant).toBe('acme');
      const p = budget.pass(T0);
      expect([await p.admit('acme'), await p.admit('acme'), await p.admit('acme')]).toEqual([true, false, false]);
      expect(await p.admit('globex'), "another tenant's budget is its own").toBe(true);

      // A page being sent counts as much as a delivered one.
      await outbox.enqueue([item(inc, 'b-hook')], T0);
      expect(await outbox.claimDue(T0)).toHaveLength(1);
      const q = budget.pass(T0);
      expect(await q.admit('acme')).toBe(false);
      expect(await budget.over('acme', T0)).toBe(true);
      // An hour after the first was sent, it no longer counts (the one being sent still does).
      expect(await budget.pass(T0 + 50 * 60_000).admit('acme')).toBe(true);
    });

    it('each pass counts afresh from the outbox', async () => {
      const p = budget.pass(T0);
      expect([await p.admit('acme'), await p.admit('acme'), await p.admit('acme')]).toEqual([true, true, false]);
      // Nothing was claimed: the next pass has the whole budget again.
      const q = budget.pass(T0);
      expect([await q.admit('acme'), await q.admit('acme')]).toEqual([true, true]);
    });

    it('the outbox claims only what admit allows, most urgent first', async () => {
      const inc = await incident();
      await outbox.enqueue([item(inc, 'a-hook', { priority: 'P2' }), item(inc, 'b-hook', { priority: 'P0' }), item(inc, 'c-hook', { priority: 'P1' })], T0);
      expect((await pass(T0)).map((r) => r.channel).sort()).toEqual(['b-hook', 'c-hook']);
      expect((await outbox.ofIncident(inc)).find((r) => r.channel === 'a-hook')?.state).toBe('pending');
    });

    it('customer updates (ticket:… keys) are not pages: neither counted nor held', async () => {
      const inc = await incident();
      await sent(update(1), T0 - 60_000);
      await sent(update(2), T0 - 60_000);
      expect(await budget.over('acme', T0)).toBe(false);
      const p = budget.pass(T0);
      expect([await p.admit('acme'), await p.admit('acme')]).toEqual([true, true]);

      // Over budget, a customer update still goes and is not recorded as held.
      await sent(item(inc, 'a-hook'), T0 - 60_000);
      await sent(item(inc, 'b-hook'), T0 - 60_000);
      await outbox.enqueue([update(3), item(inc, 'c-hook')], T0);
      expect((await pass(T0)).map((r) => r.recipient)).toEqual(['mailto:noc3@customer.example']);
      expect((await heldNotes(inc)).map((e) => e.data?.channel)).toEqual(['c-hook']);
      expect(await heldMetric('acme')).toBe(1);
    });
  });

  describe('BudgetStage: held pages are recorded once', () => {
    it('end() notes each held row on its timeline and in the metric once, across passes', async () => {
      const inc = await incident();
      const other = await incident('globex');
      await outbox.enqueue([item(inc, 'a-hook'), item(inc, 'b-hook'), item(inc, 'c-hook'), item(inc, 'd-hook'), item(other, 'e-hook', { tenant: 'globex' })], T0);
      const first = await pass(T0);
      expect(first.map((r) => r.channel).sort()).toEqual(['a-hook', 'b-hook', 'e-hook']);
      expect((await heldNotes(inc)).map((e) => [e.actor, e.at, e.data])).toEqual(
        ['c-hook', 'd-hook'].map((c) => ['qoswatch', T0, { recipient: `#${c}`, channel: c, kind: 'opened', reason: 'tenant acme has sent its page budget (2 per 1h); sent as the budget allows' }]),
      );
      expect(await heldMetric('acme')).toBe(2);
      expect(await heldMetric('globex')).toBe(0);
      expect(await heldNotes(other)).toEqual([]);

      // Later passes (the two pages still being sent, then delivered): no second note, no second count.
      expect(await pass(T0 + 1000)).toEqual([]);
      for (const r of first) await outbox.delivered(r.id, T0 + 2000);
      expect(await pass(T0 + 3000)).toEqual([]);
      expect(await heldNotes(inc)).toHaveLength(2);
      expect(await heldMetric('acme')).toBe(2);

      // A new page held: only it is added.
      await outbox.enqueue([item(inc, 'f-hook')], T0 + 4000);
      expect(await pass(T0 + 4000)).toEqual([]);
      expect((await heldNotes(inc)).map((e) => e.data?.channel)).toEqual(['c-hook', 'd-hook', 'f-hook']);
      expect(await heldMetric('acme')).toBe(3);
    });

    it('nothing is recorded when the budget is used up without holding anything back', async () => {
      const inc = await incident();
      await outbox.enqueue([item(inc, 'a-hook'), item(inc, 'b-hook')], T0);
      expect(await pass(T0)).toHaveLength(2);
      expect(await heldNotes(inc)).toEqual([]);
      expect(await heldMetric('acme')).toBe(0);
    });

    it('a held storm page is noted on every incident of the storm', async () => {
      const [a, b] = [await incident(), await incident()];
      const storm = await storms.open('acme', 'main', T0);
      await storms.join(storm.id, a, T0);
      await storms.join(storm.id, b, T0);
      await sent(item(a, 'x-hook'), T0 - 60_000);
      await sent(item(a, 'y-hook'), T0 - 60_000);
      await outbox.enqueue([item(0, 'a-hook', { key: `storm:${storm.id}:g1:s0:#a-hook:a-hook`, stormId: storm.id })], T0);
      expect(await pass(T0)).toEqual([]);
      for (const inc of [a, b]) expect((await heldNotes(inc)).map((e) => e.data)).toEqual([expect.objectContaining({ channel: 'a-hook', storm: storm.id })]);
      expect(await heldMetric('acme'), 'one page held, counted once').toBe(1);
    });

    it('a held row that was claimed since is recorded anew when the budget holds it again', async () => {
      const inc = await incident();
      const [, , c] = await outbox.enqueue([item(inc, 'a-hook'), item(inc, 'b-hook'), item(inc, 'c-hook')], T0);
      for (const r of await pass(T0)) await outbox.delivered(r.id, T0);
      expect((await heldNotes(inc)).map((e) => e.data?.channel)).toEqual(['c-hook']);

      // An hour on, the budget is free again: c goes (the pass does not use the budget up), then fails to be retried.
      const T1 = T0 + H + 1;
      expect((await pass(T1)).map((r) => r.id)).toEqual([c!.id]);
      expect(await outbox.failed(c!.id, 'HTTP 503', true, T1, () => 0)).toBe('pending');
      const retryAt = (await outbox.get(c!.id))!.nextAt;
      expect(retryAt).toBe(T1 + 500);

      // Two more urgent pages use the budget in the pass where c is due again: c is held again, and that is recorded.
      await outbox.enqueue([item(inc, 'a-hook', { key: 'p0-a', priority: 'P0' }), item(inc, 'b-hook', { key: 'p0-b', priority: 'P0' })], T1);
      expect((await pass(retryAt)).map((r) => r.key).sort()).toEqual(['p0-a', 'p0-b']);
      expect((await heldNotes(inc)).map((e) => [e.data?.channel, e.at])).toEqual([['c-hook', T0], ['c-hook', retryAt]]);
      expect(await heldMetric('acme')).toBe(2);
    });
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_RETRY, Outbox, backoffMs } from '../../../src/notify/outbox.js';
import { type OutboxItem, laneOf } from '../../../src/storage/state/outbox.js';
import type { StateStore } from '../../../src/storage/state/store.js';
import { BACKENDS } from '../../helpers/backends.js';

const T0 = Date.UTC(2026, 10, 23, 12);
const item = (recipient: string, channel = 'email', over: Partial<OutboxItem> = {}): OutboxItem => ({
  key: `7:opened:${recipient}:${channel}`, incidentId: 7, kind: 'opened', recipient, channel, payload: `{"to":"${recipient}"}`, priority: 'P1', tenant: 'acme', ...over,
});
const half = () => 0.5;

describe('backoffMs', () => {
  it('doubles from the base, caps, and jitters within [ceiling/2, ceiling]', () => {
    const p = { baseMs: 1000, capMs: 60_000, maxAttempts: 10 };
    expect([1, 2, 3, 4].map((n) => backoffMs(n, p, () => 0))).toEqual([500, 1000, 2000, 4000]);
    expect([1, 2, 3, 4].map((n) => backoffMs(n, p, () => 1))).toEqual([1000, 2000, 4000, 8000]);
    expect(backoffMs(20, p, () => 1)).toBe(60_000);
    expect(backoffMs(20, p, () => 0)).toBe(30_000);
  });
});

describe.each(BACKENDS)('Outbox on $name', (backend) => {
  let store: StateStore;
  let close: () => Promise<void>;
  let outbox: Outbox;
  beforeEach(async () => {
    ({ store, close } = await backend.open());
    outbox = new Outbox(store, { baseMs: 1000, capMs: 60_000, maxAttempts: 3 });
  });
  afterEach(() => close());

  it('enqueues each idempotency key once', async () => {
    expect(await outbox.enqueue([item('alice'), item('bob')], T0)).toHaveLength(2);
    expect((await outbox.enqueue([item('alice'), item('carol')], T0 + 1)).map((r) => r.recipient)).toEqual(['carol']);
    expect((await outbox.ofIncident(7)).map((r) => [r.recipient, r.state])).toEqual([['alice', 'pending'], ['bob', 'pending'], ['carol', 'pending']]);
  });

  it('claims due rows once, one per lane, and marks them delivered', async () => {
    await outbox.enqueue([item('alice'), item('bob')], T0);
    const claimed = await outbox.claimDue(T0);
    expect(claimed.map((r) => [r.recipient, r.state, r.attempts]).sort()).toEqual([['alice', 'sending', 1], ['bob', 'sending', 1]]);
    expect(await outbox.claimDue(T0)).toEqual([]); // nothing is handed out twice
    await outbox.delivered(claimed[0]!.id, T0 + 5);
    expect(await outbox.get(claimed[0]!.id)).toMatchObject({ state: 'delivered', sentAt: T0 + 5 });
    expect(await outbox.backlog()).toBe(1);
  });

  it('retries a retryable failure after the backoff, and gives up after maxAttempts', async () => {
    const [row] = await outbox.enqueue([item('alice')], T0);
    await outbox.claimDue(T0);
    expect(await outbox.failed(row!.id, 'HTTP 503', true, T0, half)).toBe('pending');
    expect(await outbox.get(row!.id)).toMatchObject({ state: 'pending', nextAt: T0 + 750, lastError: 'HTTP 503' });
    expect(await outbox.claimDue(T0 + 749)).toEqual([]);
    expect(await outbox.claimDue(T0 + 750)).toHaveLength(1);
    expect(await outbox.failed(row!.id, 'HTTP 503', true, T0 + 750, half)).toBe('pending');
    await outbox.claimDue(T0 + 10_000);
    expect(await outbox.failed(row!.id, 'HTTP 503', true, T0 + 10_000, half)).toBe('failed'); // third attempt was the last
    expect(await outbox.get(row!.id)).toMatchObject({ state: 'failed', attempts: 3 });
  });

  it('fails a permanent error at once', async () => {
    const [row] = await outbox.enqueue([item('alice', 'slack-noc')], T0);
    await outbox.claimDue(T0);
    expect(await outbox.failed(row!.id, 'invalid_token', false, T0)).toBe('failed');
  });

  it('after a crash, a row left sending is claimed again once its claim runs out, not before (same key); delivered ones never', async () => {
    outbox = new Outbox(store, DEFAULT_RETRY, 30_000);
    await outbox.enqueue([item('alice'), item('bob')], T0);
    const [a] = (await outbox.claimDue(T0)).filter((r) => r.recipient === 'alice');
    await outbox.delivered(a!.id, T0 + 1);
    // kill -9 here: bob's row is still "sending". A new process (a sender of its own) over the same database:
    outbox = new Outbox(store, DEFAULT_RETRY, 30_000);
    expect(await outbox.inFlight()).toEqual({ rows: 1, until: T0 + 30_000 });
    expect(await outbox.claimDue(T0 + 29_999)).toEqual([]);
    expect((await outbox.claimDue(T0 + 30_000)).map((r) => [r.recipient, r.key, r.attempts, r.claimUntil])).toEqual([['bob', '7:opened:bob:email', 2, T0 + 60_000]]);
    expect(await outbox.inFlight(), 'its own claims are not in flight elsewhere').toEqual({ rows: 0, until: undefined });
    expect(outbox.claims, 'counted as a claim taken over (qoswatch_outbox_claims_total{claim="expired"})').toEqual({ fresh: 0, expired: 1 });
  });

  it('a sender whose claim was taken over cannot record an outcome over the new claim', async () => {
    const first = new Outbox(store, DEFAULT_RETRY, 10_000);
    const second = new Outbox(store, DEFAULT_RETRY, 10_000);
    const [row] = await first.enqueue([item('alice')], T0);
    await first.claimDue(T0);
    expect(first.claims).toEqual({ fresh: 1, expired: 0 });
    expect(await second.claimDue(T0 + 9_999)).toEqual([]);
    expect(await second.claimDue(T0 + 10_000)).toHaveLength(1);
    expect(await first.failed(row!.id, 'HTTP 503', true, T0 + 10_001)).toBe('sending');
    await first.delivered(row!.id, T0 + 10_002);
    await first.defer(row!.id, T0 + 20_000, T0 + 10_003);
    expect(await outbox.get(row!.id)).toMatchObject({ state: 'sending', attempts: 2, lastError: undefined });
    await second.delivered(row!.id, T0 + 10_004);
    expect(await outbox.get(row!.id)).toMatchObject({ state: 'delivered', sentAt: T0 + 10_004 });
  });

  it('cancels pending escalations of an incident, nothing else', async () => {
    await outbox.enqueue([item('alice'), item('bob', 'email', { key: '7:escalated:1:bob:email', kind: 'escalated' }), item('carol', 'email', { key: '8:escalated:1:carol:email', incidentId: 8, kind: 'escalated' })], T0);
    expect(await outbox.cancel(7, ['escalated'], T0 + 1)).toBe(1);
    expect((await outbox.ofIncident(7)).map((r) => [r.recipient, r.state])).toEqual([['alice', 'pending'], ['bob', 'cancelled']]);
    expect((await outbox.ofIncident(8))[0]!.state).toBe('pending');
  });

  describe('lanes: one page at a time per chat endpoint and per email recipient', () => {
    /** Claims, delivers and repeats until nothing is due: the order each lane sent in. */
    async function drain(now = T0): Promise<string[]> {
      const sent: string[] = [];
      for (let claimed = await outbox.claimDue(now); claimed.length; claimed = await outbox.claimDue(now)) {
        for (const r of claimed) {
          sent.push(r.key);
          await outbox.delivered(r.id, now);
        }
      }
      return sent;
    }
    const page = (key: string, over: Partial<OutboxItem>) => item('alice', 'ops-hook', { key, ...over });

    it('gives a busy lane nothing, and other lanes their next page', async () => {
      await outbox.enqueue([item('alice', 'ops-hook', { key: 'a1' }), item('bob', 'ops-hook', { key: 'b1' }), item('alice'), item('carol', 'sre-hook', { key: 'c1' })], T0);
      const first = await outbox.claimDue(T0);
      expect(first.map((r) => laneOf(r.channel, r.recipient)).sort()).toEqual(['email alice', 'ops-hook', 'sre-hook']);
      const busy = new Set(first.map((r) => laneOf(r.channel, r.recipient)));
      expect(await outbox.claimDue(T0, { busy }), 'every lane with something due is busy').toEqual([]);
      const hook = first.find((r) => r.channel === 'ops-hook')!;
      await outbox.delivered(hook.id, T0);
      busy.delete('ops-hook');
      expect((await outbox.claimDue(T0, { busy })).map((r) => r.key)).toEqual([hook.key === 'a1' ? 'b1' : 'a1']);
    });

    it('sends the most urgent first, and never queues a P0 behind another tenant`s flood', async () => {
      const flood = Array.from({ length: 50 }, (_, i) => page(`flood-${i}`, { incidentId: 100 + i, tenant: 'a', priority: 'P2' }));
      await outbox.enqueue(flood, T0);
      await outbox.enqueue([page('b-p0', { incidentId: 200, tenant: 'b', priority: 'P0' })], T0 + 1);
      expect((await drain(T0 + 1))[0]).toBe('b-p0');
    });

    it('lets tenants take turns within a priority', async () => {
      await outbox.enqueue(Array.from({ length: 4 }, (_, i) => page(`a${i}`, { incidentId: 100 + i, tenant: 'a' })), T0);
      await outbox.enqueue(Array.from({ length: 2 }, (_, i) => page(`b${i}`, { incidentId: 200 + i, tenant: 'b' })), T0 + 1);
      await outbox.enqueue([page('c0', { incidentId: 300, tenant: 'c' })], T0 + 2);
      expect(await drain(T0 + 2)).toEqual(['a0', 'b0', 'c0', 'a1', 'b1', 'a2', 'a3']);
    });

    it('keeps one incident`s pages to one recipient in the order they fell due, whatever their priorities', async () => {
      // A P2 incident pages alice, then rises to P1 and is resolved while her lane is busy with others' P1 pages.
      await outbox.enqueue([page('other-1', { incidentId: 8 })], T0);
      const [busy] = await outbox.claimDue(T0);
      await outbox.enqueue([page('7-opened', { priority: 'P2' }), page('other-2', { incidentId: 9 }), page('7-priority', { kind: 'priority_changed' }), page('7-resolved', { kind: 'resolved' })], T0);
      expect((await outbox.get((await outbox.ofIncident(7))[0]!.id))!.priority, 'raised with the pages that follow it').toBe('P1');
      await outbox.delivered(busy!.id, T0);
      const order = await drain();
      expect(order.filter((k) => k.startsWith('7-'))).toEqual(['7-opened', '7-priority', '7-resolved']);
    });

    it('holds the pages of a tenant over its budget, never its customer updates, and lets other tenants through', async () => {
      await outbox.enqueue([page('a-page', { tenant: 'a', priority: 'P0' }), page('b-page', { incidentId: 8, tenant: 'b', priority: 'P2' })], T0);
      await outbox.enqueue([item('mailto:ops@a.example', 'email', { key: 'ticket:1:update:1:mailto:ops@a.example:email', tenant: 'a' })], T0);
      const asked: string[] = [];
      const claimed = (await outbox.claimDue(T0, { admit: async (t) => (asked.push(t), t !== 'a') })).map((r) => r.key);
      expect(claimed.sort()).toEqual(['b-page', 'ticket:1:update:1:mailto:ops@a.example:email']);
      expect(asked, 'the P0 was asked about first').toEqual(['a', 'b']);
      expect((await outbox.pendingOf('a', T0)).map((r) => r.key)).toEqual(['a-page']);
    });

    it('spends the last of a budget on the most urgent pages, whichever lanes they are on', async () => {
      await outbox.enqueue([item('bob', 'email', { key: 'p2', priority: 'P2' }), item('alice', 'ops-hook', { key: 'p0', incidentId: 8, priority: 'P0' }), item('carol', 'sre-hook', { key: 'p1', incidentId: 9 })], T0);
      let left = 2;
      expect((await outbox.claimDue(T0, { admit: async () => left-- > 0 })).map((r) => r.key)).toEqual(['p0', 'p1']);
    });

    it('counts a tenant`s pages sent within a period (and those being sent), not its customer updates', async () => {
      await outbox.enqueue([page('a1', { tenant: 'a' }), page('a2', { incidentId: 8, tenant: 'a' }), item('alice', 'email', { key: 'ticket:1:x', tenant: 'a' })], T0);
      for (const r of await outbox.claimDue(T0)) await outbox.delivered(r.id, T0);
      expect(await outbox.sentBy('a', T0 - 1)).toBe(1);
      await outbox.claimDue(T0 + 10); // a2 is being sent
      expect(await outbox.sentBy('a', T0 - 1)).toBe(2);
      expect(await outbox.sentBy('a', T0), 'a1 was sent at the start of the period, not in it').toBe(1);
      expect(await outbox.sentBy('b', T0 - 1)).toBe(0);
    });
  });
});

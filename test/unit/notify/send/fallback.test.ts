import { describe, expect, it } from 'vitest';
import type { PageMessage } from '../../../../src/notify/channel.js';
import { MAILTO, TEAM } from '../../../../src/notify/compose.js';
import type { OutboxRow } from '../../../../src/storage/state/outbox.js';
import { fallbackOf } from '../../../../src/notify/send/fallback.js';

/** The fallback stage on its own: a pure function of the failed row, the person's channels and the thread. */

const T0 = Date.UTC(2030, 0, 7, 12);
/** alice is paged on these, in order. */
const ALICE = ['email', 'ops-hook', 'sre-hook'];
/** Handles per channel (email has none). */
const HANDLES: Record<string, string> = { 'ops-hook': 'U-alice', 'sre-hook': 'U-alice-sre' };
const mention = (recipient: string, channel: string) => (recipient === 'alice' ? HANDLES[channel] : undefined);

let nextId = 1;
function row(key: string, recipient: string, channel: string, over: Partial<OutboxRow> = {}): OutboxRow {
  return {
    id: nextId++, key, incidentId: 7, kind: 'acknowledged', recipient, channel, payload: '{}', priority: 'P1', tenant: 'acme', stormId: undefined,
    state: 'pending', attempts: 0, nextAt: T0, lastError: undefined, createdAt: T0, sentAt: undefined, claimUntil: 0, ...over,
  };
}

const page = (key: string, channel: string): PageMessage => ({
  kind: 'acknowledged', incidentId: 7, priority: 'P1', tenant: 'acme', region: 'eu-west', state: 'acknowledged',
  title: 'P1 eu-west: stall ratio', text: 'Acknowledged by bob: looking\nstall_ratio: 0.3', runbook: 'https://runbooks.example.test/stall',
  timeline: ['12:00:00 qoswatch opened'], ackUrl: undefined, resolveUrl: 'https://qos.example.test/v1/links/abc.def', incidentUrl: undefined,
  mention: mention('alice', channel), key,
});

/** A failed row of alice for step base `base` on `channel`, with its page. */
function failed(base: string, channel: string, over: Partial<OutboxRow> = {}): { row: OutboxRow; page: PageMessage } {
  const key = `${base}:alice:${channel}`;
  const p = page(key, channel);
  return { row: row(key, 'alice', channel, { state: 'failed', payload: JSON.stringify(p), ...over }), page: p };
}

describe('fallbackOf', () => {
  it('addresses the next channel of the notify list not tried yet', () => {
    const { row: r, page: p } = failed('7:ack:40', 'email');
    const next = fallbackOf(r, p, ALICE, [r], mention);
    expect(next).toMatchObject({ key: '7:ack:40:alice:ops-hook', recipient: 'alice', channel: 'ops-hook' });
  });

  it('skips channels already tried for the same step, whatever their state', () => {
    const opsTried = row('7:ack:40:alice:ops-hook', 'alice', 'ops-hook', { state: 'pending' });
    const { row: r, page: p } = failed('7:ack:40', 'email');
    expect(fallbackOf(r, p, ALICE, [opsTried, r], mention)?.channel).toBe('sre-hook');
    // A later channel failing goes back to an earlier one not tried yet (the list order, not "after me").
    const { row: sre, page: sp } = failed('7:ack:40', 'sre-hook');
    expect(fallbackOf(sre, sp, ALICE, [sre], mention)?.channel).toBe('email');
  });

  it('brings in one channel per failing channel: a channel failing again after it brought in the next brings in no other', () => {
    const { row: email, page: p } = failed('7:ack:40', 'email', { attempts: 1 });
    const ops = fallbackOf(email, p, ALICE, [email], mention)!;
    expect(ops.channel).toBe('ops-hook');
    const opsRow = row(ops.key, 'alice', 'ops-hook', { state: 'delivered' });
    // The email's retry fails too: alice is reached (or being reached) on ops-hook; sre-hook is not paged as well.
    const retried = { ...email, attempts: 2 };
    expect(fallbackOf(retried, p, ALICE, [retried, opsRow], mention)).toBeUndefined();
    // ops-hook failing is what brings in sre-hook.
    const opsFailed = { ...opsRow, state: 'failed' as const };
    expect(fallbackOf(opsFailed, page(ops.key, 'ops-hook'), ALICE, [retried, opsFailed], mention)?.channel).toBe('sre-hook');
  });

  it('has nothing left when every channel was tried', () => {
    const { row: r, page: p } = failed('7:ack:40', 'sre-hook');
    const thread = [row('7:ack:40:alice:email', 'alice', 'email', { state: 'failed' }), row('7:ack:40:alice:ops-hook', 'alice', 'ops-hook', { state: 'delivered' }), r];
    expect(fallbackOf(r, p, ALICE, thread, mention)).toBeUndefined();
    // A person with one channel has no fallback either.
    expect(fallbackOf(r, p, ['sre-hook'], [r], mention)).toBeUndefined();
  });

  it("only the same step's rows count as tried: another step's, another person's do not", () => {
    const { row: r, page: p } = failed('7:g1:s1', 'email');
    const thread = [
      r,
      // The same person and channel on step 0, on a step whose number starts alike (s10), and an event's page.
      row('7:g1:s0:alice:ops-hook', 'alice', 'ops-hook', { state: 'delivered' }),
      row('7:g1:s10:alice:ops-hook', 'alice', 'ops-hook', { state: 'delivered' }),
      row('7:acknowledged:55:alice:ops-hook', 'alice', 'ops-hook', { state: 'delivered' }),
      // Another person's row of the same step on that channel.
      row('7:g1:s1:bob:ops-hook', 'bob', 'ops-hook', { state: 'delivered' }),
    ];
    expect(fallbackOf(r, p, ALICE, thread, mention)).toMatchObject({ key: '7:g1:s1:alice:ops-hook', channel: 'ops-hook' });
  });

  it('team channels and plain addresses have no next channel', () => {
    const team = row(`7:g1:s0:${TEAM}ops-hook:ops-hook`, `${TEAM}ops-hook`, 'ops-hook', { state: 'failed' });
    expect(fallbackOf(team, page(team.key, 'ops-hook'), ['ops-hook', 'sre-hook'], [team], mention)).toBeUndefined();
    const customer = row(`ticket:T-1:update:3:${MAILTO}ops@customer.example:email`, `${MAILTO}ops@customer.example`, 'email', { state: 'failed', incidentId: 0 });
    expect(fallbackOf(customer, page(customer.key, 'email'), ['email', 'ops-hook'], [customer], mention)).toBeUndefined();
  });

  it('keeps the page (who acted, the text, the links) under the new key, with the new channel’s mention', () => {
    const { row: r, page: p } = failed('7:ack:40', 'email');
    const next = fallbackOf(r, p, ALICE, [r], mention)!;
    expect(p.mention, 'email has no handle').toBeUndefined();
    const sent = JSON.parse(next.payload) as PageMessage;
    expect(sent).toEqual({ ...p, key: '7:ack:40:alice:ops-hook', mention: 'U-alice' });
    expect(sent.text).toBe('Acknowledged by bob: looking\nstall_ratio: 0.3');
    expect(sent.key, 'the payload key is the row key (Idempotency-Key)').toBe(next.key);
    // A channel without a handle for the person: no mention (not the old one).
    const { row: ops, page: op } = failed('7:ack:40', 'ops-hook');
    const toEmail = fallbackOf(ops, op, ALICE, [ops], mention)!;
    expect(toEmail.channel).toBe('email');
    expect(JSON.parse(toEmail.payload).mention).toBeUndefined();
  });

  it("carries the row's incident, kind, priority, tenant and storm over", () => {
    const { row: r, page: p } = failed('storm:3:g1:s0', 'email', { incidentId: 0, stormId: 3, priority: 'P0', tenant: 'globex', kind: 'escalated' });
    const next = fallbackOf(r, p, ALICE, [r], mention)!;
    expect(next).toEqual({
      key: 'storm:3:g1:s0:alice:ops-hook', incidentId: 0, stormId: 3, kind: 'escalated', recipient: 'alice', channel: 'ops-hook', priority: 'P0', tenant: 'globex', payload: next.payload,
    });
    const { row: plain, page: pp } = failed('7:g1:s0', 'email', { priority: 'P2' });
    const n2 = fallbackOf(plain, pp, ALICE, [plain], mention)!;
    expect([n2.incidentId, n2.stormId, n2.priority, n2.tenant]).toEqual([7, undefined, 'P2', 'acme']);
  });
});

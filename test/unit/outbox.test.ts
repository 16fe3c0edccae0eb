import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_RETRY, Outbox, type OutboxItem, backoffMs } from '../../src/notify/outbox.js';
import type { Db } from '../../src/storage/sqlite.js';
import { openStateDb } from '../../src/storage/state-db.js';
import { tempDir } from '../helpers/tmp.js';

const T0 = Date.UTC(2026, 10, 23, 12);
const item = (recipient: string, channel = 'email', over: Partial<OutboxItem> = {}): OutboxItem => ({
  key: `7:opened:${recipient}:${channel}`, incidentId: 7, kind: 'opened', recipient, channel, payload: `{"to":"${recipient}"}`, ...over,
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

describe('Outbox (real SQLite)', () => {
  let db: Db;
  let outbox: Outbox;
  beforeEach(() => {
    db = openStateDb(join(tempDir('outbox'), 'state.db'));
    outbox = new Outbox(db, { baseMs: 1000, capMs: 60_000, maxAttempts: 3 });
  });
  afterEach(() => db.close());

  it('enqueues each idempotency key once', () => {
    expect(outbox.enqueue([item('alice'), item('bob')], T0)).toHaveLength(2);
    expect(outbox.enqueue([item('alice'), item('carol')], T0 + 1).map((r) => r.recipient)).toEqual(['carol']);
    expect(outbox.ofIncident(7).map((r) => [r.recipient, r.state])).toEqual([['alice', 'pending'], ['bob', 'pending'], ['carol', 'pending']]);
  });

  it('claims due rows once, oldest first, and marks them delivered', () => {
    outbox.enqueue([item('alice'), item('bob')], T0);
    const claimed = outbox.claimDue(T0, 10);
    expect(claimed.map((r) => [r.recipient, r.state, r.attempts])).toEqual([['alice', 'sending', 1], ['bob', 'sending', 1]]);
    expect(outbox.claimDue(T0, 10)).toEqual([]); // nothing is handed out twice
    outbox.delivered(claimed[0]!.id, T0 + 5);
    expect(outbox.get(claimed[0]!.id)).toMatchObject({ state: 'delivered', sentAt: T0 + 5 });
    expect(outbox.backlog()).toBe(1);
  });

  it('retries a retryable failure after the backoff, and gives up after maxAttempts', () => {
    const [row] = outbox.enqueue([item('alice')], T0);
    outbox.claimDue(T0, 1);
    expect(outbox.failed(row!.id, 'HTTP 503', true, T0, half)).toBe('pending');
    expect(outbox.get(row!.id)).toMatchObject({ state: 'pending', nextAt: T0 + 750, lastError: 'HTTP 503' });
    expect(outbox.claimDue(T0 + 749, 1)).toEqual([]);
    expect(outbox.claimDue(T0 + 750, 1)).toHaveLength(1);
    expect(outbox.failed(row!.id, 'HTTP 503', true, T0 + 750, half)).toBe('pending');
    outbox.claimDue(T0 + 10_000, 1);
    expect(outbox.failed(row!.id, 'HTTP 503', true, T0 + 10_000, half)).toBe('failed'); // third attempt was the last
    expect(outbox.get(row!.id)).toMatchObject({ state: 'failed', attempts: 3 });
  });

  it('fails a permanent error at once', () => {
    const [row] = outbox.enqueue([item('alice', 'slack-noc')], T0);
    outbox.claimDue(T0, 1);
    expect(outbox.failed(row!.id, 'invalid_token', false, T0)).toBe('failed');
  });

  it('after a crash, a row left sending is claimed again once its claim runs out, not before (same key); delivered ones never', () => {
    outbox = new Outbox(db, DEFAULT_RETRY, 30_000);
    outbox.enqueue([item('alice'), item('bob')], T0);
    const [a] = outbox.claimDue(T0, 10);
    outbox.delivered(a!.id, T0 + 1);
    // kill -9 here: bob's row is still "sending". A new process over the same file:
    db.close();
    db = openStateDb(db.name);
    outbox = new Outbox(db, DEFAULT_RETRY, 30_000);
    expect(outbox.inFlight()).toEqual({ rows: 1, until: T0 + 30_000 });
    expect(outbox.claimDue(T0 + 29_999, 10)).toEqual([]);
    expect(outbox.claimDue(T0 + 30_000, 10).map((r) => [r.recipient, r.key, r.attempts, r.claimUntil])).toEqual([['bob', '7:opened:bob:email', 2, T0 + 60_000]]);
    expect(outbox.inFlight(), 'its own claims are not in flight elsewhere').toEqual({ rows: 0, until: undefined });
  });

  it('a sender whose claim was taken over cannot record an outcome over the new claim', () => {
    const first = new Outbox(db, DEFAULT_RETRY, 10_000);
    const second = new Outbox(db, DEFAULT_RETRY, 10_000);
    const [row] = first.enqueue([item('alice')], T0);
    first.claimDue(T0, 1);
    expect(second.claimDue(T0 + 9_999, 1)).toEqual([]);
    expect(second.claimDue(T0 + 10_000, 1)).toHaveLength(1);
    expect(first.failed(row!.id, 'HTTP 503', true, T0 + 10_001)).toBe('sending');
    first.delivered(row!.id, T0 + 10_002);
    first.defer(row!.id, T0 + 20_000, T0 + 10_003);
    expect(outbox.get(row!.id)).toMatchObject({ state: 'sending', attempts: 2, lastError: undefined });
    second.delivered(row!.id, T0 + 10_004);
    expect(outbox.get(row!.id)).toMatchObject({ state: 'delivered', sentAt: T0 + 10_004 });
  });

  it('cancels pending escalations of an incident, nothing else', () => {
    outbox.enqueue([item('alice'), item('bob', 'email', { key: '7:escalated:1:bob:email', kind: 'escalated' }), item('carol', 'email', { key: '8:escalated:1:carol:email', incidentId: 8, kind: 'escalated' })], T0);
    expect(outbox.cancel(7, ['escalated'], T0 + 1)).toBe(1);
    expect(outbox.ofIncident(7).map((r) => [r.recipient, r.state])).toEqual([['alice', 'pending'], ['bob', 'cancelled']]);
    expect(outbox.ofIncident(8)[0]!.state).toBe('pending');
  });
});

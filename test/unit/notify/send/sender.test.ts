import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Incidents } from '../../../../src/incidents/incidents.js';
import { Metrics } from '../../../../src/metrics.js';
import { parseOnCall } from '../../../../src/oncall/config.js';
import { OnCallService } from '../../../../src/oncall/oncall.js';
import type { PageMessage } from '../../../../src/notify/channel.js';
import { Outbox } from '../../../../src/notify/outbox.js';
import type { OutboxItem, OutboxRow } from '../../../../src/storage/state/outbox.js';
import { BudgetStage } from '../../../../src/notify/send/budget.js';
import { Notes } from '../../../../src/notify/send/notes.js';
import { RateStage } from '../../../../src/notify/send/rate.js';
import { PageSender } from '../../../../src/notify/send/sender.js';
import { BACKENDS } from '../../../helpers/backends.js';
import { waitFor } from '../../../helpers/ports.js';
import { HttpReceiver, header, json, webhookSignatureValid } from '../../../helpers/receiver.js';

/**
 * PageSender over a real outbox (on each state store backend) and a real HTTP receiver on loopback standing in for
 * two generic webhook endpoints. Time is `now`, moved by the tests: a pass is dispatch(now), then waiting for the
 * sends it started.
 */

const T0 = Date.UTC(2030, 0, 7, 12);
const SECRET = 'whsec-sender-0123456789';
const OPS = '/hooks/ops';
const SRE = '/hooks/sre';
/** Backoff base 1 s: a first retry comes 0.5–1 s later. */
const RETRY = { baseMs: 1000, capMs: 60_000, maxAttempts: 5 };

const receiver = new HttpReceiver();

beforeAll(() => receiver.start());
afterAll(() => receiver.stop());

describe.each(BACKENDS)('PageSender on $name', (backend) => {
  let now = T0;
  let close = async () => {};
  let outbox: Outbox;
  let incidents: Incidents;
  let metrics: Metrics;
  let rate: RateStage;
  let sender: PageSender;
  let wakes = 0;
  let inc: number;

  beforeEach(async () => {
    now = T0;
    wakes = 0;
    receiver.reset();
    const opened = await backend.open();
    const { store, sql } = opened;
    close = opened.close;
    outbox = new Outbox(store, RETRY);
    incidents = new Incidents(store, { groupBy: ['tenant', 'region'], reopenMs: 0, silenced: () => false });
    metrics = new Metrics();
    const notes = new Notes(incidents, store);
    // alice is paged on ops-hook, then sre-hook; both endpoints are generic webhooks on the receiver.
    const config = parseOnCall(
      stringify({
        people: [{ id: 'alice', name: 'Alice', chat: { webhook: 'U-alice' }, notify: ['ops-hook', 'sre-hook'] }],
        channels: [
          { id: 'ops-hook', provider: 'webhook', url: receiver.url(OPS), secret: SECRET },
          { id: 'sre-hook', provider: 'webhook', url: receiver.url(SRE), secret: SECRET },
        ],
      }),
      'oncall.yaml',
      T0,
    );
    const oncall = await OnCallService.load(store.overrides, config);
    rate = new RateStage({ chat: { max: 1, windowMs: 1000 }, email: { max: 20, windowMs: 60_000 } });
    sender = new PageSender({
      oncall, email: undefined, clock: () => now, timeoutMs: 30_000, outbox, notes, metrics, rate,
      budget: new BudgetStage({ outbox, metrics, notes }, { max: 1000, windowMs: 3_600_000 }),
      log: pino({ level: 'silent' }),
      mention: (recipient, channel) => {
        const provider = config.channels.get(channel)?.provider;
        return provider && oncall.person(recipient)?.chat[provider];
      },
      wake: () => wakes++,
    });
    inc = (await sql.get<{ id: number }>("INSERT INTO incidents (group_key, tenant, title, state, priority, opened_at, updated_at) VALUES ('g', 'acme', 't', 'open', 'P2', ?, ?) RETURNING id", T0, T0))!.id;
  });

  afterEach(async () => {
    receiver.release({ status: 200, body: 'ok' });
    await Promise.allSettled(sender.inFlight());
    await close();
  });

  /** A page of the incident to `recipient` on `channel` for step base `base`. */
  function item(recipient: string, channel: string, base = `${inc}:g1:s0`): OutboxItem {
    const key = `${base}:${recipient}:${channel}`;
    const page: PageMessage = {
      kind: 'opened', incidentId: inc, priority: 'P2', tenant: 'acme', region: 'eu-west', state: 'open', title: 'P2 eu-west: stall ratio 8%',
      text: 'stall_ratio: 0.08', runbook: undefined, timeline: [], ackUrl: undefined, resolveUrl: undefined, incidentUrl: undefined,
      mention: recipient === 'alice' ? 'U-alice' : undefined, key,
    };
    return { key, incidentId: inc, kind: 'opened', recipient, channel, priority: 'P2', tenant: 'acme', payload: JSON.stringify(page) };
  }

  async function enqueue(...items: OutboxItem[]): Promise<OutboxRow[]> {
    const rows = await outbox.enqueue(items, now);
    expect(rows).toHaveLength(items.length);
    return rows;
  }

  /** One pass at `at`, and every send it started finished. */
  async function pass(at: number): Promise<void> {
    now = at;
    await sender.dispatch(at);
    await Promise.allSettled(sender.inFlight());
  }

  const row = async (id: number) => (await outbox.get(id))!;
  const entries = async (kind: string) => (await incidents.timeline(inc)).filter((e) => e.kind === kind).map((e) => e.data);
  async function pages(channel: string, outcome: string): Promise<number> {
    return (await metrics.pages.get()).values.find((v) => v.labels.channel === channel && v.labels.outcome === outcome)?.value ?? 0;
  }

  it('delivers a due page: the row is delivered, the request signed with its key, the outcome on the timeline and in /metrics', async () => {
    const [r] = await enqueue(item('#ops-hook', 'ops-hook'));
    await pass(T0);
    expect(await row(r!.id)).toMatchObject({ state: 'delivered', attempts: 1, sentAt: T0 });
    const [req] = receiver.to(OPS);
    expect(webhookSignatureValid(req!, SECRET)).toBe(true);
    expect(header(req!, 'idempotency-key')).toBe(r!.key);
    expect(await entries('page_delivered')).toEqual([{ recipient: '#ops-hook', channel: 'ops-hook', kind: 'opened', attempt: 1 }]);
    expect(await pages('webhook', 'delivered')).toBe(1);
    expect(wakes, 'the lane freed: another pass is due').toBe(1);
  });

  it('a rate-limited row is deferred until the next token, without an attempt counted; other channels go', async () => {
    for (let i = 0; i < 3; i++) expect(rate.wait('ops-hook', 'chat', T0)).toBe(0); // the burst is used up
    const [limited, other] = await enqueue(item('#ops-hook', 'ops-hook'), item('#sre-hook', 'sre-hook'));
    await pass(T0);
    expect(await row(limited!.id)).toMatchObject({ state: 'pending', attempts: 0, nextAt: T0 + 1000 });
    expect(receiver.to(OPS)).toEqual([]);
    expect((await row(other!.id)).state).toBe('delivered');
    expect(await entries('page_failed'), 'waiting for the rate is not a failure').toEqual([]);

    await pass(T0 + 999);
    expect(receiver.to(OPS), 'not due before the token').toEqual([]);
    await pass(T0 + 1000);
    expect(await row(limited!.id)).toMatchObject({ state: 'delivered', attempts: 1, sentAt: T0 + 1000 });
    expect(receiver.to(OPS)).toHaveLength(1);
  });

  it('a retryable failure (HTTP 500) goes back to pending after a backoff and is delivered later with the same Idempotency-Key', async () => {
    receiver.answer(OPS, { status: 500, body: 'down' });
    const [r] = await enqueue(item('#ops-hook', 'ops-hook'));
    await pass(T0);
    const after = await row(r!.id);
    expect(after).toMatchObject({ state: 'pending', attempts: 1, lastError: 'HTTP 500: down' });
    expect(after.nextAt).toBeGreaterThanOrEqual(T0 + 500);
    expect(after.nextAt).toBeLessThanOrEqual(T0 + 1000);
    expect(await entries('page_failed')).toEqual([{ recipient: '#ops-hook', channel: 'ops-hook', kind: 'opened', attempt: 1, reason: 'HTTP 500: down', retrying: true, next_at: after.nextAt }]);
    expect(await pages('webhook', 'retry')).toBe(1);
    expect(await entries('page_fallback'), 'a team channel has no next channel').toEqual([]);

    await pass(after.nextAt - 1);
    expect(receiver.to(OPS), 'not before the backoff').toHaveLength(1);
    await pass(after.nextAt);
    expect(await row(r!.id)).toMatchObject({ state: 'delivered', attempts: 2, sentAt: after.nextAt });
    const reqs = receiver.to(OPS);
    expect(reqs.map((q) => q.answered?.status)).toEqual([500, 200]);
    expect(reqs.map((q) => header(q, 'idempotency-key'))).toEqual([r!.key, r!.key]);
    expect(json(reqs[1]!)).toEqual(json(reqs[0]!));
    expect(await entries('page_delivered')).toEqual([{ recipient: '#ops-hook', channel: 'ops-hook', kind: 'opened', attempt: 2 }]);
  });

  it("a permanent failure (HTTP 400) fails the row and brings in the person's next channel once", async () => {
    receiver.answer(OPS, { status: 400, body: 'no such hook' });
    receiver.answer(SRE, { status: 400, body: 'no such hook either' });
    const [r] = await enqueue(item('alice', 'ops-hook'));
    await pass(T0);
    expect(await row(r!.id)).toMatchObject({ state: 'failed', attempts: 1, lastError: 'HTTP 400: no such hook' });
    expect(await entries('page_failed')).toEqual([expect.objectContaining({ channel: 'ops-hook', retrying: false })]);
    expect(await entries('page_fallback')).toEqual([{ recipient: 'alice', from: 'ops-hook', to: 'sre-hook', kind: 'opened' }]);
    const next = (await outbox.ofIncident(inc)).filter((x) => x.id !== r!.id);
    expect(next.map((x) => [x.key, x.recipient, x.channel, x.state])).toEqual([[`${inc}:g1:s0:alice:sre-hook`, 'alice', 'sre-hook', 'pending']]);
    expect(wakes, 'the lane freed, and a fallback was enqueued').toBe(2);

    // The fallback is the same page, addressed anew; when it fails for good too, there is nothing left to try.
    await pass(T0 + 1);
    const [fb] = receiver.to(SRE);
    expect(header(fb!, 'idempotency-key')).toBe(`${inc}:g1:s0:alice:sre-hook`);
    expect(json(fb!)).toMatchObject({ key: `${inc}:g1:s0:alice:sre-hook`, mention: 'U-alice', incident: { id: inc, text: 'stall_ratio: 0.08' } });
    expect((await row(next[0]!.id)).state).toBe('failed');
    await pass(T0 + 2);
    expect(await outbox.ofIncident(inc)).toHaveLength(2);
    expect(await entries('page_fallback')).toHaveLength(1);
    expect(await pages('webhook', 'failed')).toBe(2);
    expect(receiver.requests).toHaveLength(2);
  });

  it('the first (retryable) failure brings in the next channel at once while the failing one keeps retrying', async () => {
    receiver.answer(OPS, { status: 503 }, { status: 503 });
    const [r] = await enqueue(item('alice', 'ops-hook'));
    await pass(T0);
    expect((await row(r!.id)).state).toBe('pending');
    expect(await entries('page_fallback')).toEqual([{ recipient: 'alice', from: 'ops-hook', to: 'sre-hook', kind: 'opened' }]);
    await pass(T0 + 1);
    expect(receiver.to(SRE).map((q) => header(q, 'idempotency-key'))).toEqual([`${inc}:g1:s0:alice:sre-hook`]);

    // The second failure of the first row: no second fallback.
    await pass((await row(r!.id)).nextAt);
    expect(await row(r!.id)).toMatchObject({ state: 'pending', attempts: 2 });
    expect(await entries('page_fallback')).toHaveLength(1);
    await pass((await row(r!.id)).nextAt);
    expect(await row(r!.id)).toMatchObject({ state: 'delivered', attempts: 3 });
    expect(await outbox.ofIncident(inc)).toHaveLength(2);
  });

  it('sends one page at a time per lane; a held request does not hold up other lanes', async () => {
    receiver.answer(OPS, 'hold');
    const [k1, k2, s1] = await enqueue(item('#ops-hook', 'ops-hook', `${inc}:g1:s0`), item('#ops-hook', 'ops-hook', `${inc}:g1:s1`), item('#sre-hook', 'sre-hook'));
    now = T0;
    await sender.dispatch(T0);
    await waitFor('the sre-hook page delivered', async () => (await row(s1!.id)).state === 'delivered');
    await waitFor('the ops-hook request held', () => receiver.to(OPS).length === 1);
    expect((await row(k1!.id)).state).toBe('sending');

    // Another pass while ops-hook hangs: its next page waits, a new page on sre-hook goes.
    const [s2] = await enqueue(item('#sre-hook', 'sre-hook', `${inc}:g1:s1`));
    now = T0 + 1000;
    await sender.dispatch(now);
    await waitFor('the second sre-hook page delivered', async () => (await row(s2!.id)).state === 'delivered');
    expect(await row(k2!.id)).toMatchObject({ state: 'pending', attempts: 0 });
    expect(receiver.to(OPS)).toHaveLength(1);

    // The endpoint answers: the lane is free, and the next pass sends its next page.
    receiver.release({ status: 200, body: 'ok' });
    await Promise.allSettled(sender.inFlight());
    expect((await row(k1!.id)).state).toBe('delivered');
    await pass(T0 + 2000);
    expect((await row(k2!.id)).state).toBe('delivered');
    expect(receiver.to(OPS).map((q) => header(q, 'idempotency-key'))).toEqual([k1!.key, k2!.key]);
  });
});

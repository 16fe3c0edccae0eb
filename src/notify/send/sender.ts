import type { FastifyBaseLogger as Logger } from 'fastify';
import type { Metrics } from '../../metrics.js';
import { EMAIL } from '../../shared/paging.js';
import type { PageMessage, Verdict } from '../channel.js';
import { type Outbox } from '../outbox.js';
import { type OutboxRow, laneOf } from '../../storage/state/outbox.js';
import type { BudgetStage } from './budget.js';
import { type Delivery, type DeliveryDeps, deliveryOf } from './deliveries.js';
import { fallbackOf } from './fallback.js';
import type { Notes } from './notes.js';
import type { RateStage } from './rate.js';

export interface SenderDeps extends DeliveryDeps {
  outbox: Outbox;
  budget: BudgetStage;
  rate: RateStage;
  notes: Notes;
  metrics: Metrics;
  log: Logger;
  /** The recipient's handle on a channel (a fallback page is addressed anew). */
  mention(recipient: string, channel: string): string | undefined;
  /** A send ended (its lane is free) or enqueued a fallback: another pass is due. */
  wake(): void;
}

/**
 * Sends what the outbox holds, in stages: dispatch (each idle lane claims its next due page, the tenant's budget
 * permitting) → rate (per channel; over it, the row waits without an attempt counted) → deliver (the channel's
 * provider) → retry (the outcome recorded: delivered, or pending again after a backoff, or failed for good) →
 * fallback (the first failure of a channel brings in the person's next one at once; the failing one keeps retrying).
 *
 * Lanes (outbox.laneOf: one per chat endpoint, one per email recipient) send one page at a time, and a pass never
 * waits for a lane: a hung endpoint holds up only the pages behind it on its own lane.
 */
export class PageSender {
  private readonly lanes = new Map<string, Promise<void>>();

  constructor(private readonly deps: SenderDeps) {}

  /** Sends in flight (tests and shutdown wait for them). */
  inFlight(): Promise<void>[] {
    return [...this.lanes.values()];
  }

  /** The dispatch stage: claims and starts each idle lane's next page without waiting for it. */
  async dispatch(now: number): Promise<void> {
    const budget = this.deps.budget.pass(now);
    for (const row of await this.deps.outbox.claimDue(now, { busy: new Set(this.lanes.keys()), admit: budget.admit })) {
      const lane = laneOf(row.channel, row.recipient);
      this.deps.budget.claimed(row.id);
      const sending = this.send(row, now)
        .catch((err: unknown) => this.deps.log.error({ err, page: row.key }, 'sending a page failed'))
        .finally(() => {
          this.lanes.delete(lane);
          this.deps.wake();
        });
      this.lanes.set(lane, sending);
    }
    await budget.end();
  }

  private async send(row: OutboxRow, now: number): Promise<void> {
    const delivery = deliveryOf(row, this.deps);
    const wait = this.deps.rate.wait(row.channel, row.channel === EMAIL ? 'email' : 'chat', now);
    if (wait > 0) {
      await this.deps.outbox.defer(row.id, now + wait, now);
      return;
    }
    const page = JSON.parse(row.payload) as PageMessage;
    const verdict = await delivery.send(page);
    const at = this.deps.clock();
    if ((await this.record(row, delivery.provider, verdict, at)) === 'delivered') return;
    const next = fallbackOf(row, page, this.deps.oncall.config.notify.get(row.recipient) ?? [], await this.thread(row), this.deps.mention);
    if (!next) return;
    await this.deps.outbox.enqueue([next], at);
    await this.deps.notes.row(row, 'page_fallback', { recipient: row.recipient, from: row.channel, to: next.channel, kind: page.kind }, at);
    this.deps.wake();
  }

  /** The retry stage: the outcome on the row (a retryable failure goes back to pending after a backoff), in /metrics and on the timeline. */
  private async record(row: OutboxRow, provider: Delivery['provider'], verdict: Verdict, at: number): Promise<'delivered' | 'pending' | 'failed'> {
    const { outbox, metrics, notes } = this.deps;
    const who = { recipient: row.recipient, channel: row.channel, kind: row.kind, attempt: row.attempts };
    if (verdict.ok) {
      await outbox.delivered(row.id, at);
      metrics.pages.inc({ channel: provider, outcome: 'delivered' });
      await notes.row(row, 'page_delivered', who, at);
      return 'delivered';
    }
    const state = (await outbox.failed(row.id, verdict.reason, verdict.retryable, at)) === 'pending' ? 'pending' : 'failed';
    metrics.pages.inc({ channel: provider, outcome: state === 'pending' ? 'retry' : 'failed' });
    const nextAt = state === 'pending' ? (await outbox.get(row.id))?.nextAt : undefined;
    await notes.row(row, 'page_failed', { ...who, reason: verdict.reason, retrying: state === 'pending', next_at: nextAt }, at);
    return state;
  }

  private thread(row: OutboxRow): Promise<OutboxRow[]> {
    return row.stormId === undefined ? this.deps.outbox.ofIncident(row.incidentId) : this.deps.outbox.ofStorm(row.stormId);
  }
}

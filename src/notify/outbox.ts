import { randomUUID } from 'node:crypto';
import type { PageKind } from '../shared/paging.js';
import { type OutboxHead, type OutboxItem, type OutboxRow, type OutboxState, laneOf } from '../storage/state/outbox.js';
import type { StateStore } from '../storage/state/store.js';

/** The outbox's rows: in the state store, or in the transaction a caller writes in. */
type Rows = Pick<StateStore, 'outbox'>;

export interface RetryPolicy {
  readonly baseMs: number;
  readonly capMs: number;
  readonly maxAttempts: number;
}

export const DEFAULT_RETRY: RetryPolicy = { baseMs: 1000, capMs: 300_000, maxAttempts: 8 };

/**
 * Delay before attempt `attempt + 1` after `attempt` failures: exponential from `baseMs`, capped, with "equal
 * jitter" (half fixed, half random) so retries of many pages spread out without ever retrying at once.
 */
export function backoffMs(attempt: number, policy: RetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export interface ClaimOptions {
  /** Lanes with a page in flight: they get nothing more until it is done. */
  readonly busy?: ReadonlySet<string>;
  /**
   * Whether a tenant may send one more page now (its page budget): asked once for each page about to be claimed, the
   * most urgent first; a page refused waits and its lane takes its next candidate. Customer updates are not asked.
   */
  readonly admit?: (tenant: string) => Promise<boolean>;
}

/**
 * The outbox as the pager uses it: each instance is one sender — what it claims carries its id, and only it records
 * the outcome while its claim holds — with the retry policy and fairness of claims. Time and randomness are
 * arguments, so retry schedules are testable; the rows are the state db's (storage/state/outbox.ts).
 */
export class Outbox {
  private readonly sender = randomUUID();
  /** Per lane, when each tenant was last served (a counter), for taking turns. In memory: fairness, not state. */
  private readonly turns = new Map<string, Map<string, number>>();
  private turn = 0;

  constructor(
    private readonly state: Pick<StateStore, 'outbox' | 'tx'>,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
    /** How long a claim holds: longer than any send takes. */
    private readonly claimMs = 60_000,
  ) {}

  /**
   * Writes notifications before anything is sent; returns the rows that were new (a known key is ignored). Earlier
   * pending pages of the same incident (or storm) to the same recipient and channel are raised to the new page's
   * priority, so that lanes sending the most urgent first still send one incident's pages in the order they fell
   * due ('mitigated' never overtakes 'opened').
   */
  enqueue(items: readonly OutboxItem[], now: number, t: Rows = this.state): Promise<OutboxRow[]> {
    return t.outbox.insert(items, now);
  }

  /**
   * Claims the next row of each lane that is not busy (state → sending, one more attempt, claimed until now + the
   * claim time) among the pending rows that are due and the rows whose sender's claim ran out (it died mid-send):
   * the most urgent priority first; within a priority, tenants take turns (the one served longest ago on that lane
   * goes next), so one tenant's flood never queues another tenant's page behind it; then the order they fell due.
   */
  /** Rows this sender claimed since it started: due ones, and ones whose earlier sender's claim had run out. */
  readonly claims = { fresh: 0, expired: 0 };

  async claimDue(now: number, o: ClaimOptions = {}): Promise<OutboxRow[]> {
    const lanes = new Map<string, OutboxHead[]>();
    for (const h of await this.state.outbox.heads(now)) if (!o.busy?.has(h.lane)) lanes.set(h.lane, [...(lanes.get(h.lane) ?? []), h]);
    const order = (a: OutboxHead, b: OutboxHead) => (this.before(a, b) ? -1 : 1);
    const queues = [...lanes.values()].map((q) => q.sort(order)).sort((a, b) => order(a[0]!, b[0]!));
    const chosen: OutboxHead[] = [];
    // Lanes whose best page is the most urgent choose first: they get a tenant's last pages of its budget.
    for (const queue of queues) {
      for (const c of queue) {
        if (c.customer || !o.admit || (await o.admit(c.tenant))) {
          chosen.push(c);
          break;
        }
      }
    }
    if (chosen.length === 0) return [];
    const claimed = await this.state.tx(async (t) => {
      const out: OutboxRow[] = [];
      for (const h of chosen) {
        const r = await t.outbox.claim(h.id, this.sender, now + this.claimMs, now);
        if (r) out.push(r);
      }
      return out;
    });
    // A row still sending when claimed: its earlier sender's claim ran out (it died, or hung, mid-send).
    const wasSending = new Set(chosen.filter((h) => h.state === 'sending').map((h) => h.id));
    for (const r of claimed) this.claims[wasSending.has(r.id) ? 'expired' : 'fresh']++;
    for (const r of claimed) {
      const lane = laneOf(r.channel, r.recipient);
      const turns = this.turns.get(lane) ?? new Map<string, number>();
      this.turns.set(lane, turns.set(r.tenant, ++this.turn));
    }
    return claimed;
  }

  /** Whether head `a` goes before head `b` (on one lane; across lanes, for who gets a budget's last pages). */
  private before(a: OutboxHead, b: OutboxHead): boolean {
    if (a.priority !== b.priority) return a.priority < b.priority;
    const ta = this.turns.get(a.lane)?.get(a.tenant) ?? 0;
    const tb = this.turns.get(b.lane)?.get(b.tenant) ?? 0;
    if (ta !== tb) return ta < tb;
    return a.nextAt !== b.nextAt ? a.nextAt < b.nextAt : a.id < b.id;
  }

  /** Pages of a tenant delivered after `since` or being sent now (customer updates are not pages). */
  sentBy(tenant: string, since: number, t: Rows = this.state): Promise<number> {
    return t.outbox.sentBy(tenant, since);
  }

  /** A tenant's due pages that are waiting (customer updates are not pages). */
  pendingOf(tenant: string, now: number): Promise<OutboxRow[]> {
    return this.state.outbox.pendingOf(tenant, now);
  }

  /** Outcomes below are recorded only on a row this sender still has claimed (another may have taken it over). */
  delivered(id: number, now: number, t: Rows = this.state): Promise<void> {
    return t.outbox.delivered(id, this.sender, now);
  }

  /**
   * Records a failed attempt: retryable and attempts left → pending again after a backoff; otherwise failed for
   * good. Returns the new state.
   */
  failed(id: number, reason: string, retryable: boolean, now: number, random: () => number = Math.random, t: Rows = this.state): Promise<OutboxState> {
    return t.outbox.failed(id, this.sender, reason, now, (attempts) =>
      retryable && attempts < this.retry.maxAttempts ? { retryAt: now + backoffMs(attempts, this.retry, random) } : undefined,
    );
  }

  /** Puts a claimed row back without counting the attempt (a rate limit said "not yet"). */
  defer(id: number, until: number, now: number): Promise<void> {
    return this.state.outbox.defer(id, this.sender, until, now);
  }

  /** Distinct (recipient, channel) pairs that received a page for an incident: who hears about its ack/resolve. */
  deliveredTo(incidentId: number, t: Rows = this.state): Promise<{ recipient: string; channel: string }[]> {
    return t.outbox.deliveredTo(incidentId);
  }

  /**
   * Rows being sent by other senders (at start: by a run that was killed mid-request): how many, and when the last
   * claim runs out. They are sent again then, with the same idempotency key (receivers that honour it see one delivery).
   */
  inFlight(): Promise<{ rows: number; until: number | undefined }> {
    return this.state.outbox.inFlight(this.sender);
  }

  /** Cancels pending rows of an incident of the given kinds (an ack stops escalation at once). */
  cancel(incidentId: number, kinds: readonly PageKind[], now: number, t: Rows = this.state): Promise<number> {
    return t.outbox.cancel(incidentId, kinds, now);
  }

  get(id: number, t: Rows = this.state): Promise<OutboxRow | undefined> {
    return t.outbox.get(id);
  }

  ofIncident(incidentId: number): Promise<OutboxRow[]> {
    return this.state.outbox.ofIncident(incidentId);
  }

  ofStorm(stormId: number): Promise<OutboxRow[]> {
    return this.state.outbox.ofStorm(stormId);
  }

  /** Who a storm has paged (sent, or still on its way): they hear what changes in it. */
  pagedByStorm(stormId: number, t: Rows = this.state): Promise<{ recipient: string; channel: string }[]> {
    return t.outbox.pagedByStorm(stormId);
  }

  /** Cancels pending rows of a storm of the given kinds (its escalation stopped). */
  cancelStorm(stormId: number, kinds: readonly PageKind[], now: number, t: Rows = this.state): Promise<number> {
    return t.outbox.cancelStorm(stormId, kinds, now);
  }

  /** Rows waiting to be sent (pending or in flight), for /metrics and readiness. */
  backlog(): Promise<number> {
    return this.state.outbox.backlog();
  }
}

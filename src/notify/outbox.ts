import { randomUUID } from 'node:crypto';
import type { Db } from '../storage/sqlite.js';
import type { PageKind } from './channel.js';

/**
 * pending → sending → delivered; a retryable failure goes back to pending with a later `next_at`; a permanent one
 * (or running out of attempts) is failed, which the sender answers with the person's next channel; cancelled rows
 * were escalations made moot by an ack. A sending row is claimed by one sender until `claim_until`: a sender that
 * died mid-send (kill -9) leaves it to be claimed again once that has passed, never sooner.
 */
export type OutboxState = 'pending' | 'sending' | 'delivered' | 'failed' | 'cancelled';

export interface OutboxItem {
  /** Idempotency key: the same notification enqueued twice (a replayed event, a retried pass) is one row. */
  readonly key: string;
  readonly incidentId: number;
  readonly kind: PageKind;
  /** A person id, or a team channel id. */
  readonly recipient: string;
  /** "email", or a chat endpoint id. */
  readonly channel: string;
  /** The rendered page (JSON), fixed when enqueued so a retry sends the same message. */
  readonly payload: string;
}

export interface OutboxRow extends OutboxItem {
  readonly id: number;
  readonly state: OutboxState;
  readonly attempts: number;
  readonly nextAt: number;
  readonly lastError: string | undefined;
  readonly createdAt: number;
  readonly sentAt: number | undefined;
  /** While sending: until when its sender's claim holds. */
  readonly claimUntil: number;
}

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

interface Row {
  id: number;
  claimed_by: string | null;
  key: string;
  incident_id: number;
  kind: PageKind;
  recipient: string;
  channel: string;
  payload: string;
  state: OutboxState;
  attempts: number;
  next_at: number;
  last_error: string | null;
  created_at: number;
  sent_at: number | null;
  claim_until: number;
}

const fromRow = (r: Row): OutboxRow => ({
  id: r.id, key: r.key, incidentId: r.incident_id, kind: r.kind, recipient: r.recipient, channel: r.channel, payload: r.payload,
  state: r.state, attempts: r.attempts, nextAt: r.next_at, lastError: r.last_error ?? undefined, createdAt: r.created_at, sentAt: r.sent_at ?? undefined,
  claimUntil: r.claim_until,
});

/**
 * The durable outbox in SQLite. Time and randomness are arguments, so retry schedules are testable. Each instance
 * is one sender: what it claims carries its id, and only it records the outcome while its claim holds.
 */
export class Outbox {
  private readonly sender = randomUUID();

  constructor(
    private readonly db: Db,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
    /** How long a claim holds: longer than any send takes. */
    private readonly claimMs = 60_000,
  ) {}

  /** Writes notifications before anything is sent; returns the rows that were new (a known key is ignored). */
  enqueue(items: readonly OutboxItem[], now: number): OutboxRow[] {
    const insert = this.db.prepare(`INSERT INTO outbox (key, incident_id, kind, recipient, channel, payload, state, next_at, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING *`);
    return this.db.transaction(() =>
      items.flatMap((i) => {
        const r = insert.get(i.key, i.incidentId, i.kind, i.recipient, i.channel, i.payload, now, now, now) as Row | undefined;
        return r ? [fromRow(r)] : [];
      }),
    )();
  }

  /**
   * Claims up to `limit` due rows for sending (state → sending, one more attempt, claimed until now + the claim
   * time): pending rows that are due, and rows whose sender's claim ran out (it died mid-send).
   */
  claimDue(now: number, limit: number): OutboxRow[] {
    return (this.db
      .prepare(`UPDATE outbox SET state = 'sending', attempts = attempts + 1, claimed_by = ?, claim_until = ?, updated_at = ?
        WHERE id IN (SELECT id FROM outbox WHERE (state = 'pending' AND next_at <= ?) OR (state = 'sending' AND claim_until <= ?) ORDER BY next_at, id LIMIT ?) RETURNING *`)
      .all(this.sender, now + this.claimMs, now, now, now, limit) as Row[])
      .map(fromRow)
      .sort((a, b) => a.nextAt - b.nextAt || a.id - b.id);
  }

  /** Outcomes below are recorded only on a row this sender still has claimed (another may have taken it over). */
  delivered(id: number, now: number): void {
    this.db.prepare("UPDATE outbox SET state = 'delivered', sent_at = ?, last_error = NULL, updated_at = ? WHERE id = ? AND state = 'sending' AND claimed_by = ?").run(now, now, id, this.sender);
  }

  /**
   * Records a failed attempt: retryable and attempts left → pending again after a backoff; otherwise failed for
   * good. Returns the new state.
   */
  failed(id: number, reason: string, retryable: boolean, now: number, random: () => number = Math.random): OutboxState {
    const row = this.db.prepare('SELECT * FROM outbox WHERE id = ?').get(id) as Row | undefined;
    if (!row || row.state !== 'sending' || row.claimed_by !== this.sender) return row?.state ?? 'failed';
    const again = retryable && row.attempts < this.retry.maxAttempts;
    this.db
      .prepare('UPDATE outbox SET state = ?, next_at = ?, last_error = ?, updated_at = ? WHERE id = ?')
      .run(again ? 'pending' : 'failed', again ? now + backoffMs(row.attempts, this.retry, random) : row.next_at, reason, now, id);
    return again ? 'pending' : 'failed';
  }

  /** Puts a claimed row back without counting the attempt (a rate limit said "not yet"). */
  defer(id: number, until: number, now: number): void {
    this.db.prepare("UPDATE outbox SET state = 'pending', attempts = attempts - 1, next_at = ?, updated_at = ? WHERE id = ? AND state = 'sending' AND claimed_by = ?").run(until, now, id, this.sender);
  }

  /** Distinct (recipient, channel) pairs that received a page for an incident: who hears about its ack/resolve. */
  deliveredTo(incidentId: number): { recipient: string; channel: string }[] {
    return this.db
      // Customer updates (keys "ticket:…") are not pages: customers are told by the ticket, not the incident.
      .prepare("SELECT DISTINCT recipient, channel FROM outbox WHERE incident_id = ? AND state = 'delivered' AND kind IN ('opened', 'escalated') AND key NOT LIKE 'ticket:%' ORDER BY recipient, channel")
      .all(incidentId) as { recipient: string; channel: string }[];
  }

  /**
   * Rows being sent by other senders (at start: by a run that was killed mid-request): how many, and when the last
   * claim runs out. They are sent again then, with the same idempotency key (receivers that honour it see one delivery).
   */
  inFlight(): { rows: number; until: number | undefined } {
    const r = this.db.prepare("SELECT count(*) AS n, max(claim_until) AS until FROM outbox WHERE state = 'sending' AND claimed_by IS NOT ?").get(this.sender) as { n: number; until: number | null };
    return { rows: r.n, until: r.until ?? undefined };
  }

  /** Cancels pending rows of an incident of the given kinds (an ack stops escalation at once). */
  cancel(incidentId: number, kinds: readonly PageKind[], now: number): number {
    if (kinds.length === 0) return 0;
    return this.db
      .prepare(`UPDATE outbox SET state = 'cancelled', updated_at = ? WHERE incident_id = ? AND state = 'pending' AND kind IN (${kinds.map(() => '?').join(', ')})`)
      .run(now, incidentId, ...kinds).changes;
  }

  get(id: number): OutboxRow | undefined {
    const r = this.db.prepare('SELECT * FROM outbox WHERE id = ?').get(id) as Row | undefined;
    return r && fromRow(r);
  }

  ofIncident(incidentId: number): OutboxRow[] {
    return (this.db.prepare('SELECT * FROM outbox WHERE incident_id = ? ORDER BY id').all(incidentId) as Row[]).map(fromRow);
  }

  /** Rows waiting to be sent (pending or in flight), for /metrics and readiness. */
  backlog(): number {
    return (this.db.prepare("SELECT count(*) AS n FROM outbox WHERE state IN ('pending', 'sending')").get() as { n: number }).n;
  }
}

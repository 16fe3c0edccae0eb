import { randomUUID } from 'node:crypto';
import { EMAIL } from '../oncall/config.js';
import type { Priority } from '../shared/priority.js';
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
  /** The incident's (or storm's) priority when enqueued: lanes send the most urgent page first. */
  readonly priority: Priority;
  /** Whose page it is: tenants take turns on a lane, and pages count against their tenant's budget. */
  readonly tenant: string;
  /** A storm page (incidentId 0) covers the storm's incidents. */
  readonly stormId?: number | undefined;
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
  priority: Priority;
  tenant: string;
  storm_id: number | null;
}

/** The first claimable row of a tenant on a lane (customer updates apart). */
type Head = Row & { lane: string; customer: number };

const fromRow = (r: Row): OutboxRow => ({
  id: r.id, key: r.key, incidentId: r.incident_id, kind: r.kind, recipient: r.recipient, channel: r.channel, payload: r.payload,
  priority: r.priority, tenant: r.tenant, stormId: r.storm_id ?? undefined, state: r.state, attempts: r.attempts, nextAt: r.next_at, lastError: r.last_error ?? undefined, createdAt: r.created_at, sentAt: r.sent_at ?? undefined,
  claimUntil: r.claim_until,
});

/**
 * The lane a page is sent on: one per chat endpoint (its rate limit and its hangs are its own), one per email
 * recipient (SMTP connections are per message). A lane sends one page at a time, so a hung request holds up only
 * the pages behind it on that lane. LANE_SQL is the same in SQL.
 */
export const laneOf = (channel: string, recipient: string): string => (channel === EMAIL ? `${EMAIL} ${recipient}` : channel);
const LANE_SQL = `CASE WHEN channel = '${EMAIL}' THEN channel || ' ' || recipient ELSE channel END`;

/** Customer updates of tickets (keys "ticket:…") are not pages: no page budget holds or counts them. */
const CUSTOMER_SQL = "key LIKE 'ticket:%'";

export interface ClaimOptions {
  /** Lanes with a page in flight: they get nothing more until it is done. */
  readonly busy?: ReadonlySet<string>;
  /**
   * Whether a tenant may send one more page now (its page budget): asked once for each page about to be claimed, the
   * most urgent first; a page refused waits and its lane takes its next candidate. Customer updates are not asked.
   */
  readonly admit?: (tenant: string) => boolean;
}

/**
 * The durable outbox in SQLite. Time and randomness are arguments, so retry schedules are testable. Each instance
 * is one sender: what it claims carries its id, and only it records the outcome while its claim holds.
 */
export class Outbox {
  private readonly sender = randomUUID();
  /** Per lane, when each tenant was last served (a counter), for taking turns. In memory: fairness, not state. */
  private readonly turns = new Map<string, Map<string, number>>();
  private turn = 0;

  constructor(
    private readonly db: Db,
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
  enqueue(items: readonly OutboxItem[], now: number): OutboxRow[] {
    const insert = this.db.prepare(`INSERT INTO outbox (key, incident_id, kind, recipient, channel, payload, priority, tenant, storm_id, state, next_at, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING *`);
    const raise = this.db.prepare(`UPDATE outbox SET priority = ? WHERE state = 'pending' AND incident_id = ? AND storm_id IS ? AND recipient = ? AND channel = ? AND priority > ? AND id < ?`);
    return this.db.transaction(() =>
      items.flatMap((i) => {
        const r = insert.get(i.key, i.incidentId, i.kind, i.recipient, i.channel, i.payload, i.priority, i.tenant, i.stormId ?? null, now, now, now) as Row | undefined;
        if (!r) return [];
        raise.run(i.priority, i.incidentId, i.stormId ?? null, i.recipient, i.channel, i.priority, r.id);
        return [fromRow(r)];
      }),
    )();
  }

  /**
   * Claims the next row of each lane that is not busy (state → sending, one more attempt, claimed until now + the
   * claim time) among the pending rows that are due and the rows whose sender's claim ran out (it died mid-send):
   * the most urgent priority first; within a priority, tenants take turns (the one served longest ago on that lane
   * goes next), so one tenant's flood never queues another tenant's page behind it; then the order they fell due.
   */
  claimDue(now: number, o: ClaimOptions = {}): OutboxRow[] {
    // The head of each (lane, tenant, customer or not): the rest of a tenant's rows on that lane can only come after it.
    const heads = this.db
      .prepare(`SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY lane, tenant, customer ORDER BY priority, next_at, id) AS rn
          FROM (SELECT *, ${LANE_SQL} AS lane, ${CUSTOMER_SQL} AS customer FROM outbox WHERE (state = 'pending' AND next_at <= ?) OR (state = 'sending' AND claim_until <= ?)))
        WHERE rn = 1`)
      .all(now, now) as Head[];
    const lanes = new Map<string, Head[]>();
    for (const h of heads) if (!o.busy?.has(h.lane)) lanes.set(h.lane, [...(lanes.get(h.lane) ?? []), h]);
    const order = (a: Head, b: Head) => (this.before(a, b) ? -1 : 1);
    const queues = [...lanes.values()].map((q) => q.sort(order)).sort((a, b) => order(a[0]!, b[0]!));
    const claim = this.db.prepare(`UPDATE outbox SET state = 'sending', attempts = attempts + 1, claimed_by = ?, claim_until = ?, updated_at = ?
      WHERE id = ? AND ((state = 'pending' AND next_at <= ?) OR (state = 'sending' AND claim_until <= ?)) RETURNING *`);
    return this.db.transaction(() =>
      // Lanes whose best page is the most urgent claim first: they get a tenant's last pages of its budget.
      queues.flatMap((queue) => {
        const h = queue.find((c) => c.customer || !o.admit || o.admit(c.tenant));
        const r = h && (claim.get(this.sender, now + this.claimMs, now, h.id, now, now) as Row | undefined);
        if (!h || !r) return [];
        const turns = this.turns.get(h.lane) ?? new Map<string, number>();
        this.turns.set(h.lane, turns.set(h.tenant, ++this.turn));
        return [fromRow(r)];
      }),
    )();
  }

  /** Whether head `a` goes before head `b` (on one lane; across lanes, for who gets a budget's last pages). */
  private before(a: Head, b: Head): boolean {
    if (a.priority !== b.priority) return a.priority < b.priority;
    const ta = this.turns.get(a.lane)?.get(a.tenant) ?? 0;
    const tb = this.turns.get(b.lane)?.get(b.tenant) ?? 0;
    if (ta !== tb) return ta < tb;
    return a.next_at !== b.next_at ? a.next_at < b.next_at : a.id < b.id;
  }

  /** Pages of a tenant delivered after `since` or being sent now (customer updates are not pages). */
  sentBy(tenant: string, since: number): number {
    // Two counts, so each reads its index (outbox_tenant_sent, outbox_due) instead of the whole outbox.
    return (this.db
      .prepare(`SELECT (SELECT count(*) FROM outbox WHERE tenant = ? AND state = 'delivered' AND sent_at > ? AND NOT ${CUSTOMER_SQL})
          + (SELECT count(*) FROM outbox WHERE state = 'sending' AND tenant = ? AND NOT ${CUSTOMER_SQL}) AS n`)
      .get(tenant, since, tenant) as { n: number }).n;
  }

  /** A tenant's due pages that are waiting (customer updates are not pages). */
  pendingOf(tenant: string, now: number): OutboxRow[] {
    return (this.db.prepare(`SELECT * FROM outbox WHERE tenant = ? AND state = 'pending' AND next_at <= ? AND NOT ${CUSTOMER_SQL} ORDER BY priority, next_at, id`).all(tenant, now) as Row[]).map(fromRow);
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

  ofStorm(stormId: number): OutboxRow[] {
    return (this.db.prepare('SELECT * FROM outbox WHERE storm_id = ? ORDER BY id').all(stormId) as Row[]).map(fromRow);
  }

  /** Who a storm has paged (sent, or still on its way): they hear what changes in it. */
  pagedByStorm(stormId: number): { recipient: string; channel: string }[] {
    return this.db
      .prepare("SELECT DISTINCT recipient, channel FROM outbox WHERE storm_id = ? AND kind IN ('opened', 'escalated') AND state IN ('pending', 'sending', 'delivered') ORDER BY recipient, channel")
      .all(stormId) as { recipient: string; channel: string }[];
  }

  /** Cancels pending rows of a storm of the given kinds (its escalation stopped). */
  cancelStorm(stormId: number, kinds: readonly PageKind[], now: number): number {
    return this.db
      .prepare(`UPDATE outbox SET state = 'cancelled', updated_at = ? WHERE storm_id = ? AND state = 'pending' AND kind IN (${kinds.map(() => '?').join(', ')})`)
      .run(now, stormId, ...kinds).changes;
  }

  /** Rows waiting to be sent (pending or in flight), for /metrics and readiness. */
  backlog(): number {
    return (this.db.prepare("SELECT count(*) AS n FROM outbox WHERE state IN ('pending', 'sending')").get() as { n: number }).n;
  }
}

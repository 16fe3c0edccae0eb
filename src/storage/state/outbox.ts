import { EMAIL, type PageKind } from '../../shared/paging.js';
import type { Priority } from '../../shared/priority.js';
import type { Db } from '../sqlite.js';

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
export type OutboxHead = OutboxRow & { readonly lane: string; readonly customer: boolean };

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

/** The outbox table: pages and customer updates, written before anything is sent. */
export class OutboxRepo {
  constructor(private readonly db: Db) {}

  /**
   * Inserts the items whose key is new (returned); earlier pending rows of the same incident (or storm) to the same
   * recipient and channel are raised to the new row's priority.
   */
  insert(items: readonly OutboxItem[], now: number): OutboxRow[] {
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

  /** The head of each (lane, tenant, customer update or not) among the rows due now and the claims run out. */
  heads(now: number): OutboxHead[] {
    const rows = this.db
      .prepare(`SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY lane, tenant, customer ORDER BY priority, next_at, id) AS rn
          FROM (SELECT *, ${LANE_SQL} AS lane, ${CUSTOMER_SQL} AS customer FROM outbox WHERE (state = 'pending' AND next_at <= ?) OR (state = 'sending' AND claim_until <= ?)))
        WHERE rn = 1`)
      .all(now, now) as (Row & { lane: string; customer: number })[];
    return rows.map((r) => ({ ...fromRow(r), lane: r.lane, customer: r.customer !== 0 }));
  }

  /** Claims a row still claimable for `sender` until `until` (state sending, one more attempt). */
  claim(id: number, sender: string, until: number, now: number): OutboxRow | undefined {
    const r = this.db
      .prepare(`UPDATE outbox SET state = 'sending', attempts = attempts + 1, claimed_by = ?, claim_until = ?, updated_at = ?
        WHERE id = ? AND ((state = 'pending' AND next_at <= ?) OR (state = 'sending' AND claim_until <= ?)) RETURNING *`)
      .get(sender, until, now, id, now, now) as Row | undefined;
    return r && fromRow(r);
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

  /** Outcomes are recorded only on a row `sender` still has claimed (another may have taken it over). */
  delivered(id: number, sender: string, now: number): void {
    this.db.prepare("UPDATE outbox SET state = 'delivered', sent_at = ?, last_error = NULL, updated_at = ? WHERE id = ? AND state = 'sending' AND claimed_by = ?").run(now, now, id, sender);
  }

  /**
   * A failed attempt of a row `sender` has claimed: `next` decides from its attempts so far whether it is pending
   * again (and from when) or failed. Returns the row's state afterwards.
   */
  failed(id: number, sender: string, reason: string, now: number, next: (attempts: number) => { retryAt: number } | undefined): OutboxState {
    const row = this.db.prepare('SELECT * FROM outbox WHERE id = ?').get(id) as Row | undefined;
    if (!row || row.state !== 'sending' || row.claimed_by !== sender) return row?.state ?? 'failed';
    const again = next(row.attempts);
    this.db.prepare('UPDATE outbox SET state = ?, next_at = ?, last_error = ?, updated_at = ? WHERE id = ?').run(again ? 'pending' : 'failed', again ? again.retryAt : row.next_at, reason, now, id);
    return again ? 'pending' : 'failed';
  }

  /** Puts a claimed row back without counting the attempt. */
  defer(id: number, sender: string, until: number, now: number): void {
    this.db.prepare("UPDATE outbox SET state = 'pending', attempts = attempts - 1, next_at = ?, updated_at = ? WHERE id = ? AND state = 'sending' AND claimed_by = ?").run(until, now, id, sender);
  }

  /** Distinct (recipient, channel) pairs that received a page for an incident: who hears about its ack/resolve. */
  deliveredTo(incidentId: number): { recipient: string; channel: string }[] {
    return this.db
      // Customer updates (keys "ticket:…") are not pages: customers are told by the ticket, not the incident.
      .prepare("SELECT DISTINCT recipient, channel FROM outbox WHERE incident_id = ? AND state = 'delivered' AND kind IN ('opened', 'escalated') AND key NOT LIKE 'ticket:%' ORDER BY recipient, channel")
      .all(incidentId) as { recipient: string; channel: string }[];
  }

  /** Rows being sent by senders other than `sender`: how many, and when the last claim runs out. */
  inFlight(sender: string): { rows: number; until: number | undefined } {
    const r = this.db.prepare("SELECT count(*) AS n, max(claim_until) AS until FROM outbox WHERE state = 'sending' AND claimed_by IS NOT ?").get(sender) as { n: number; until: number | null };
    return { rows: r.n, until: r.until ?? undefined };
  }

  /** Cancels pending rows of an incident of the given kinds. */
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

  /** Cancels pending rows of a storm of the given kinds. */
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

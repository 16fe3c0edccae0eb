import { EMAIL, type PageKind } from '../../shared/paging.js';
import type { Priority } from '../../shared/priority.js';
import { type Sql, marks } from './sql.js';

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
  constructor(private readonly sql: Sql) {}

  /**
   * Inserts the items whose key is new (returned); earlier pending rows of the same incident (or storm) to the same
   * recipient and channel are raised to the new row's priority. The statements run one after the other: a caller
   * that needs them all stored or none (a page and the raise of its earlier pages) runs this in a transaction.
   */
  async insert(items: readonly OutboxItem[], now: number): Promise<OutboxRow[]> {
    const out: OutboxRow[] = [];
    for (const i of items) {
      const r = await this.sql.get<Row>(
        `INSERT INTO outbox (key, incident_id, kind, recipient, channel, payload, priority, tenant, storm_id, state, next_at, created_at, updated_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING *`,
        i.key, i.incidentId, i.kind, i.recipient, i.channel, i.payload, i.priority, i.tenant, i.stormId ?? null, now, now, now,
      );
      if (!r) continue;
      // IS NOT DISTINCT FROM: an incident's pages (no storm) match each other, as SQLite's `storm_id IS ?` did.
      await this.sql.run(
        `UPDATE outbox SET priority = ? WHERE state = 'pending' AND incident_id = ? AND storm_id IS NOT DISTINCT FROM ? AND recipient = ? AND channel = ? AND priority > ? AND id < ?`,
        i.priority, i.incidentId, i.stormId ?? null, i.recipient, i.channel, i.priority, r.id,
      );
      out.push(fromRow(r));
    }
    return out;
  }

  /** The head of each (lane, tenant, customer update or not) among the rows due now and the claims run out. */
  async heads(now: number): Promise<OutboxHead[]> {
    const rows = await this.sql.all<Row & { lane: string; customer: number }>(
      `SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY lane, tenant, customer ORDER BY priority, next_at, id) AS rn
          FROM (SELECT *, ${LANE_SQL} AS lane, CASE WHEN ${CUSTOMER_SQL} THEN 1 ELSE 0 END AS customer FROM outbox
            WHERE (state = 'pending' AND next_at <= ?) OR (state = 'sending' AND claim_until <= ?)) AS due) AS ranked
        WHERE rn = 1`,
      now, now,
    );
    return rows.map((r) => ({ ...fromRow(r), lane: r.lane, customer: r.customer !== 0 }));
  }

  /**
   * Claims a row still claimable for `sender` until `until` (state sending, one more attempt). One conditional
   * UPDATE: of two senders claiming the same row, one changes it and the other gets nothing back.
   */
  async claim(id: number, sender: string, until: number, now: number): Promise<OutboxRow | undefined> {
    const r = await this.sql.get<Row>(
      `UPDATE outbox SET state = 'sending', attempts = attempts + 1, claimed_by = ?, claim_until = ?, updated_at = ?
        WHERE id = ? AND ((state = 'pending' AND next_at <= ?) OR (state = 'sending' AND claim_until <= ?)) RETURNING *`,
      sender, until, now, id, now, now,
    );
    return r && fromRow(r);
  }

  /** Pages of a tenant delivered after `since` or being sent now (customer updates are not pages). */
  async sentBy(tenant: string, since: number): Promise<number> {
    // Two counts, so each reads its index (outbox_tenant_sent, outbox_due) instead of the whole outbox.
    const r = await this.sql.get<{ n: number }>(
      `SELECT (SELECT count(*) FROM outbox WHERE tenant = ? AND state = 'delivered' AND sent_at > ? AND NOT ${CUSTOMER_SQL})
          + (SELECT count(*) FROM outbox WHERE state = 'sending' AND tenant = ? AND NOT ${CUSTOMER_SQL}) AS n`,
      tenant, since, tenant,
    );
    return r?.n ?? 0;
  }

  /** A tenant's due pages that are waiting (customer updates are not pages). */
  async pendingOf(tenant: string, now: number): Promise<OutboxRow[]> {
    const rows = await this.sql.all<Row>(`SELECT * FROM outbox WHERE tenant = ? AND state = 'pending' AND next_at <= ? AND NOT ${CUSTOMER_SQL} ORDER BY priority, next_at, id`, tenant, now);
    return rows.map(fromRow);
  }

  /** Outcomes are recorded only on a row `sender` still has claimed (another may have taken it over). */
  async delivered(id: number, sender: string, now: number): Promise<void> {
    await this.sql.run("UPDATE outbox SET state = 'delivered', sent_at = ?, last_error = NULL, updated_at = ? WHERE id = ? AND state = 'sending' AND claimed_by = ?", now, now, id, sender);
  }

  /**
   * A failed attempt of a row `sender` has claimed: `next` decides from its attempts so far whether it is pending
   * again (and from when) or failed. Returns the row's state afterwards.
   */
  async failed(id: number, sender: string, reason: string, now: number, next: (attempts: number) => { retryAt: number } | undefined): Promise<OutboxState> {
    const row = await this.sql.get<Row>('SELECT * FROM outbox WHERE id = ?', id);
    if (!row || row.state !== 'sending' || row.claimed_by !== sender) return row?.state ?? 'failed';
    const again = next(row.attempts);
    // The read and the update are two statements (callers need not hold a transaction): the update applies only if
    // the row is still this sender's claim of that attempt — another sender may have taken over a claim that ran
    // out in between, and its attempt is not this one's to record.
    const changed = await this.sql.run(
      "UPDATE outbox SET state = ?, next_at = ?, last_error = ?, updated_at = ? WHERE id = ? AND state = 'sending' AND claimed_by = ? AND attempts = ?",
      again ? 'pending' : 'failed', again ? again.retryAt : row.next_at, reason, now, id, sender, row.attempts,
    );
    if (changed === 0) return (await this.sql.get<{ state: OutboxState }>('SELECT state FROM outbox WHERE id = ?', id))?.state ?? 'failed';
    return again ? 'pending' : 'failed';
  }

  /** Puts a claimed row back without counting the attempt. */
  async defer(id: number, sender: string, until: number, now: number): Promise<void> {
    await this.sql.run("UPDATE outbox SET state = 'pending', attempts = attempts - 1, next_at = ?, updated_at = ? WHERE id = ? AND state = 'sending' AND claimed_by = ?", until, now, id, sender);
  }

  /** Distinct (recipient, channel) pairs that received a page for an incident: who hears about its ack/resolve. */
  deliveredTo(incidentId: number): Promise<{ recipient: string; channel: string }[]> {
    return this.sql.all(
      // Customer updates (keys "ticket:…") are not pages: customers are told by the ticket, not the incident.
      "SELECT DISTINCT recipient, channel FROM outbox WHERE incident_id = ? AND state = 'delivered' AND kind IN ('opened', 'escalated') AND key NOT LIKE 'ticket:%' ORDER BY recipient, channel",
      incidentId,
    );
  }

  /** Rows being sent by senders other than `sender`: how many, and when the last claim runs out. */
  async inFlight(sender: string): Promise<{ rows: number; until: number | undefined }> {
    // IS DISTINCT FROM: rows left sending by an older version have no claimed_by, and count as another sender's.
    const r = await this.sql.get<{ n: number; until: number | null }>("SELECT count(*) AS n, max(claim_until) AS until FROM outbox WHERE state = 'sending' AND claimed_by IS DISTINCT FROM ?", sender);
    return { rows: r?.n ?? 0, until: r?.until ?? undefined };
  }

  /** Cancels pending rows of an incident of the given kinds. */
  async cancel(incidentId: number, kinds: readonly PageKind[], now: number): Promise<number> {
    if (kinds.length === 0) return 0;
    return this.sql.run(`UPDATE outbox SET state = 'cancelled', updated_at = ? WHERE incident_id = ? AND state = 'pending' AND kind IN (${marks(kinds)})`, now, incidentId, ...kinds);
  }

  async get(id: number): Promise<OutboxRow | undefined> {
    const r = await this.sql.get<Row>('SELECT * FROM outbox WHERE id = ?', id);
    return r && fromRow(r);
  }

  async ofIncident(incidentId: number): Promise<OutboxRow[]> {
    return (await this.sql.all<Row>('SELECT * FROM outbox WHERE incident_id = ? ORDER BY id', incidentId)).map(fromRow);
  }

  async ofStorm(stormId: number): Promise<OutboxRow[]> {
    return (await this.sql.all<Row>('SELECT * FROM outbox WHERE storm_id = ? ORDER BY id', stormId)).map(fromRow);
  }

  /** Who a storm has paged (sent, or still on its way): they hear what changes in it. */
  pagedByStorm(stormId: number): Promise<{ recipient: string; channel: string }[]> {
    return this.sql.all(
      "SELECT DISTINCT recipient, channel FROM outbox WHERE storm_id = ? AND kind IN ('opened', 'escalated') AND state IN ('pending', 'sending', 'delivered') ORDER BY recipient, channel",
      stormId,
    );
  }

  /** Cancels pending rows of a storm of the given kinds. */
  async cancelStorm(stormId: number, kinds: readonly PageKind[], now: number): Promise<number> {
    // An empty IN () is SQLite's (nothing matches), not PostgreSQL's.
    if (kinds.length === 0) return 0;
    return this.sql.run(`UPDATE outbox SET state = 'cancelled', updated_at = ? WHERE storm_id = ? AND state = 'pending' AND kind IN (${marks(kinds)})`, now, stormId, ...kinds);
  }

  /** Rows waiting to be sent (pending or in flight), for /metrics and readiness. */
  async backlog(): Promise<number> {
    return (await this.sql.get<{ n: number }>("SELECT count(*) AS n FROM outbox WHERE state IN ('pending', 'sending')"))?.n ?? 0;
  }
}

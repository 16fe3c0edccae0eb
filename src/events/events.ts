import { z } from 'zod';
import { badRequest, conflict, notFound } from '../shared/http-errors.js';
import type { Db } from '../storage/sqlite.js';
import { durationSchema } from '../util/units.js';
import type { EventWindow } from './overlay.js';

/** What an operator registers (POST /v1/events); times are epoch ms here (the route parses RFC 3339). */
export const eventSpecSchema = z.strictObject({
  tenant: z.string().min(1),
  name: z.string().min(1).max(200),
  /** Empty or absent: every region of the tenant. */
  regions: z.array(z.string().min(1).max(128)).max(500).default([]),
  starts_at: z.number().int(),
  ends_at: z.number().int(),
  /** Thresholds during the event: multiplied by this for "> / >=" rules, divided by it for "< / <=" rules. */
  factor: z.number().gt(0).lt(1).default(0.5),
  /** Rule ids the overlay applies to; absent: every threshold rule but delivery targets (overlay.ts `tightens`). */
  rules: z.array(z.string().min(1)).min(1).max(500).optional(),
  /** How long before the start the readiness report goes out. */
  readiness_lead: durationSchema(0, 30 * 86_400_000).default(86_400_000),
  /** Who gets the readiness report; absent: the tenant's report recipients, else its contacts. */
  notify: z.array(z.email()).min(1).max(100).optional(),
});
export type EventSpec = z.output<typeof eventSpecSchema>;

/** Longest event: a month (a long-running overlay is a rule change, not an event). */
export const MAX_EVENT_MS = 31 * 86_400_000;

export interface PlannedEvent extends EventWindow {
  readonly spec: EventSpec;
  readonly readinessAt: number;
  readonly readinessSentAt: number | undefined;
  readonly readinessAttempts: number;
  readonly readinessError: string | undefined;
  readonly createdBy: string;
  readonly createdAt: number;
  readonly cancelledAt: number | undefined;
}

interface Row {
  id: number; tenant: string; name: string; regions: string; starts_at: number; ends_at: number; spec: string;
  readiness_at: number; readiness_sent_at: number | null; readiness_attempts: number; readiness_error: string | null;
  created_by: string; created_at: number; cancelled_at: number | null;
}

function fromRow(r: Row): PlannedEvent {
  const spec = eventSpecSchema.parse(JSON.parse(r.spec));
  return {
    id: r.id, name: r.name, tenant: r.tenant, regions: JSON.parse(r.regions) as string[], startsAt: r.starts_at, endsAt: r.ends_at,
    factor: spec.factor, rules: spec.rules ?? null, spec,
    readinessAt: r.readiness_at, readinessSentAt: r.readiness_sent_at ?? undefined, readinessAttempts: r.readiness_attempts, readinessError: r.readiness_error ?? undefined,
    createdBy: r.created_by, createdAt: r.created_at, cancelledAt: r.cancelled_at ?? undefined,
  };
}

export type EventState = 'upcoming' | 'active' | 'ended' | 'cancelled';
export const stateOf = (e: PlannedEvent, now: number): EventState =>
  e.cancelledAt !== undefined ? 'cancelled' : now < e.startsAt ? 'upcoming' : now < e.endsAt ? 'active' : 'ended';

/** A runner's hold on one attempt at an event's readiness report, until `until`. */
export interface ReadinessClaim {
  readonly event: PlannedEvent;
  readonly until: number;
}

/** A readiness report that failed is retried this much later, this many times in all. */
export const READINESS_RETRY_MS = 5 * 60_000;
export const READINESS_ATTEMPTS = 5;
/** How long a runner's claim on a readiness report holds: longer than building and sending one takes. */
export const READINESS_CLAIM_MS = 5 * 60_000;

/** Planned high-traffic events in the state store. */
export class Events {
  constructor(private readonly db: Db) {}

  create(spec: EventSpec, actor: string, now: number): PlannedEvent {
    if (spec.ends_at <= spec.starts_at) throw badRequest('ends_at: must be after starts_at');
    if (spec.ends_at <= now) throw badRequest('ends_at: the event is already over');
    if (spec.ends_at - spec.starts_at > MAX_EVENT_MS) throw badRequest('ends_at: an event lasts at most 31 days');
    const regions = [...new Set(spec.regions)].sort();
    const readinessAt = Math.min(spec.starts_at - spec.readiness_lead, spec.starts_at);
    const { lastInsertRowid } = this.db
      .prepare('INSERT INTO events (tenant, name, regions, starts_at, ends_at, spec, readiness_at, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(spec.tenant, spec.name, JSON.stringify(regions), spec.starts_at, spec.ends_at, JSON.stringify({ ...spec, regions }), readinessAt, actor, now);
    return this.require(Number(lastInsertRowid));
  }

  get(id: number): PlannedEvent | undefined {
    const r = this.db.prepare('SELECT * FROM events WHERE id = ?').get(id) as Row | undefined;
    return r && fromRow(r);
  }

  require(id: number): PlannedEvent {
    const e = this.get(id);
    if (!e) throw notFound(`event ${id} not found`);
    return e;
  }

  /** Newest start first; `tenant` narrows. */
  list(tenant?: string, limit = 200): PlannedEvent[] {
    const rows = (tenant === undefined
      ? this.db.prepare('SELECT * FROM events ORDER BY starts_at DESC, id DESC LIMIT ?').all(limit)
      : this.db.prepare('SELECT * FROM events WHERE tenant = ? ORDER BY starts_at DESC, id DESC LIMIT ?').all(tenant, limit)) as Row[];
    return rows.map(fromRow);
  }

  /** Events not cancelled that end after `since` (the engine's overlay: over, or recently ended). */
  endingAfter(since: number): PlannedEvent[] {
    return (this.db.prepare('SELECT * FROM events WHERE cancelled_at IS NULL AND ends_at > ? ORDER BY starts_at').all(since) as Row[]).map(fromRow);
  }

  cancel(id: number, now: number): PlannedEvent {
    const e = this.require(id);
    if (e.cancelledAt !== undefined) return e;
    if (e.endsAt <= now) throw conflict(`event ${id} is over; it cannot be cancelled`);
    this.db.prepare('UPDATE events SET cancelled_at = ? WHERE id = ?').run(now, id);
    return this.require(id);
  }

  /**
   * Claims the readiness reports that are due — not sent, not given up on, not cancelled, not over, not claimed by a
   * runner whose claim still holds — for one attempt each (counted now, so a runner dying mid-send uses one up).
   * Another runner over the same state db finds a claimed report not due, and due again only once the claim has run
   * out (its runner died mid-send). Outcomes are recorded only while the claim holds.
   */
  claimReadiness(now: number): ReadinessClaim[] {
    const until = now + READINESS_CLAIM_MS;
    return (this.db
      .prepare(`UPDATE events SET readiness_claim_until = ?, readiness_attempts = readiness_attempts + 1
        WHERE readiness_sent_at IS NULL AND readiness_attempts < ? AND cancelled_at IS NULL AND readiness_at <= ? AND ends_at > ?
          AND (readiness_claim_until IS NULL OR readiness_claim_until <= ?) RETURNING *`)
      .all(until, READINESS_ATTEMPTS, now, now, now) as Row[])
      .map((r) => ({ event: fromRow(r), until }))
      .sort((x, y) => x.event.readinessAt - y.event.readinessAt || x.event.id - y.event.id);
  }

  readinessSent(c: ReadinessClaim, now: number): void {
    this.db.prepare('UPDATE events SET readiness_sent_at = ?, readiness_error = NULL, readiness_claim_until = NULL WHERE id = ? AND readiness_claim_until = ?').run(now, c.event.id, c.until);
  }

  /** A failed attempt: recorded, and due again a few minutes later. */
  readinessFailed(c: ReadinessClaim, reason: string, now: number): void {
    this.db
      .prepare('UPDATE events SET readiness_error = ?, readiness_at = ?, readiness_claim_until = NULL WHERE id = ? AND readiness_claim_until = ?')
      .run(reason, now + READINESS_RETRY_MS, c.event.id, c.until);
  }
}

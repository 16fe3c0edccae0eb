import { z } from 'zod';
import { badRequest, conflict, notFound } from '../shared/http-errors.js';
import type { EventRecord } from '../storage/state/events.js';
import type { StateStore } from '../storage/state/store.js';
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

/** An event with its spec, its readiness report's progress and who registered it. */
export type PlannedEvent = EventWindow & Omit<EventRecord, keyof EventWindow | 'spec'> & { readonly spec: EventSpec };

/** A stored event: its spec is what this area wrote (validated again on the way back, as before). */
function fromRecord(r: EventRecord): PlannedEvent {
  const spec = eventSpecSchema.parse(r.spec);
  return { ...r, factor: spec.factor, rules: spec.rules ?? null, spec };
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
  constructor(private readonly rows: StateStore['events']) {}

  async create(spec: EventSpec, actor: string, now: number): Promise<PlannedEvent> {
    if (spec.ends_at <= spec.starts_at) throw badRequest('ends_at: must be after starts_at');
    if (spec.ends_at <= now) throw badRequest('ends_at: the event is already over');
    if (spec.ends_at - spec.starts_at > MAX_EVENT_MS) throw badRequest('ends_at: an event lasts at most 31 days');
    const regions = [...new Set(spec.regions)].sort();
    const readinessAt = Math.min(spec.starts_at - spec.readiness_lead, spec.starts_at);
    const id = await this.rows.insert({ tenant: spec.tenant, name: spec.name, regions, startsAt: spec.starts_at, endsAt: spec.ends_at, spec: { ...spec, regions }, readinessAt, createdBy: actor, createdAt: now });
    return this.require(id);
  }

  async get(id: number): Promise<PlannedEvent | undefined> {
    const r = await this.rows.get(id);
    return r && fromRecord(r);
  }

  async require(id: number): Promise<PlannedEvent> {
    const e = await this.get(id);
    if (!e) throw notFound(`event ${id} not found`);
    return e;
  }

  /** Newest start first; `tenant` narrows. */
  async list(tenant?: string, limit = 200): Promise<PlannedEvent[]> {
    return (await this.rows.list(tenant, limit)).map(fromRecord);
  }

  /** Events not cancelled that end after `since` (the engine's overlay: over, or recently ended). */
  async endingAfter(since: number): Promise<PlannedEvent[]> {
    return (await this.rows.endingAfter(since)).map(fromRecord);
  }

  async cancel(id: number, now: number): Promise<PlannedEvent> {
    const e = await this.require(id);
    if (e.cancelledAt !== undefined) return e;
    if (e.endsAt <= now) throw conflict(`event ${id} is over; it cannot be cancelled`);
    await this.rows.cancel(id, now);
    return this.require(id);
  }

  /**
   * Claims the readiness reports that are due — not sent, not given up on, not cancelled, not over, not claimed by a
   * runner whose claim still holds — for one attempt each (counted now, so a runner dying mid-send uses one up).
   * Another runner over the same state db finds a claimed report not due, and due again only once the claim has run
   * out (its runner died mid-send). Outcomes are recorded only while the claim holds.
   */
  async claimReadiness(now: number): Promise<ReadinessClaim[]> {
    const until = now + READINESS_CLAIM_MS;
    return (await this.rows.claimReadiness(now, until, READINESS_ATTEMPTS))
      .map((r) => ({ event: fromRecord(r), until }))
      .sort((x, y) => x.event.readinessAt - y.event.readinessAt || x.event.id - y.event.id);
  }

  readinessSent(c: ReadinessClaim, now: number): Promise<void> {
    return this.rows.readinessSent(c.event.id, c.until, now);
  }

  /** A failed attempt: recorded, and due again a few minutes later. */
  readinessFailed(c: ReadinessClaim, reason: string, now: number): Promise<void> {
    return this.rows.readinessFailed(c.event.id, c.until, reason, now + READINESS_RETRY_MS);
  }
}

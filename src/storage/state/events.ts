import type { Db } from '../sqlite.js';

/** A planned event as stored: `spec` is the events area's (events/events.ts), kept as the JSON it was given. */
export interface EventRecord {
  readonly id: number;
  readonly tenant: string;
  readonly name: string;
  readonly regions: string[];
  readonly startsAt: number;
  readonly endsAt: number;
  readonly spec: unknown;
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

const fromRow = (r: Row): EventRecord => ({
  id: r.id, tenant: r.tenant, name: r.name, regions: JSON.parse(r.regions) as string[], startsAt: r.starts_at, endsAt: r.ends_at, spec: JSON.parse(r.spec) as unknown,
  readinessAt: r.readiness_at, readinessSentAt: r.readiness_sent_at ?? undefined, readinessAttempts: r.readiness_attempts, readinessError: r.readiness_error ?? undefined,
  createdBy: r.created_by, createdAt: r.created_at, cancelledAt: r.cancelled_at ?? undefined,
});

/** The events table: planned events, and their readiness reports' claims and outcomes. */
export class EventRepo {
  constructor(private readonly db: Db) {}

  insert(e: Pick<EventRecord, 'tenant' | 'name' | 'regions' | 'startsAt' | 'endsAt' | 'spec' | 'readinessAt' | 'createdBy' | 'createdAt'>): number {
    return Number(
      this.db
        .prepare('INSERT INTO events (tenant, name, regions, starts_at, ends_at, spec, readiness_at, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(e.tenant, e.name, JSON.stringify(e.regions), e.startsAt, e.endsAt, JSON.stringify(e.spec), e.readinessAt, e.createdBy, e.createdAt).lastInsertRowid,
    );
  }

  get(id: number): EventRecord | undefined {
    const r = this.db.prepare('SELECT * FROM events WHERE id = ?').get(id) as Row | undefined;
    return r && fromRow(r);
  }

  /** Newest start first; `tenant` narrows. */
  list(tenant: string | undefined, limit: number): EventRecord[] {
    const rows = (tenant === undefined
      ? this.db.prepare('SELECT * FROM events ORDER BY starts_at DESC, id DESC LIMIT ?').all(limit)
      : this.db.prepare('SELECT * FROM events WHERE tenant = ? ORDER BY starts_at DESC, id DESC LIMIT ?').all(tenant, limit)) as Row[];
    return rows.map(fromRow);
  }

  /** Events not cancelled that end after `since`, by start. */
  endingAfter(since: number): EventRecord[] {
    return (this.db.prepare('SELECT * FROM events WHERE cancelled_at IS NULL AND ends_at > ? ORDER BY starts_at').all(since) as Row[]).map(fromRow);
  }

  cancel(id: number, now: number): void {
    this.db.prepare('UPDATE events SET cancelled_at = ? WHERE id = ?').run(now, id);
  }

  /**
   * Claims until `until` the readiness reports due at `now` — not sent, fewer than `maxAttempts` attempts, not
   * cancelled, not over, not claimed by a claim that still holds — counting one attempt each.
   */
  claimReadiness(now: number, until: number, maxAttempts: number): EventRecord[] {
    return (this.db
      .prepare(`UPDATE events SET readiness_claim_until = ?, readiness_attempts = readiness_attempts + 1
        WHERE readiness_sent_at IS NULL AND readiness_attempts < ? AND cancelled_at IS NULL AND readiness_at <= ? AND ends_at > ?
          AND (readiness_claim_until IS NULL OR readiness_claim_until <= ?) RETURNING *`)
      .all(until, maxAttempts, now, now, now) as Row[]).map(fromRow);
  }

  /** Outcomes are recorded only while the claim (`until`) holds. */
  readinessSent(id: number, until: number, now: number): void {
    this.db.prepare('UPDATE events SET readiness_sent_at = ?, readiness_error = NULL, readiness_claim_until = NULL WHERE id = ? AND readiness_claim_until = ?').run(now, id, until);
  }

  /** A failed attempt: its reason, and when it is due again. */
  readinessFailed(id: number, until: number, reason: string, dueAgainAt: number): void {
    this.db.prepare('UPDATE events SET readiness_error = ?, readiness_at = ?, readiness_claim_until = NULL WHERE id = ? AND readiness_claim_until = ?').run(reason, dueAgainAt, id, until);
  }
}

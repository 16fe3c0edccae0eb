import type { Sql } from './sql.js';

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
  constructor(private readonly sql: Sql) {}

  async insert(e: Pick<EventRecord, 'tenant' | 'name' | 'regions' | 'startsAt' | 'endsAt' | 'spec' | 'readinessAt' | 'createdBy' | 'createdAt'>): Promise<number> {
    const r = await this.sql.get<{ id: number }>(
      'INSERT INTO events (tenant, name, regions, starts_at, ends_at, spec, readiness_at, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id',
      e.tenant, e.name, JSON.stringify(e.regions), e.startsAt, e.endsAt, JSON.stringify(e.spec), e.readinessAt, e.createdBy, e.createdAt,
    );
    return r!.id;
  }

  async get(id: number): Promise<EventRecord | undefined> {
    const r = await this.sql.get<Row>('SELECT * FROM events WHERE id = ?', id);
    return r && fromRow(r);
  }

  /** Newest start first; `tenant` narrows. */
  async list(tenant: string | undefined, limit: number): Promise<EventRecord[]> {
    const rows = tenant === undefined
      ? await this.sql.all<Row>('SELECT * FROM events ORDER BY starts_at DESC, id DESC LIMIT ?', limit)
      : await this.sql.all<Row>('SELECT * FROM events WHERE tenant = ? ORDER BY starts_at DESC, id DESC LIMIT ?', tenant, limit);
    return rows.map(fromRow);
  }

  /** Events not cancelled that end after `since`, by start (then id, so that both databases give one order). */
  async endingAfter(since: number): Promise<EventRecord[]> {
    return (await this.sql.all<Row>('SELECT * FROM events WHERE cancelled_at IS NULL AND ends_at > ? ORDER BY starts_at, id', since)).map(fromRow);
  }

  async cancel(id: number, now: number): Promise<void> {
    await this.sql.run('UPDATE events SET cancelled_at = ? WHERE id = ?', now, id);
  }

  /**
   * Claims until `until` the readiness reports due at `now` — not sent, fewer than `maxAttempts` attempts, not
   * cancelled, not over, not claimed by a claim that still holds — counting one attempt each. One conditional
   * UPDATE, so that of two runners only one claims each report: on PostgreSQL the second waits on the row and
   * re-checks the WHERE against the claimed row, which no longer matches. The rows come back in no particular order.
   */
  async claimReadiness(now: number, until: number, maxAttempts: number): Promise<EventRecord[]> {
    const rows = await this.sql.all<Row>(
      `UPDATE events SET readiness_claim_until = ?, readiness_attempts = readiness_attempts + 1
        WHERE readiness_sent_at IS NULL AND readiness_attempts < ? AND cancelled_at IS NULL AND readiness_at <= ? AND ends_at > ?
          AND (readiness_claim_until IS NULL OR readiness_claim_until <= ?) RETURNING *`,
      until, maxAttempts, now, now, now,
    );
    return rows.map(fromRow);
  }

  /** Outcomes are recorded only while the claim (`until`) holds. */
  async readinessSent(id: number, until: number, now: number): Promise<void> {
    await this.sql.run('UPDATE events SET readiness_sent_at = ?, readiness_error = NULL, readiness_claim_until = NULL WHERE id = ? AND readiness_claim_until = ?', now, id, until);
  }

  /** A failed attempt: its reason, and when it is due again. */
  async readinessFailed(id: number, until: number, reason: string, dueAgainAt: number): Promise<void> {
    await this.sql.run('UPDATE events SET readiness_error = ?, readiness_at = ?, readiness_claim_until = NULL WHERE id = ? AND readiness_claim_until = ?', reason, dueAgainAt, id, until);
  }
}

import type { Sql } from './sql.js';

export interface Escalation {
  incidentId: number;
  policy: string;
  generation: number;
  startedAt: number;
  nextStep: number;
}

interface Row {
  incident_id: number;
  policy: string;
  generation: number;
  started_at: number;
  next_step: number;
}

const fromRow = (r: Row): Escalation => ({ incidentId: r.incident_id, policy: r.policy, generation: r.generation, startedAt: r.started_at, nextStep: r.next_step });

/** The escalations table: one row per incident paged on its own, its generation bumped by each reopen. */
export class EscalationRepo {
  constructor(private readonly sql: Sql) {}

  /**
   * Starts (or, after a reopen, restarts) an incident's escalation for the timeline entry that triggered it; false
   * when that entry started the running generation already (a replayed event pages nothing anew).
   */
  async begin(incidentId: number, policy: string, entry: number, now: number): Promise<boolean> {
    // The existing row's columns are named with the table: PostgreSQL finds a bare name ambiguous beside excluded.
    const changed = await this.sql.run(
      `INSERT INTO escalations (incident_id, policy, generation, started_at, next_step, started_by_entry) VALUES (?, ?, 0, ?, 0, ?)
       ON CONFLICT (incident_id) DO UPDATE SET policy = excluded.policy, generation = escalations.generation + 1, started_at = excluded.started_at,
         next_step = 0, stopped_at = NULL, started_by_entry = excluded.started_by_entry
       WHERE escalations.started_by_entry IS DISTINCT FROM excluded.started_by_entry`,
      incidentId, policy, now, entry,
    );
    return changed > 0;
  }

  /** The running escalations (or one incident's), by incident. */
  async running(incidentId?: number): Promise<Escalation[]> {
    const rows = incidentId === undefined
      ? await this.sql.all<Row>('SELECT * FROM escalations WHERE stopped_at IS NULL ORDER BY incident_id')
      : await this.sql.all<Row>('SELECT * FROM escalations WHERE stopped_at IS NULL AND incident_id = ?', incidentId);
    return rows.map(fromRow);
  }

  /** The next step of an incident's escalation, running or not (0 when it never had one). */
  async nextStep(incidentId: number): Promise<number> {
    return (await this.sql.get<{ next_step: number }>('SELECT next_step FROM escalations WHERE incident_id = ?', incidentId))?.next_step ?? 0;
  }

  /**
   * Moves a running escalation past the steps just enqueued, conditional on the step read: whoever moves it first
   * enqueues the pages, once.
   */
  async step(e: Escalation, nextStep: number): Promise<boolean> {
    const changed = await this.sql.run('UPDATE escalations SET next_step = ? WHERE incident_id = ? AND generation = ? AND next_step = ?', nextStep, e.incidentId, e.generation, e.nextStep);
    return changed > 0;
  }

  /** Stops an incident's escalation (an ack, a resolve, a storm taking it over). */
  async stop(incidentId: number, now: number): Promise<void> {
    await this.sql.run('UPDATE escalations SET stopped_at = ? WHERE incident_id = ? AND stopped_at IS NULL', now, incidentId);
  }
}

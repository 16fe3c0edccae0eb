import type { Db } from '../sqlite.js';

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
  constructor(private readonly db: Db) {}

  /**
   * Starts (or, after a reopen, restarts) an incident's escalation for the timeline entry that triggered it; false
   * when that entry started the running generation already (a replayed event pages nothing anew).
   */
  begin(incidentId: number, policy: string, entry: number, now: number): boolean {
    return (
      this.db
        .prepare(`INSERT INTO escalations (incident_id, policy, generation, started_at, next_step, started_by_entry) VALUES (?, ?, 0, ?, 0, ?)
          ON CONFLICT (incident_id) DO UPDATE SET policy = excluded.policy, generation = generation + 1, started_at = excluded.started_at, next_step = 0, stopped_at = NULL,
            started_by_entry = excluded.started_by_entry
          WHERE started_by_entry IS NOT excluded.started_by_entry`)
        .run(incidentId, policy, now, entry).changes > 0
    );
  }

  /** The running escalations (or one incident's). */
  running(incidentId?: number): Escalation[] {
    const rows = (incidentId === undefined
      ? this.db.prepare('SELECT * FROM escalations WHERE stopped_at IS NULL').all()
      : this.db.prepare('SELECT * FROM escalations WHERE stopped_at IS NULL AND incident_id = ?').all(incidentId)) as Row[];
    return rows.map(fromRow);
  }

  /** The next step of an incident's escalation, running or not (0 when it never had one). */
  nextStep(incidentId: number): number {
    return (this.db.prepare('SELECT next_step FROM escalations WHERE incident_id = ?').get(incidentId) as { next_step: number } | undefined)?.next_step ?? 0;
  }

  /**
   * Moves a running escalation past the steps just enqueued, conditional on the step read: whoever moves it first
   * enqueues the pages, once.
   */
  step(e: Escalation, nextStep: number): boolean {
    return this.db.prepare('UPDATE escalations SET next_step = ? WHERE incident_id = ? AND generation = ? AND next_step = ?').run(nextStep, e.incidentId, e.generation, e.nextStep).changes > 0;
  }

  /** Stops an incident's escalation (an ack, a resolve, a storm taking it over). */
  stop(incidentId: number, now: number): void {
    this.db.prepare('UPDATE escalations SET stopped_at = ? WHERE incident_id = ? AND stopped_at IS NULL').run(now, incidentId);
  }
}

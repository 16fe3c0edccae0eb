import type { Priority } from '../../shared/priority.js';
import type { Sql } from './sql.js';

export interface Storm {
  readonly id: number;
  readonly tenant: string;
  readonly policy: string;
  readonly opened_at: number;
  readonly closed_at: number | null;
  /** Escalation: restarted (generation + 1) whenever it starts again; `started_at` null while stopped. */
  readonly generation: number;
  readonly started_at: number | null;
  readonly next_step: number;
  /** Bumped by every change people should hear about; `told_version` is what the last page showed. */
  readonly version: number;
  readonly told_version: number;
  readonly told_at: number | null;
  readonly told_priority: Priority | null;
  /** Headlines for the next update (SLA warnings of members), JSON. */
  readonly notes: string;
}

/** The storms and their members (notify/storms.ts says what a storm is). */
export class StormRepo {
  constructor(private readonly sql: Sql) {}

  get(id: number): Promise<Storm | undefined> {
    return this.sql.get<Storm>('SELECT * FROM storms WHERE id = ?', id);
  }

  /** The storm of a tenant and policy still going on, if any. */
  current(tenant: string, policy: string): Promise<Storm | undefined> {
    return this.sql.get<Storm>('SELECT * FROM storms WHERE tenant = ? AND policy = ? AND closed_at IS NULL ORDER BY id DESC LIMIT 1', tenant, policy);
  }

  /** The storm still going on that an incident belongs to, if any. */
  of(incidentId: number): Promise<Storm | undefined> {
    return this.sql.get<Storm>(
      'SELECT s.* FROM storms s JOIN storm_members m ON m.storm_id = s.id WHERE m.incident_id = ? AND s.closed_at IS NULL ORDER BY s.id DESC LIMIT 1',
      incidentId,
    );
  }

  /** Storms going on, or ended with something left to tell, oldest first. */
  active(): Promise<Storm[]> {
    return this.sql.all<Storm>('SELECT * FROM storms WHERE closed_at IS NULL OR version > told_version ORDER BY id');
  }

  /**
   * Incidents of a tenant and policy (other than `except`), still open or acknowledged, that began paging since
   * `since`: their own escalation started, or they joined a storm (a storm that just ended does not hand its
   * flapping incidents back one by one).
   */
  async recentlyPaged(tenant: string, policy: string, since: number, except: number): Promise<number> {
    // From the tenant's open incidents (few: its open-incident budget), each looked up by key.
    const r = await this.sql.get<{ n: number }>(
      `SELECT count(*) AS n FROM incidents i WHERE i.tenant = ? AND i.state IN ('open', 'acknowledged') AND i.id != ? AND (
          EXISTS (SELECT 1 FROM escalations e WHERE e.incident_id = i.id AND e.policy = ? AND e.started_at >= ?)
          OR EXISTS (SELECT 1 FROM storm_members m JOIN storms s ON s.id = m.storm_id WHERE m.incident_id = i.id AND s.policy = ? AND m.joined_at >= ?))`,
      tenant, except, policy, since, policy, since,
    );
    return r!.n;
  }

  async open(tenant: string, policy: string, now: number): Promise<Storm> {
    return (await this.sql.get<Storm>('INSERT INTO storms (tenant, policy, opened_at) VALUES (?, ?, ?) RETURNING *', tenant, policy, now))!;
  }

  /**
   * Adds an incident; false when it was a member already. Either way the storm has news. Two statements: callers
   * that need it atomic run it in a transaction (the pager's grouping does, in the transaction of the event it
   * handles: notify/pager.ts).
   */
  async join(id: number, incidentId: number, now: number): Promise<boolean> {
    const added = (await this.sql.run('INSERT INTO storm_members (storm_id, incident_id, joined_at) VALUES (?, ?, ?) ON CONFLICT (storm_id, incident_id) DO NOTHING', id, incidentId, now)) > 0;
    await this.changed(id);
    return added;
  }

  async members(id: number): Promise<number[]> {
    return (await this.sql.all<{ incident_id: number }>('SELECT incident_id FROM storm_members WHERE storm_id = ? ORDER BY incident_id', id)).map((r) => r.incident_id);
  }

  /** Something people should hear about happened in the storm. */
  async changed(id: number, note?: string): Promise<void> {
    if (note === undefined) {
      await this.sql.run('UPDATE storms SET version = version + 1 WHERE id = ?', id);
      return;
    }
    // Appends the note to the JSON array of notes: the dialects spell it differently.
    const append = this.sql.dialect === 'postgres' ? '(notes::jsonb || to_jsonb(?::text))::text' : "json_insert(notes, '$[#]', ?)";
    await this.sql.run(`UPDATE storms SET version = version + 1, notes = ${append} WHERE id = ?`, note, id);
  }

  async startEscalation(id: number, now: number): Promise<void> {
    await this.sql.run('UPDATE storms SET generation = generation + 1, started_at = ?, next_step = 0 WHERE id = ?', now, id);
  }

  async stopEscalation(id: number): Promise<void> {
    await this.sql.run('UPDATE storms SET started_at = NULL WHERE id = ?', id);
  }

  async stepped(id: number, nextStep: number): Promise<void> {
    await this.sql.run('UPDATE storms SET next_step = ? WHERE id = ?', nextStep, id);
  }

  /** People were told the storm as of `version`. */
  async told(id: number, version: number, priority: Priority, now: number): Promise<void> {
    await this.sql.run("UPDATE storms SET told_version = ?, told_at = ?, told_priority = ?, notes = '[]' WHERE id = ?", version, now, priority, id);
  }

  async close(id: number, now: number): Promise<void> {
    await this.sql.run('UPDATE storms SET closed_at = ?, started_at = NULL, version = version + 1 WHERE id = ?', now, id);
  }
}

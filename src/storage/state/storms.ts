import type { Priority } from '../../shared/priority.js';
import type { Db } from '../sqlite.js';

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
  constructor(private readonly db: Db) {}

  get(id: number): Storm | undefined {
    return this.db.prepare('SELECT * FROM storms WHERE id = ?').get(id) as Storm | undefined;
  }

  /** The storm of a tenant and policy still going on, if any. */
  current(tenant: string, policy: string): Storm | undefined {
    return this.db.prepare('SELECT * FROM storms WHERE tenant = ? AND policy = ? AND closed_at IS NULL ORDER BY id DESC LIMIT 1').get(tenant, policy) as Storm | undefined;
  }

  /** The storm still going on that an incident belongs to, if any. */
  of(incidentId: number): Storm | undefined {
    return this.db
      .prepare('SELECT s.* FROM storms s JOIN storm_members m ON m.storm_id = s.id WHERE m.incident_id = ? AND s.closed_at IS NULL ORDER BY s.id DESC LIMIT 1')
      .get(incidentId) as Storm | undefined;
  }

  /** Storms going on, or ended with something left to tell. */
  active(): Storm[] {
    return this.db.prepare('SELECT * FROM storms WHERE closed_at IS NULL OR version > told_version').all() as Storm[];
  }

  /**
   * Incidents of a tenant and policy (other than `except`), still open or acknowledged, that began paging since
   * `since`: their own escalation started, or they joined a storm (a storm that just ended does not hand its
   * flapping incidents back one by one).
   */
  recentlyPaged(tenant: string, policy: string, since: number, except: number): number {
    // From the tenant's open incidents (few: its open-incident budget), each looked up by key.
    return (this.db
      .prepare(`SELECT count(*) AS n FROM incidents i WHERE i.tenant = ? AND i.state IN ('open', 'acknowledged') AND i.id != ? AND (
          EXISTS (SELECT 1 FROM escalations e WHERE e.incident_id = i.id AND e.policy = ? AND e.started_at >= ?)
          OR EXISTS (SELECT 1 FROM storm_members m JOIN storms s ON s.id = m.storm_id WHERE m.incident_id = i.id AND s.policy = ? AND m.joined_at >= ?))`)
      .get(tenant, except, policy, since, policy, since) as { n: number }).n;
  }

  open(tenant: string, policy: string, now: number): Storm {
    const id = Number(this.db.prepare('INSERT INTO storms (tenant, policy, opened_at) VALUES (?, ?, ?)').run(tenant, policy, now).lastInsertRowid);
    return this.get(id)!;
  }

  /** Adds an incident; false when it was a member already. Either way the storm has news. */
  join(id: number, incidentId: number, now: number): boolean {
    const added = this.db.prepare('INSERT INTO storm_members (storm_id, incident_id, joined_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(id, incidentId, now).changes > 0;
    this.changed(id);
    return added;
  }

  members(id: number): number[] {
    return (this.db.prepare('SELECT incident_id FROM storm_members WHERE storm_id = ? ORDER BY incident_id').all(id) as { incident_id: number }[]).map((r) => r.incident_id);
  }

  /** Something people should hear about happened in the storm. */
  changed(id: number, note?: string): void {
    if (note === undefined) this.db.prepare('UPDATE storms SET version = version + 1 WHERE id = ?').run(id);
    else this.db.prepare('UPDATE storms SET version = version + 1, notes = json_insert(notes, \'$[#]\', ?) WHERE id = ?').run(note, id);
  }

  startEscalation(id: number, now: number): void {
    this.db.prepare('UPDATE storms SET generation = generation + 1, started_at = ?, next_step = 0 WHERE id = ?').run(now, id);
  }

  stopEscalation(id: number): void {
    this.db.prepare('UPDATE storms SET started_at = NULL WHERE id = ?').run(id);
  }

  stepped(id: number, nextStep: number): void {
    this.db.prepare('UPDATE storms SET next_step = ? WHERE id = ?').run(nextStep, id);
  }

  /** People were told the storm as of `version`. */
  told(id: number, version: number, priority: Priority, now: number): void {
    this.db.prepare("UPDATE storms SET told_version = ?, told_at = ?, told_priority = ?, notes = '[]' WHERE id = ?").run(version, now, priority, id);
  }

  close(id: number, now: number): void {
    this.db.prepare('UPDATE storms SET closed_at = ?, started_at = NULL, version = version + 1 WHERE id = ?').run(now, id);
  }
}


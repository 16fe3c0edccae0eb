import type { Db } from './sqlite.js';

/** Numbers of a window handed out after a prune that may have forgotten it start here (× the epoch). */
const EPOCH_BASE = 2 ** 40;

interface Counter {
  tenant: string;
  region: string;
  window: number;
  next: number;
}

/**
 * Numbers for the raw points of late samples — samples whose window is no longer held in memory, so the count of
 * its samples (which numbers the others) is gone. Counters per (tenant, region, window) live in ingest.db and are
 * saved in the transaction that commits the points numbered from them: a restart never hands a number out again.
 *
 * Counters of windows older than the sample age limit are pruned. A window below the pruned floor can take late
 * samples again only if that limit was raised, or an old journal row was requeued; its numbers then start at
 * epoch × 2^40, the epoch being bumped once per process that needs it, so they cannot meet numbers of before.
 */
export class RawLateIds {
  private readonly cache = new Map<string, Counter>();
  private readonly read;
  private readonly upsert;
  private floor: number;
  private epoch: number;
  private bumped = false;

  constructor(private readonly db: Db) {
    this.read = db.prepare('SELECT next FROM raw_late_ids WHERE window = ? AND tenant = ? AND region = ?');
    this.upsert = db.prepare('INSERT INTO raw_late_ids (window, tenant, region, next) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET next = excluded.next');
    const meta = db.prepare('SELECT floor, epoch FROM raw_late_meta WHERE id = 1').get() as { floor: number; epoch: number } | undefined;
    this.floor = meta?.floor ?? Number.MIN_SAFE_INTEGER;
    this.epoch = meta?.epoch ?? 0;
  }

  /** The next number of a late sample of (tenant, region, window). Reads only (it runs during replay too). */
  next(tenant: string, region: string, window: number): number {
    const key = `${window}\u0000${tenant}\u0000${region}`;
    let c = this.cache.get(key);
    if (!c) {
      const row = this.read.get(window, tenant, region) as { next: number } | undefined;
      let next = row?.next ?? 0;
      if (!row && window < this.floor) {
        if (!this.bumped) {
          this.epoch++;
          this.bumped = true;
        }
        next = this.epoch * EPOCH_BASE;
      }
      this.cache.set(key, (c = { tenant, region, window, next }));
    }
    return c.next++;
  }

  /**
   * Saves the counters handed out since the last save and prunes those of windows below `floor` (no sample older
   * than the age limit is accepted). Runs inside the spool commit's transaction; call `committed` after it.
   */
  save(floor: number): void {
    for (const c of this.cache.values()) this.upsert.run(c.window, c.tenant, c.region, c.next);
    if (floor > this.floor) this.db.prepare('DELETE FROM raw_late_ids WHERE window < ?').run(floor);
    this.db
      .prepare('INSERT INTO raw_late_meta (id, floor, epoch) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET floor = excluded.floor, epoch = excluded.epoch')
      .run(Math.max(floor, this.floor), this.epoch);
  }

  /** The transaction of `save` committed: the counters are on disk and need not stay in memory. */
  committed(floor: number): void {
    this.floor = Math.max(floor, this.floor);
    this.cache.clear();
  }
}

import type { Labels } from '../../shared/labels.js';
import type { Sql } from './sql.js';

/**
 * A rule engine's durable row of one alert group: its state as the engine keeps it (rules/alert-state.ts; opaque
 * here), when its series were last seen, and a drop or absent rule's baseline of (window index, value) pairs.
 */
export interface AlertRecord {
  rule_id: string;
  group_key: string;
  labels: Labels;
  state: object;
  last_seen: number | undefined;
  baseline: { seen: number; values: [window: number, value: number][] };
}

/** The alerts table: pending `for` timers, firing alerts, last-seen times and drop baselines. */
export class AlertRepo {
  constructor(private readonly sql: Sql) {}

  async load(): Promise<AlertRecord[]> {
    const rows = await this.sql.all<{
      rule_id: string; group_key: string; labels: string; state: string; last_seen: number | null; baseline: string | null;
    }>('SELECT rule_id, group_key, labels, state, last_seen, baseline FROM alerts');
    return rows.map((r) => {
      const b = r.baseline ? (JSON.parse(r.baseline) as { seen: number | null; values: AlertRecord['baseline']['values'] }) : undefined;
      return {
        rule_id: r.rule_id,
        group_key: r.group_key,
        labels: JSON.parse(r.labels) as Labels,
        state: nullsToUndefined(JSON.parse(r.state) as Record<string, unknown>),
        last_seen: r.last_seen ?? undefined,
        // JSON has no -Infinity: a baseline that has seen no window comes back as null.
        baseline: { seen: b?.seen ?? -Infinity, values: b?.values ?? [] },
      };
    });
  }

  /**
   * Deletes and upserts rows, one statement each: callers that need it atomic run it in a transaction (the rule
   * engine's pass does, with the incidents its events change: rules/alerting.ts).
   */
  async write(changes: { upserts: readonly AlertRecord[]; deletes: readonly { rule_id: string; group_key: string }[] }, now: number): Promise<void> {
    if (changes.upserts.length === 0 && changes.deletes.length === 0) return;
    for (const d of changes.deletes) await this.sql.run('DELETE FROM alerts WHERE rule_id = ? AND group_key = ?', d.rule_id, d.group_key);
    for (const r of changes.upserts) {
      const baseline = r.baseline.values.length || Number.isFinite(r.baseline.seen) ? JSON.stringify(r.baseline) : null;
      await this.sql.run(
        `INSERT INTO alerts (rule_id, group_key, labels, state, last_seen, baseline, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (rule_id, group_key) DO UPDATE SET labels = excluded.labels, state = excluded.state, last_seen = excluded.last_seen,
           baseline = excluded.baseline, updated_at = excluded.updated_at`,
        r.rule_id, r.group_key, JSON.stringify(r.labels), JSON.stringify(r.state), r.last_seen ?? null, baseline, now,
      );
    }
  }
}

/** JSON.stringify drops undefined fields; restore them as undefined rather than leaving nulls around. */
function nullsToUndefined(o: Record<string, unknown>): Record<string, unknown> {
  for (const k of Object.keys(o)) if (o[k] === null) o[k] = undefined;
  return o;
}

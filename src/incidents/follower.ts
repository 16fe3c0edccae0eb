import type { FastifyBaseLogger as Logger } from 'fastify';
import type { Db } from '../storage/sqlite.js';
import { getMeta, setMeta } from '../storage/state-db.js';
import type { EventBus } from './bus.js';
import type { Incidents } from './incidents.js';
import type { IncidentEvent, TimelineKind } from './model.js';

/**
 * Follows incident events for a consumer (the pager, tickets) without losing any to a crash: events are committed
 * before they are published, so the follower keeps the id of the last timeline entry it handled (in the state
 * db) and, at start, handles the entries committed after it before taking live events. The cursor moves in the
 * same transaction as the handler's writes, so a crash leaves an event handled and passed, or neither: it is never
 * handled twice. The first start begins at the end of the timeline (history is not replayed).
 */
export class TimelineFollower {
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly name: string,
    private readonly deps: { db: Db; incidents: Incidents; bus: EventBus<IncidentEvent>; log: Logger },
    private readonly kinds: ReadonlySet<TimelineKind>,
    private readonly handle: (e: IncidentEvent) => void,
  ) {}

  private get key(): string {
    return `timeline_cursor:${this.name}`;
  }

  start(): void {
    const { db, incidents } = this.deps;
    const last = (db.prepare('SELECT max(id) AS id FROM timeline').get() as { id: number | null }).id ?? 0;
    const saved = getMeta(db, this.key);
    if (saved !== undefined) {
      let replayed = 0;
      const rows = db.prepare('SELECT id, incident_id FROM timeline WHERE id > ? ORDER BY id').all(Number(saved)) as { id: number; incident_id: number }[];
      for (const r of rows) {
        const entry = incidents.timeline(r.incident_id).find((t) => t.id === r.id);
        const incident = incidents.get(r.incident_id);
        if (!entry || !incident || !this.kinds.has(entry.kind)) continue;
        this.step({ type: entry.kind, incident, entry });
        replayed++;
      }
      if (replayed) this.deps.log.warn({ consumer: this.name, events: replayed }, 'handled incident events committed before a restart');
    }
    setMeta(db, this.key, String(last));
    this.unsubscribe = this.deps.bus.on((e) => this.step(e));
  }

  /** Handles one event and moves the cursor past it, in one transaction. */
  private step(e: IncidentEvent): void {
    const { db } = this.deps;
    db.transaction(() => {
      if (this.kinds.has(e.type)) this.handle(e);
      // Events arrive in commit order: the cursor only moves forward.
      if (Number(getMeta(db, this.key) ?? 0) < e.entry.id) setMeta(db, this.key, String(e.entry.id));
    })();
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }
}

import type { FastifyBaseLogger as Logger } from 'fastify';
import type { StateRepos } from '../storage/state/index.js';
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
    private readonly deps: { state: Pick<StateRepos, 'cursors' | 'tx'>; incidents: Incidents; bus: EventBus<IncidentEvent>; log: Logger },
    private readonly kinds: ReadonlySet<TimelineKind>,
    private readonly handle: (e: IncidentEvent) => void,
  ) {}

  start(): void {
    const { state, incidents } = this.deps;
    const last = state.cursors.lastId();
    const saved = state.cursors.get(this.name);
    if (saved !== undefined) {
      let replayed = 0;
      for (const r of state.cursors.after(saved)) {
        const entry = incidents.timeline(r.incidentId).find((t) => t.id === r.id);
        const incident = incidents.get(r.incidentId);
        if (!entry || !incident || !this.kinds.has(entry.kind)) continue;
        this.step({ type: entry.kind, incident, entry });
        replayed++;
      }
      if (replayed) this.deps.log.warn({ consumer: this.name, events: replayed }, 'handled incident events committed before a restart');
    }
    state.cursors.set(this.name, last);
    this.unsubscribe = this.deps.bus.on((e) => this.step(e));
  }

  /** Handles one event and moves the cursor past it, in one transaction. */
  private step(e: IncidentEvent): void {
    const { state } = this.deps;
    state.tx(() => {
      if (this.kinds.has(e.type)) this.handle(e);
      // Events arrive in commit order: the cursor only moves forward.
      state.cursors.advance(this.name, e.entry.id);
    });
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }
}

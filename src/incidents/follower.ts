import type { FastifyBaseLogger as Logger } from 'fastify';
import type { StateStore } from '../storage/state/store.js';
import type { EventBus } from './bus.js';
import type { Incidents } from './incidents.js';
import type { IncidentEvent, TimelineKind } from './model.js';

/**
 * Follows incident events for a consumer (the pager, tickets) without losing any to a crash: events are committed
 * before they are published, so the follower keeps the id of the last timeline entry it handled (in the state
 * store) and, at start, handles the entries committed after it before taking live events. The cursor moves in the
 * same transaction as the handler's writes (the handler writes through the store it is given), so a crash leaves
 * an event handled and passed, or neither: it is never handled twice. Events are handled one at a time, in the
 * order they were published. The first start begins at the end of the timeline (history is not replayed).
 */
export class TimelineFollower {
  private unsubscribe: (() => void) | undefined;
  /** The events handled so far, and those waiting behind them. */
  private queue: Promise<void> = Promise.resolve();
  /** Entries up to here were committed before the start: the catch-up handled them, so live copies are skipped. */
  private caughtUp = Infinity;

  constructor(
    private readonly name: string,
    private readonly deps: { state: Pick<StateStore, 'cursors' | 'tx'>; incidents: Incidents; bus: EventBus<IncidentEvent>; log: Logger },
    private readonly kinds: ReadonlySet<TimelineKind>,
    private readonly handle: (e: IncidentEvent, t: StateStore) => Promise<void>,
  ) {}

  /** Subscribes at once (events published meanwhile wait), then catches up from the saved cursor. */
  start(): Promise<void> {
    this.unsubscribe = this.deps.bus.on((e) => {
      if (e.entry.id > this.caughtUp) this.enqueue(() => this.step(e));
    });
    const catchUp = this.catchUp();
    this.enqueue(() => catchUp);
    return catchUp;
  }

  /** Resolves once the events published so far are handled. */
  async idle(): Promise<void> {
    for (let q = this.queue; ; q = this.queue) {
      await q;
      if (q === this.queue) return;
    }
  }

  /** Stops taking events and waits for those taken. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await this.queue;
  }

  private async catchUp(): Promise<void> {
    const { state, incidents } = this.deps;
    // One snapshot: the newest entry and those after the cursor.
    const { last, missed } = await state.tx(async (t) => {
      const saved = await t.cursors.get(this.name);
      return { last: await t.cursors.lastId(), missed: saved === undefined ? [] : await t.cursors.after(saved) };
    });
    this.caughtUp = last;
    let replayed = 0;
    for (const r of missed) {
      const entry = (await incidents.timeline(r.incidentId)).find((x) => x.id === r.id);
      const incident = await incidents.get(r.incidentId);
      if (!entry || !incident || !this.kinds.has(entry.kind)) continue;
      await this.step({ type: entry.kind, incident, entry });
      replayed++;
    }
    if (replayed) this.deps.log.warn({ consumer: this.name, events: replayed }, 'handled incident events committed before a restart');
    // Set even at 0 (an empty timeline): a cursor saved is what tells a restart from the first start.
    await state.cursors.set(this.name, last);
  }

  private enqueue(work: () => Promise<void>): void {
    this.queue = this.queue.then(work).catch((err: unknown) => this.deps.log.error({ err, consumer: this.name }, 'incident event handler failed'));
  }

  /** Handles one event and moves the cursor past it, in one transaction. */
  private step(e: IncidentEvent): Promise<void> {
    return this.deps.state.tx(async (t) => {
      if (this.kinds.has(e.type)) await this.handle(e, t);
      // The cursor only moves forward.
      await t.cursors.advance(this.name, e.entry.id);
    });
  }
}

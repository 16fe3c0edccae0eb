import type { FastifyBaseLogger as Logger } from 'fastify';
import type { StateStore } from '../storage/state/store.js';
import type { EventBus } from './bus.js';
import type { Incidents } from './incidents.js';
import type { IncidentEvent, TimelineEntry, TimelineKind } from './model.js';

export interface FollowerDeps {
  state: Pick<StateStore, 'cursors' | 'tx' | 'listen'>;
  incidents: Incidents;
  /** Events of this process: they wake the follower at once. */
  bus: EventBus<IncidentEvent>;
  log: Logger;
  /** How often it looks for entries nobody woke it for (other nodes' writes, a lost notification). */
  pollMs?: number;
}

/** The service's followers of the timeline, by the name their cursor is kept under (their lag is a metric). */
export const FOLLOWERS = ['pager', 'tickets'] as const;

/** Entries read per query. */
const PAGE = 200;
/**
 * A handler failing on one entry this many times in a row, a poll apart, passes over it: later entries must not wait
 * forever, and a passing fault (the database failing over) has a few seconds to heal.
 */
const ATTEMPTS = 3;

/**
 * Follows the incident timeline for a consumer (the pager, tickets) without losing or repeating an entry: it keeps
 * the id of the last entry it handled (its cursor, in the state store) and handles the entries committed after it,
 * in id order, each in one transaction with the cursor's move — so a crash leaves an entry handled and passed, or
 * neither. The handler writes through the store it is given and sees the incident as it is when handled.
 *
 * It reads when woken — by an event of this process, by the store (another node's write, in cluster mode), or by
 * its poll — so it does not matter which node wrote an entry. The first start begins at the end of the timeline
 * (history is not replayed); a restart handles what was committed while it was down.
 */
export class TimelineFollower {
  private cursor = 0;
  private draining: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private subscriptions: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** The entry whose handler failed last, how many times in a row, and when it may be tried again. */
  private failing = { id: 0, times: 0, retryAt: 0 };

  constructor(
    private readonly name: string,
    private readonly deps: FollowerDeps,
    private readonly kinds: ReadonlySet<TimelineKind>,
    private readonly handle: (e: IncidentEvent, t: StateStore) => Promise<void>,
  ) {}

  /** Reads its cursor (the first start: the end of the timeline) and handles what came after it. */
  async start(): Promise<void> {
    const { state } = this.deps;
    const saved = await state.cursors.get(this.name);
    if (saved === undefined) await state.cursors.set(this.name, (this.cursor = await state.cursors.lastId()));
    else this.cursor = saved;
    this.stopped = false;
    const wake = () => void this.wake();
    this.subscriptions = [this.deps.bus.on(wake), state.listen('timeline', wake)];
    this.timer = setInterval(wake, this.deps.pollMs ?? 1000);
    const handled = await this.wake();
    if (saved !== undefined && handled) this.deps.log.warn({ consumer: this.name, events: handled }, 'handled incident events committed before a restart');
  }

  /** Resolves once the entries committed so far are handled. */
  async idle(): Promise<void> {
    await this.wake();
    while (this.draining) await this.draining;
  }

  /** Stops reading and waits for the entry being handled. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const unsubscribe of this.subscriptions) unsubscribe();
    this.subscriptions = [];
    clearInterval(this.timer);
    while (this.draining) await this.draining;
  }

  /** Reads and handles what is new; a wake while reading reads again after. Resolves with how many were handled. */
  private wake(): Promise<number> {
    if (this.stopped) return Promise.resolve(0);
    if (this.draining) {
      this.again = true;
      return this.draining.then(() => 0);
    }
    let handled = 0;
    const drain = async () => {
      do {
        this.again = false;
        try {
          handled += await this.drain();
        } catch (err) {
          this.deps.log.error({ err, consumer: this.name }, 'incident event handler failed');
        }
      } while (this.again && !this.stopped);
    };
    this.draining = drain().finally(() => (this.draining = undefined));
    return this.draining.then(() => handled);
  }

  private async drain(): Promise<number> {
    const { state } = this.deps;
    let handled = 0;
    for (;;) {
      const entries = await state.cursors.entriesAfter(this.cursor, PAGE);
      if (entries.length === 0) return handled;
      // Entries of other kinds only move the cursor, with the next handled one or at the end of the page.
      let passed = this.cursor;
      for (const { incidentId, ...entry } of entries) {
        if (this.stopped) return handled;
        if (!this.kinds.has(entry.kind as TimelineKind)) {
          passed = entry.id;
          continue;
        }
        // Other wakes (events, notifications) do not count as retries: only the poll's do.
        if (entry.id === this.failing.id && Date.now() < this.failing.retryAt) {
          await this.pass(passed);
          return handled;
        }
        try {
          await state.tx(async (t) => {
            const incident = await this.deps.incidents.get(incidentId, t);
            if (incident) await this.handle({ type: entry.kind as TimelineKind, incident, entry: entry as TimelineEntry }, t);
            await t.cursors.advance(this.name, entry.id);
          });
          handled++;
        } catch (err) {
          const times = this.failing.id === entry.id ? this.failing.times + 1 : 1;
          this.failing = { id: entry.id, times, retryAt: Date.now() + (this.deps.pollMs ?? 1000) - 50 };
          if (this.failing.times < ATTEMPTS) throw err;
          this.deps.log.error({ err, consumer: this.name, entry: entry.id, incident: incidentId, kind: entry.kind }, `incident event handler failed ${ATTEMPTS} times on this entry: passing over it`);
          await state.cursors.advance(this.name, entry.id);
        }
        this.cursor = passed = entry.id;
      }
      await this.pass(passed);
    }
  }

  /** Moves the cursor over entries of other kinds, up to `id`. */
  private async pass(id: number): Promise<void> {
    if (id <= this.cursor) return;
    await this.deps.state.cursors.advance(this.name, id);
    this.cursor = id;
  }
}

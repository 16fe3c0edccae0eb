import type { StateStore } from '../storage/state/store.js';
import type { EventBus } from './bus.js';
import type { IncidentEvent } from './model.js';

/** What a console hears: an incident's timeline moved (it reads the incident again for the rest). */
export interface LiveEntry {
  id: number;
  incident_id: number;
  kind: string;
  at: number;
}

export interface LiveFeedDeps {
  state: Pick<StateStore, 'cursors' | 'listen'>;
  /** Events of this process wake it at once; other nodes' writes through the store's notifications or the poll. */
  bus: EventBus<IncidentEvent>;
  pollMs: number;
  onError: (err: unknown) => void;
}

const PAGE = 200;

/**
 * The incident timeline as it grows, for live consoles: whichever node wrote an entry, every subscriber hears of it
 * once, in order. It reads only while someone listens, from the end of the timeline when the first one arrives
 * (a console loads the current state itself, then follows).
 */
export class LiveFeed {
  private readonly subscribers = new Set<(e: LiveEntry) => void>();
  private last = 0;
  private reading: Promise<void> | undefined;
  private again = false;
  private stops: (() => void)[] = [];
  private starting: Promise<void> | undefined;

  constructor(private readonly deps: LiveFeedDeps) {}

  get listeners(): number {
    return this.subscribers.size;
  }

  /** Subscribes; resolves once the feed follows the timeline (entries committed after it resolves are heard). */
  async subscribe(fn: (e: LiveEntry) => void): Promise<() => void> {
    this.subscribers.add(fn);
    if (this.subscribers.size === 1 && !this.starting) this.starting = this.start();
    await this.starting;
    return () => {
      this.subscribers.delete(fn);
      if (this.subscribers.size === 0) this.stop();
    };
  }

  private async start(): Promise<void> {
    this.last = await this.deps.state.cursors.lastId();
    const wake = () => this.wake();
    const timer = setInterval(wake, this.deps.pollMs);
    this.stops = [this.deps.bus.on(wake), this.deps.state.listen('timeline', wake), () => clearInterval(timer)];
  }

  private stop(): void {
    for (const s of this.stops) s();
    this.stops = [];
    this.starting = undefined;
  }

  private wake(): void {
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = this.read()
      .catch(this.deps.onError)
      .finally(() => {
        this.reading = undefined;
        if (this.again && this.subscribers.size > 0) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async read(): Promise<void> {
    for (;;) {
      const entries = await this.deps.state.cursors.entriesAfter(this.last, PAGE);
      for (const e of entries) {
        this.last = e.id;
        const out: LiveEntry = { id: e.id, incident_id: e.incidentId, kind: e.kind, at: e.at };
        for (const fn of this.subscribers) fn(out);
      }
      if (entries.length < PAGE || this.subscribers.size === 0) return;
    }
  }
}

/** A singleton duty: runs on one node at a time, between its start and its stop. */
export interface Duty {
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}

/**
 * Who runs the singleton duties (escalations and the outbox sender, timeline followers, SLA watch, reports, readiness
 * reports). Embedded: this process, always. Cluster (SCALE-OUT.md §4.4): the holder of a PostgreSQL advisory lock; a
 * node that loses the lock stops its duties.
 */
export interface Leadership {
  /** Hands a duty over: it runs while this node leads. */
  duty(name: string, d: Duty): void;
  /** Whether this node runs the singleton duties. */
  isLeader(): boolean;
}

/** The app's side of a leadership: begin once the app is ready, end at close. */
export interface LeadershipRun extends Leadership {
  start(): Promise<void>;
  stop(): Promise<void>;
}

interface Entry {
  name: string;
  d: Duty;
  /** Set once its start was attempted: a duty that failed half-way may hold timers, so it is stopped too. */
  started?: Promise<void>;
}

/**
 * The duties handed to a leadership, run in registration order (each start after the previous one) and stopped in
 * reverse, awaiting each — the order the plugins' own hooks had. They can start again after a stop (a node that
 * lost the lead and wins it back).
 */
export class Duties {
  private readonly entries: Entry[] = [];
  private state: 'idle' | 'starting' | 'started' | 'stopped' = 'idle';

  constructor(protected readonly log: { error(o: object, m: string): void }) {}

  duty(name: string, d: Duty): void {
    const entry: Entry = { name, d };
    this.entries.push(entry);
    // While starting, the loop in start() reaches it; once started, nobody awaits it, so a failure is only logged.
    if (this.state === 'started') {
      entry.started = call(() => d.start());
      entry.started.catch((err: unknown) => this.log.error({ err, duty: name }, 'a singleton duty failed to start'));
    }
  }

  /** Rejects with the first failing start (as a failing onReady hook fails the app's start); later duties stay idle. */
  async start(): Promise<void> {
    this.state = 'starting';
    for (const entry of this.entries) {
      entry.started = call(() => entry.d.start());
      await entry.started;
    }
    this.state = 'started';
  }

  /** Stops every duty whose start was attempted, last first; a failing stop does not keep the others running. */
  async stop(): Promise<void> {
    this.state = 'stopped';
    let first: unknown;
    for (const entry of [...this.entries].reverse()) {
      if (!entry.started) continue;
      try {
        await entry.started.catch(() => {});
        entry.started = undefined;
        await entry.d.stop();
      } catch (err) {
        this.log.error({ err, duty: entry.name }, 'a singleton duty failed to stop');
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  }
}

/** The embedded mode: the only node, so always the leader; the duties run from the app's start to its close. */
export class LocalLeadership extends Duties implements LeadershipRun {
  isLeader(): boolean {
    return true;
  }
}

/** A cluster node without the leader role: it never runs the singleton duties. */
export class NoLeadership extends Duties implements LeadershipRun {
  isLeader(): boolean {
    return false;
  }

  override async start(): Promise<void> {}

  override async stop(): Promise<void> {}
}

/** Runs `fn`, turning a synchronous throw into a rejection. */
function call(fn: () => void | Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => resolve(fn()));
}

/** How often the turn probe asks to run, ms. */
export const PROBE_INTERVAL_MS = 10;
/** How long every turn must have run over budget before the loop counts as saturated, ms. */
export const SATURATED_AFTER_MS = 1000;
/**
 * How many budgets of CPU time a long turn must have spent to count as work at once: an idle service's longest turns
 * (a window close, an evaluation pass, a major GC) stay well below two budgets, a flood's turns run for seconds.
 */
export const WORK_BUDGETS = 2;

/** The process's CPU time so far, ms (every thread: the loop, GC helpers, workers). */
const processCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/**
 * The event loop's delay, read in the middle of a turn: how long the current turn has lasted so far, and for how
 * long every turn has lasted over the budget.
 *
 * The turn: a probe timer asks to run every `PROBE_INTERVAL_MS`, so it runs at the start of every turn longer than
 * that; the time since it last ran, beyond its interval, is how long the loop has been away from its timers — read
 * in the middle of a turn, which a windowed average of the loop's delay only sees once the turn has ended.
 *
 * Work tells an overload from a pause at once: a long turn in which the process spent WORK_BUDGETS budgets on the CPU
 * is work queued on the loop (a flood on a free CPU is shed from its first long turn), while a turn that lasted
 * because the process was stopped or descheduled spent almost none.
 *
 * Saturation catches the overload a CPU limit hides (the turn never gets the CPU time to count as work). A saturated loop runs long turn after long turn: each takes what queued
 * during the one before. A process paused by a CPU limit or a descheduled VM comes back to one long turn, then
 * catches up and runs its timers on time again between pauses, unless it cannot keep up. Event-loop utilization
 * cannot tell them apart: it counts a pause that caught the loop mid-turn, and the time a runnable process waits for
 * a contended CPU, as busy.
 */
export class LoopLag {
  private last: number;
  /** The process's CPU time when the probe last ran, ms. */
  private lastCpu: number;
  /** When the probe last ran within the budget: the end of the loop's last turn that was not over it. */
  private lastOnTime: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly maxMs: number,
    private readonly now: () => number = () => performance.now(),
    private readonly cpuMs: () => number = processCpuMs,
  ) {
    this.last = this.lastOnTime = now();
    this.lastCpu = cpuMs();
  }

  /** The probe ran. */
  probe(): void {
    const now = this.now();
    if (now - this.last - PROBE_INTERVAL_MS <= this.maxMs) this.lastOnTime = now;
    this.last = now;
    this.lastCpu = this.cpuMs();
  }

  /** Ms the current turn has lasted beyond the probe's interval. */
  turnMs(): number {
    return Math.max(0, this.now() - this.last - PROBE_INTERVAL_MS);
  }

  /**
   * Ms for which every turn, up to the last finished one, has lasted over the budget. The current turn does not
   * count: one long pause is not a saturation.
   */
  saturatedMs(): number {
    return this.last - this.lastOnTime;
  }

  /**
   * Why the rest of the current turn's requests should be shed, or undefined: the turn has lasted over the budget and
   * either spent WORK_BUDGETS budgets on the CPU, or came in a loop whose turns have all lasted over it for
   * SATURATED_AFTER_MS — requests are queuing behind it.
   */
  busy(): string | undefined {
    const turn = this.turnMs();
    if (turn <= this.maxMs) return undefined;
    const cpu = this.cpuMs() - this.lastCpu;
    if (cpu >= this.maxMs * WORK_BUDGETS) return `event-loop turn over ${this.maxMs} ms: ${Math.round(turn)} ms, ${Math.round(cpu)} ms of it on the CPU`;
    const saturated = this.saturatedMs();
    if (saturated < SATURATED_AFTER_MS) return undefined;
    return `every event-loop turn over ${this.maxMs} ms for ${(saturated / 1000).toFixed(1)} s, this one for ${Math.round(turn)} ms`;
  }

  start(): void {
    this.last = this.lastOnTime = this.now();
    this.lastCpu = this.cpuMs();
    this.timer = setInterval(() => this.probe(), PROBE_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

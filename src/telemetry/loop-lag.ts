/** How often the turn probe asks to run, ms. */
export const PROBE_INTERVAL_MS = 10;
/** The span over which the loop's utilization is read, ms. */
export const BUSY_WINDOW_MS = 1000;
/** Utilization snapshots kept over BUSY_WINDOW_MS (one per slot, taken by the probe). */
const SLOTS = 10;
/**
 * The utilization over BUSY_WINDOW_MS from which a long turn sheds. A saturated loop reads ~1; a paused but lightly
 * loaded one reads its real work plus the pauses that caught it mid-turn.
 */
export const BUSY_UTILIZATION = 0.9;
/**
 * Requests a long turn must have taken before it sheds the rest: a deep queue of ready requests, not a few slow
 * ones (cold code just after a start, a GC, a window flush) or those that arrived during a pause.
 */
export const QUEUED_REQUESTS = 32;

/**
 * The event loop's load, read in the middle of a turn: how long the current turn has lasted so far, and the share
 * of the last second it spent busy rather than waiting for I/O (event-loop utilization).
 *
 * The turn: a probe timer asks to run every `PROBE_INTERVAL_MS`, so it runs at the start of every turn longer than
 * that; the time since it last ran, beyond its interval, is how long the loop has been away from its timers — read
 * in the middle of a turn, which a windowed average of the loop's delay only sees once the turn has ended.
 *
 * The utilization tells a saturated loop from a paused one: a process stopped while it waits for I/O (CPU limits
 * throttling it, a descheduled VM) comes back to a long turn with an idle loop behind it; a saturated one has been
 * busy all along. `idle()` is libuv's cumulative idle time (performance.eventLoopUtilization().idle), on the same
 * clock as `now()`; the current turn counts as busy up to now.
 */
export class LoopLag {
  private last: number;
  private timer: NodeJS.Timeout | undefined;
  /** Ring of (time, cumulative idle) snapshots, at least a slot apart; `head` is the oldest. */
  private readonly at = new Float64Array(SLOTS + 1);
  private readonly idleAt = new Float64Array(SLOTS + 1);
  private head = 0;
  private newest = 0;
  /** Requests taken since the probe last ran. */
  private taken = 0;

  constructor(
    private readonly now: () => number = () => performance.now(),
    private readonly idle: () => number = () => performance.eventLoopUtilization().idle,
  ) {
    this.last = now();
    this.at.fill(this.last);
    this.idleAt.fill(idle());
  }

  /** The probe ran. */
  probe(): void {
    this.last = this.now();
    this.taken = 0;
    if (this.last - this.at[this.newest]! < BUSY_WINDOW_MS / SLOTS) return;
    this.newest = this.head;
    this.at[this.head] = this.last;
    this.idleAt[this.head] = this.idle();
    this.head = (this.head + 1) % this.at.length;
  }

  /** Ms the current turn has lasted beyond the probe's interval. */
  turnMs(): number {
    return Math.max(0, this.now() - this.last - PROBE_INTERVAL_MS);
  }

  /**
   * The share of the last BUSY_WINDOW_MS (or a little more) the loop was busy, from 0 to 1. Less history than the
   * window (just started) counts as idle: a start-up's work is not an overload.
   */
  utilization(): number {
    const span = this.now() - this.at[this.head]!;
    const busy = span - (this.idle() - this.idleAt[this.head]!);
    return Math.min(1, Math.max(0, busy / Math.max(span, BUSY_WINDOW_MS)));
  }

  /**
   * A request arrived at a shedding point: why it should be shed, or undefined. Shed once the turn has lasted over
   * `maxMs`, has taken more than QUEUED_REQUESTS requests, and the loop has been busy at least BUSY_UTILIZATION of
   * the last second: a saturated loop with requests queued behind it.
   */
  take(maxMs: number): string | undefined {
    this.taken++;
    const turn = this.turnMs();
    if (turn <= maxMs || this.taken <= QUEUED_REQUESTS) return undefined;
    const u = this.utilization();
    if (u < BUSY_UTILIZATION) return undefined;
    return `event loop busy ${Math.round(u * 100)} % of the last second; ${this.taken} requests in a turn of ${Math.round(turn)} ms`;
  }

  start(): void {
    this.probe();
    this.timer = setInterval(() => this.probe(), PROBE_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

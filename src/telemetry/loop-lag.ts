/** How often the turn probe asks to run, ms. */
export const PROBE_INTERVAL_MS = 10;

/**
 * How long the event loop's current turn has lasted so far. A probe timer asks to run every `PROBE_INTERVAL_MS`,
 * so it runs at the start of every turn longer than that; the time since it last ran, beyond its interval, is how
 * long the loop has been away from its timers — read in the middle of a turn, which a windowed average of the
 * loop's delay only sees once the turn has ended. A turn that has lasted too long is one whose ready requests are
 * waiting (in the kernel, unseen by any in-flight count) behind the ones it already took.
 */
export class LoopLag {
  private last: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly now: () => number = () => performance.now()) {
    this.last = now();
  }

  /** The probe ran. */
  probe(): void {
    this.last = this.now();
  }

  /** Ms the current turn has lasted beyond the probe's interval. */
  turnMs(): number {
    return Math.max(0, this.now() - this.last - PROBE_INTERVAL_MS);
  }

  start(): void {
    this.last = this.now();
    this.timer = setInterval(() => this.probe(), PROBE_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

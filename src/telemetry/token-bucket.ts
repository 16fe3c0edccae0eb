/** A token bucket allowing `max` events per `windowMs`, refilled continuously (time is an argument). */
export class TokenBucket {
  private tokens: number;
  private last = -Infinity;
  private readonly perMs: number;

  constructor(
    private readonly max: number,
    windowMs: number,
  ) {
    this.tokens = max;
    this.perMs = max / windowMs;
  }

  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  msUntilNext(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) / this.perMs);
  }

  private refill(now: number): void {
    if (this.last !== -Infinity) this.tokens = Math.min(this.max, this.tokens + (now - this.last) * this.perMs);
    this.last = now;
  }
}

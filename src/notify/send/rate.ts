import { TokenBucket } from '../../telemetry/token-bucket.js';
import type { Rate } from '../../util/units.js';

/**
 * The rate stage: per chat endpoint and per email lane's channel, `max` pages per `windowMs` with bursts of three
 * windows' worth (chat robots throttle per endpoint: Slack about 1 message a second, DingTalk 20 a minute).
 */
export class RateStage {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly rates: { chat: Rate; email: Rate }) {}

  /** 0 when a page may go out on `channel` now (and counts it), else how many ms until one may. */
  wait(channel: string, kind: 'chat' | 'email', now: number): number {
    let b = this.buckets.get(channel);
    if (!b) {
      const rate = this.rates[kind];
      this.buckets.set(channel, (b = new TokenBucket(rate.max * 3, rate.windowMs * 3)));
    }
    return b.take(now) ? 0 : b.msUntilNext(now);
  }
}

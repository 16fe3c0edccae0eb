import type { TransportDeps } from '../src/core/transport.js';

/** A fake clock with timers, run in order as time advances. */
export class FakeClock {
  now = 1_700_000_000_000;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private next = 1;

  setTimeout = (fn: () => void, ms: number): number => {
    const id = this.next++;
    this.timers.push({ at: this.now + Math.max(0, ms), fn, id });
    return id;
  };

  clearTimeout = (id: unknown): void => {
    this.timers = this.timers.filter((t) => t.id !== id);
  };

  /** Advances to `now + ms`, running due timers (and the promises they settle) in order. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    for (;;) {
      await settle();
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const t = this.timers[0];
      if (!t || t.at > end) break;
      this.timers.shift();
      this.now = t.at;
      t.fn();
    }
    this.now = end;
    await settle();
  }
}

export const settle = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

export interface Sent {
  at: number;
  via: 'fetch' | 'beacon';
  body: { sdk: string; samples: { n: number }[] };
}

/** Transport deps on a fake clock; `answer` decides each POST's fate. */
export function fakeNet(clock: FakeClock, answer: (n: number) => { status: number; retryAfter?: string } | 'network-error' = () => ({ status: 202 }), random = () => 0.5) {
  const sent: Sent[] = [];
  let posts = 0;
  const deps: TransportDeps = {
    now: () => clock.now,
    random,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    async post(_url, body) {
      sent.push({ at: clock.now, via: 'fetch', body: JSON.parse(body) });
      const a = answer(posts++);
      if (a === 'network-error') throw new TypeError('Failed to fetch');
      return { status: a.status, retryAfter: a.retryAfter ?? null };
    },
    beacon(_url, body) {
      sent.push({ at: clock.now, via: 'beacon', body: JSON.parse(body) });
      return true;
    },
  };
  return { deps, sent };
}

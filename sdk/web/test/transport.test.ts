import { describe, expect, it } from 'vitest';
import { Transport, retryAfterMs } from '../src/core/transport.js';
import { FakeClock, fakeNet } from './fakes.js';

const I = 10_000;
const samples = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ n: from + i }));
const numbers = (s: { body: { samples: { n: number }[] } }) => s.body.samples.map((x) => x.n);

function setup(answer?: Parameters<typeof fakeNet>[1], random?: () => number, o: Partial<ConstructorParameters<typeof Transport>[0]> = {}) {
  const clock = new FakeClock();
  const net = fakeNet(clock, answer, random);
  const t = new Transport({ url: 'http://q/v1/telemetry?key=k', sdk: 'qoswatch-web/test', intervalMs: I, ...o }, net.deps);
  return { clock, t, sent: net.sent };
}

describe('Transport', () => {
  it('sends at a random offset within the interval, never all at the same moment', async () => {
    const times: number[] = [];
    for (const r of [0, 0.25, 0.5, 0.999]) {
      const { clock, t, sent } = setup(undefined, () => r);
      const start = clock.now;
      t.enqueue(samples(0, 1));
      await clock.advance(I * r - 1);
      expect(sent).toHaveLength(0);
      await clock.advance(1);
      expect(sent).toHaveLength(1);
      times.push(sent[0]!.at - start);
    }
    expect(times).toEqual([0, 2500, 5000, 9990]);
  });

  it('batches what was queued into one request, as text the server reads as a batch', async () => {
    const { clock, t, sent } = setup();
    t.enqueue(samples(0, 2));
    t.enqueue(samples(2, 3));
    await clock.advance(I);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.body.sdk).toBe('qoswatch-web/test');
    expect(numbers(sent[0]!)).toEqual([0, 1, 2, 3, 4]);
  });

  it('bounds the queue by count and by size, dropping the oldest', async () => {
    const { clock, t, sent } = setup(() => 'network-error', undefined, { maxQueued: 5 });
    t.enqueue(samples(0, 8));
    expect(t.size).toBe(5);
    expect(t.dropped).toBe(3);
    await clock.advance(I);
    expect(numbers(sent[0]!)).toEqual([3, 4, 5, 6, 7]);

    const bytes = setup(undefined, undefined, { maxQueuedBytes: 100 });
    bytes.t.enqueue(samples(0, 20)); // {"n":10} is 8 bytes
    expect(bytes.t.size).toBe(12);
  });

  it('counts UTF-8 bytes, as the browser quotas do, when it cuts batches', async () => {
    const { clock, t, sent } = setup(undefined, undefined, { maxBatchBytes: 400 });
    // 30 characters, 90 bytes each in UTF-8: three fit in a 400-byte request, not four
    t.enqueue(Array.from({ length: 4 }, (_, n) => ({ n, region: '华'.repeat(30) })));
    await clock.advance(2 * I);
    expect(sent.map(numbers)).toEqual([[0, 1, 2], [3]]);
    for (const s of sent) expect(new TextEncoder().encode(JSON.stringify(s.body)).length).toBeLessThanOrEqual(400);
  });

  it('honours 429 + Retry-After: the same samples again, not before the delay', async () => {
    const { clock, t, sent } = setup((n) => (n === 0 ? { status: 429, retryAfter: '30' } : { status: 202 }));
    t.enqueue(samples(0, 2));
    await clock.advance(I);
    expect(sent).toHaveLength(1);
    const refusedAt = sent[0]!.at;
    t.enqueue(samples(2, 1)); // a new interval's sample does not jump the queue
    await clock.advance(refusedAt + 29_999 - clock.now);
    expect(sent).toHaveLength(1);
    await clock.advance(1);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.at - refusedAt).toBe(30_000);
    expect(numbers(sent[1]!)).toEqual([0, 1, 2]);
    await clock.advance(60_000);
    expect(sent).toHaveLength(2);
  });

  it('backs off after network errors, 5xx and 408, exponentially, and keeps the samples', async () => {
    const answers = ['network-error', { status: 503 }, { status: 408 }, 'network-error', { status: 202 }] as const;
    const { clock, t, sent } = setup((n) => answers[n] ?? { status: 202 }, () => 0.5);
    t.enqueue(samples(0, 1));
    await clock.advance(I);
    await clock.advance(60_000);
    expect(sent.map((s) => s.at - sent[0]!.at)).toEqual([0, 750, 750 + 1500, 750 + 1500 + 3000, 750 + 1500 + 3000 + 6000]);
    expect(sent.every((s) => numbers(s)[0] === 0)).toBe(true);
  });

  it('drops what the server refused for good (a 4xx other than 429) and what it accepted', async () => {
    const { clock, t, sent } = setup((n) => (n === 0 ? { status: 400 } : { status: 202 }));
    t.enqueue(samples(0, 1));
    await clock.advance(I);
    t.enqueue(samples(1, 1));
    await clock.advance(I);
    expect(sent.map(numbers)).toEqual([[0], [1]]);
    expect(t.size).toBe(0);
  });

  it('flushes everything queued in one beacon, and only what is not already in flight', async () => {
    let release!: () => void;
    const clock = new FakeClock();
    const net = fakeNet(clock);
    const post = net.deps.post;
    net.deps.post = async (url, body) => {
      const r = await post(url, body);
      await new Promise<void>((ok) => (release = ok));
      return r;
    };
    const t = new Transport({ url: 'u', sdk: 's', intervalMs: I }, net.deps);
    t.enqueue(samples(0, 2));
    await clock.advance(I); // in flight, unanswered
    t.enqueue(samples(2, 2));
    t.flush([{ n: 4 }]);
    expect(net.sent.map((s) => [s.via, numbers(s)])).toEqual([['fetch', [0, 1]], ['beacon', [2, 3, 4]]]);
    release();
    await clock.advance(5 * I);
    expect(net.sent).toHaveLength(2);
  });

  it('does not beacon into a running Retry-After', async () => {
    const { clock, t, sent } = setup(() => ({ status: 429, retryAfter: '60' }));
    t.enqueue(samples(0, 1));
    await clock.advance(I);
    t.flush([{ n: 1 }]);
    expect(sent.map((s) => s.via)).toEqual(['fetch']);
  });

  it('beacons during a backoff after network errors (the last chance), and retries at once when the browser is back online', async () => {
    const a = setup(() => 'network-error');
    a.t.enqueue(samples(0, 1));
    await a.clock.advance(I / 2); // sent at 5 s, failed: the next try is in 750 ms
    a.t.flush([{ n: 1 }]);
    expect(a.sent.map((s) => [s.via, numbers(s)])).toEqual([['fetch', [0]], ['beacon', [0, 1]]]);

    const b = setup((n) => (n < 5 ? 'network-error' : { status: 202 }));
    b.t.enqueue(samples(0, 1));
    await b.clock.advance(I / 2 + 750 + 1500 + 3000 + 1); // four failures: the next try is 6 s away
    expect(b.sent).toHaveLength(4);
    b.t.online();
    await b.clock.advance(0);
    expect(b.sent).toHaveLength(5);
  });

  it('sends nothing after stop', async () => {
    const { clock, t, sent } = setup();
    t.enqueue(samples(0, 1));
    t.stop();
    t.enqueue(samples(1, 1));
    t.flush();
    await clock.advance(3 * I);
    expect(sent).toHaveLength(0);
  });
});

describe('retryAfterMs', () => {
  it('reads delta seconds and HTTP dates, bounded', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(retryAfterMs('7', now)).toBe(7000);
    expect(retryAfterMs('Tue, 01 Jan 2030 00:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('99999', now)).toBe(600_000);
    expect(retryAfterMs('-5', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });
});

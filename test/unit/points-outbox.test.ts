import { describe, expect, it } from 'vitest';
import { PointsOutbox } from '../../src/storage/points-outbox.js';

describe('PointsOutbox', () => {
  it('gives every point queued since the last take, oldest first, then starts empty', () => {
    const o = new PointsOutbox(true);
    o.enqueue(['a 1', 'b 2']);
    o.enqueue([]);
    o.enqueue(['c 3']);
    expect(o.take()).toEqual(['a 1', 'b 2', 'c 3']);
    expect(o.take()).toEqual([]);
    o.enqueue(['d 4']);
    expect(o.take()).toEqual(['d 4']);
  });

  it('keeps nothing without an InfluxDB sink', () => {
    const o = new PointsOutbox(false);
    o.enqueue(['a 1']);
    expect(o.take()).toEqual([]);
  });

  it('takes a batch longer than a call\'s argument list may be', () => {
    const o = new PointsOutbox(true);
    o.enqueue(Array.from({ length: 300_000 }, (_, i) => `m v=${i}`));
    const taken = o.take();
    expect(taken).toHaveLength(300_000);
    expect([taken[0], taken.at(-1)]).toEqual(['m v=0', 'm v=299999']);
  });

  it('does not change the taken lines when more are queued', () => {
    const o = new PointsOutbox(true);
    o.enqueue(['a 1']);
    const taken = o.take();
    o.enqueue(['b 2']);
    expect(taken).toEqual(['a 1']);
  });
});

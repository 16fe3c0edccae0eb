import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DueQueue } from '../../src/util/due-queue.js';

describe('DueQueue', () => {
  it('hands out each key once, when its latest instant has come, earliest first', () => {
    const q = new DueQueue<string>();
    q.set('a', 30);
    q.set('b', 10);
    q.set('c', 20);
    q.set('b', 40); // moved later
    q.set('c', undefined); // not due any more
    expect(q.takeDue(29)).toEqual([]);
    expect(q.takeDue(30)).toEqual(['a']);
    expect(q.takeDue(100)).toEqual(['b']);
    expect(q.size).toBe(0);
  });

  it('behaves like a map of key → instant scanned in full (random operations)', () => {
    type Op = { key: number; at: number | undefined } | { take: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ key: fc.nat(20), at: fc.option(fc.nat(1000), { nil: undefined }) }),
      fc.record({ take: fc.nat(1000) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const q = new DueQueue<number>();
        const model = new Map<number, number>();
        for (const o of ops) {
          if ('take' in o) {
            const due = new Map([...model].filter(([, at]) => at <= o.take));
            for (const k of due.keys()) model.delete(k);
            const got = q.takeDue(o.take);
            expect([...got].sort((a, b) => a - b)).toEqual([...due.keys()].sort((a, b) => a - b));
            const instants = got.map((k) => due.get(k)!);
            expect(instants, 'earliest first').toEqual([...instants].sort((a, b) => a - b));
          } else {
            q.set(o.key, o.at);
            if (o.at === undefined) model.delete(o.key);
            else model.set(o.key, o.at);
          }
          expect(q.size).toBe(model.size);
        }
      }),
    );
  });
});

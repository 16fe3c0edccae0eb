import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { desiredPartitions, ownerOf, partitionOf } from '../../../src/cluster/partitions.js';

describe('partitions', () => {
  it('puts a tenant and region always in the same partition, and spreads regions over all of them', () => {
    expect(partitionOf('acme', 'eu-west', 64)).toBe(partitionOf('acme', 'eu-west', 64));
    const used = new Set(Array.from({ length: 2000 }, (_, i) => partitionOf('acme', `r-${i}`, 64)));
    expect(used.size).toBe(64);
    // Tenant and region are not run together: ("ab", "c") and ("a", "bc") are different units.
    expect(partitionOf('ab', 'c', 1 << 30)).not.toBe(partitionOf('a', 'bc', 1 << 30));
  });

  it('gives every partition exactly one owner among the members', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 9 }), fc.integer({ min: 1, max: 128 }), (members, partitions) => {
        const owned = members.flatMap((m) => desiredPartitions(m, members, partitions));
        expect(owned.sort((a, b) => a - b)).toEqual(Array.from({ length: partitions }, (_, i) => i));
      }),
    );
  });

  it('moves only the partitions of the member that joins or leaves (rendezvous hashing)', () => {
    const before = ['node-a', 'node-b', 'node-c'];
    const after = [...before, 'node-d'];
    let moved = 0;
    for (let p = 0; p < 1024; p++) {
      const was = ownerOf(p, before);
      const is = ownerOf(p, after);
      if (was !== is) {
        moved++;
        expect(is, 'a partition only moves to the new member').toBe('node-d');
      }
    }
    // About a quarter moves to the fourth member; none moves between the old ones.
    expect(moved).toBeGreaterThan(1024 * 0.15);
    expect(moved).toBeLessThan(1024 * 0.35);
  });

  it('shares the partitions between members whose names differ in one character (node-a, node-b: each gets some of 4)', () => {
    // Plain FNV-1a scores of such names rank alike on every partition: one member got all of them.
    for (const members of [['node-a', 'node-b'], ['worker-1', 'worker-2', 'worker-3']]) {
      const counts = members.map((m) => desiredPartitions(m, members, 16).length);
      expect(Math.min(...counts), `${members.join(', ')} over 16 partitions: ${counts.join(', ')}`).toBeGreaterThanOrEqual(2);
    }
    expect(desiredPartitions('node-b', ['node-a', 'node-b'], 4).length).toBeGreaterThan(0);
  });
});

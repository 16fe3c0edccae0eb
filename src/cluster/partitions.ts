/**
 * Which partition a sample belongs to, and which node should own each partition (SCALE-OUT.md §4.1, §4.3). Pure:
 * every node computes the same answers from the same inputs.
 */

/** FNV-1a, 32 bits: stable across processes and versions (a partition's data must not move by itself). */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A sample's partition: by tenant and region, the unit alerts group by — so one node sees all of a region's sessions
 * and counts them exactly, and no window is split between nodes.
 */
export function partitionOf(tenant: string, region: string, partitions: number): number {
  return fnv1a(`${tenant}\u0000${region}`) % partitions;
}

/** MurmurHash3's finalizer: FNV-1a of names that differ in a character or two is too alike to rank them by. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Rendezvous (highest random weight) assignment: each partition goes to the live member with the highest score for
 * it. A member joining or leaving moves only the partitions it wins or held, about 1/N of them.
 */
export function ownerOf(partition: number, members: readonly string[]): string | undefined {
  let best: string | undefined;
  let score = -1;
  for (const m of members) {
    const s = mix(fnv1a(`${m}/${partition}`));
    if (s > score || (s === score && best !== undefined && m < best)) [best, score] = [m, s];
  }
  return best;
}

/** The partitions `self` should own among `members`. */
export function desiredPartitions(self: string, members: readonly string[], partitions: number): number[] {
  const out: number[] = [];
  for (let p = 0; p < partitions; p++) if (ownerOf(p, members) === self) out.push(p);
  return out;
}

/**
 * Keys by the instant each is next due, in a binary min-heap: setting a key replaces its instant (the old heap entry
 * is left behind and skipped when it surfaces), and taking what is due costs O(log n) per key taken — nothing for
 * the keys not due yet.
 */
export class DueQueue<K> {
  private readonly at = new Map<K, number>();
  private readonly heap: { at: number; key: K }[] = [];

  /** Due at `at`, or (undefined) not due at all. */
  set(key: K, at: number | undefined): void {
    if (at === undefined) {
      this.at.delete(key);
      return;
    }
    if (this.at.get(key) === at) return;
    this.at.set(key, at);
    this.push({ at, key });
  }

  /** Removes and returns the keys due at or before `now`, earliest first. */
  takeDue(now: number): K[] {
    const out: K[] = [];
    while (this.heap.length && this.heap[0]!.at <= now) {
      const top = this.pop();
      if (this.at.get(top.key) !== top.at) continue; // replaced or removed since
      this.at.delete(top.key);
      out.push(top.key);
    }
    // Left-behind entries are dropped once they outnumber the live ones, so the heap stays O(keys).
    if (this.heap.length > 2 * this.at.size + 64) this.compact();
    return out;
  }

  /** Keys that are due at some instant. */
  get size(): number {
    return this.at.size;
  }

  private compact(): void {
    this.heap.length = 0;
    for (const [key, at] of this.at) this.push({ at, key });
  }

  private push(e: { at: number; key: K }): void {
    const h = this.heap;
    h.push(e);
    for (let i = h.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.at <= h[i]!.at) break;
      [h[parent], h[i]] = [h[i]!, h[parent]!];
      i = parent;
    }
  }

  private pop(): { at: number; key: K } {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let min = i;
        if (l < h.length && h[l]!.at < h[min]!.at) min = l;
        if (r < h.length && h[r]!.at < h[min]!.at) min = r;
        if (min === i) break;
        [h[min], h[i]] = [h[i]!, h[min]!];
        i = min;
      }
    }
    return top;
  }
}

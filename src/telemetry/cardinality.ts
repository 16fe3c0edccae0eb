/**
 * Per-tenant caps on distinct tag values (PRODUCT.md §2): the first `cap` values of a dimension keep their own
 * series; later ones fold into `other` and are counted. A value not seen for `ttlMs` releases its slot, so one key
 * holder cannot fill a tenant's caps for good (caps were first-come and never expired). Admitted values and when
 * they were last seen are persisted by the caller (hooks), so they keep their series across restarts. Pure: time
 * is an argument.
 */
export interface CapHooks {
  onAdmit?(tenant: string, dim: string, value: string, now: number): void;
  onFold?(dim: string): void;
  onRelease?(tenant: string, dim: string, value: string): void;
  /** A value's last sighting moved on by a save interval since it was last persisted. */
  onSeen?(tenant: string, dim: string, value: string, lastSeen: number): void;
}

export const OTHER = 'other';

/** An admitted value. */
export interface CapSlot {
  lastSeen: number;
  /** The last sighting persisted (through onAdmit or onSeen). */
  saved: number;
  /** Set once the value is released (or replaced by a restore): a holder of the slot must admit it again. */
  released: boolean;
}

export class CardinalityCaps {
  /** tenant → dimension → admitted values (nested, so the hot path builds no key strings). */
  private readonly admitted = new Map<string, Map<string, Map<string, CapSlot>>>();
  /** A sighting is persisted again once it has moved on by this much (a tenth of the TTL, at most an hour). */
  private readonly saveEveryMs: number;

  constructor(
    private readonly capOf: (dim: string) => number,
    private readonly hooks: CapHooks = {},
    private readonly ttlMs = Infinity,
  ) {
    this.saveEveryMs = Math.min(ttlMs / 10, 3_600_000);
  }

  /** Restores a value admitted before a restart, last seen at `lastSeen`. */
  restore(tenant: string, dim: string, value: string, lastSeen: number): void {
    const slots = this.slotsOf(tenant, dim);
    const old = slots.get(value);
    if (old) old.released = true;
    slots.set(value, { lastSeen, saved: lastSeen, released: false });
  }

  admit(tenant: string, dim: string, value: string, now: number): string {
    return this.admitSlot(tenant, dim, value, now) ? value : OTHER;
  }

  /** `admit`, answering the value's slot, or undefined when it folds into `other`. */
  admitSlot(tenant: string, dim: string, value: string, now: number): CapSlot | undefined {
    const slots = this.slotsOf(tenant, dim);
    const slot = slots.get(value);
    if (slot) {
      this.seen(slot, now);
      return slot;
    }
    if (value === OTHER || slots.size >= this.capOf(dim)) {
      if (value !== OTHER) this.hooks.onFold?.(dim);
      return undefined;
    }
    const added: CapSlot = { lastSeen: now, saved: now, released: false };
    slots.set(value, added);
    this.hooks.onAdmit?.(tenant, dim, value, now);
    return added;
  }

  /**
   * A value seen again through a slot its holder kept (what `admit` does for an admitted value, without the
   * lookups); false when the slot was released, and the value must be admitted again.
   */
  seen(slot: CapSlot, now: number): boolean {
    if (slot.released) return false;
    if (now > slot.lastSeen) slot.lastSeen = now;
    return true;
  }

  /**
   * Releases the values not seen for the TTL (their series stay in the window store until their windows age out)
   * and reports sightings worth persisting.
   */
  sweep(now: number): void {
    for (const [tenant, dims] of this.admitted) {
      for (const [dim, slots] of dims) {
        for (const [value, slot] of slots) {
          if (now - slot.lastSeen >= this.ttlMs) {
            slots.delete(value);
            slot.released = true;
            this.hooks.onRelease?.(tenant, dim, value);
          } else if (slot.lastSeen - slot.saved >= this.saveEveryMs) {
            slot.saved = slot.lastSeen;
            this.hooks.onSeen?.(tenant, dim, value, slot.lastSeen);
          }
        }
        if (slots.size === 0) dims.delete(dim);
      }
      if (dims.size === 0) this.admitted.delete(tenant);
    }
  }

  size(tenant: string, dim: string): number {
    return this.admitted.get(tenant)?.get(dim)?.size ?? 0;
  }

  private slotsOf(tenant: string, dim: string): Map<string, CapSlot> {
    let dims = this.admitted.get(tenant);
    if (!dims) this.admitted.set(tenant, (dims = new Map()));
    let s = dims.get(dim);
    if (!s) dims.set(dim, (s = new Map()));
    return s;
  }
}

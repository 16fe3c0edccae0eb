/**
 * Per-tenant caps on distinct tag values (PRODUCT.md §2): the first `cap` values of a dimension keep their own
 * series; later ones fold into `other` and are counted. Admitted values are persisted by the caller (`onAdmit`)
 * so the same values keep their series across restarts.
 */
export interface CapHooks {
  onAdmit?(tenant: string, dim: string, value: string): void;
  onFold?(dim: string): void;
}

export const OTHER = 'other';

export class CardinalityCaps {
  /** tenant → dimension → admitted values (nested, so the hot path builds no key strings). */
  private readonly admitted = new Map<string, Map<string, Set<string>>>();

  constructor(
    private readonly capOf: (dim: string) => number,
    private readonly hooks: CapHooks = {},
  ) {}

  /** Restores values admitted before a restart. */
  restore(tenant: string, dim: string, value: string): void {
    this.setOf(tenant, dim).add(value);
  }

  admit(tenant: string, dim: string, value: string): string {
    const set = this.setOf(tenant, dim);
    if (set.has(value)) return value;
    if (value === OTHER || set.size >= this.capOf(dim)) {
      if (value !== OTHER) this.hooks.onFold?.(dim);
      return OTHER;
    }
    set.add(value);
    this.hooks.onAdmit?.(tenant, dim, value);
    return value;
  }

  size(tenant: string, dim: string): number {
    return this.admitted.get(tenant)?.get(dim)?.size ?? 0;
  }

  private setOf(tenant: string, dim: string): Set<string> {
    let dims = this.admitted.get(tenant);
    if (!dims) this.admitted.set(tenant, (dims = new Map()));
    let s = dims.get(dim);
    if (!s) dims.set(dim, (s = new Set()));
    return s;
  }
}

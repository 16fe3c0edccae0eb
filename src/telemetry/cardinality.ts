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
  private readonly admitted = new Map<string, Set<string>>();

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
    return this.admitted.get(`${tenant}\0${dim}`)?.size ?? 0;
  }

  private setOf(tenant: string, dim: string): Set<string> {
    const k = `${tenant}\0${dim}`;
    let s = this.admitted.get(k);
    if (!s) this.admitted.set(k, (s = new Set()));
    return s;
  }
}

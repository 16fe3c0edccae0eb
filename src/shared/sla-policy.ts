import type { Priority } from './priority.js';
import type { SlaCell, SlaMatrix, SlaTarget, TargetName, Tier } from './tenant.js';

const M = 60_000;
const H = 60 * M;
const D = 24 * H;
const h24 = (ms: number): SlaTarget => ({ ms, calendar: '24x7' });
const bh = (hours: number): SlaTarget => ({ ms: hours * H, calendar: 'business' });

/** PRODUCT.md §3's default matrix: response / restore / resolve by tier and priority. */
export const DEFAULT_SLA: SlaMatrix = {
  strategic: {
    P0: { response: h24(15 * M), restore: h24(1 * H), resolve: h24(24 * H) },
    P1: { response: h24(30 * M), restore: h24(4 * H), resolve: h24(3 * D) },
    P2: { response: h24(2 * H), restore: h24(24 * H), resolve: h24(5 * D) },
    P3: { response: { businessDays: 1 } },
  },
  enterprise: {
    P0: { response: h24(30 * M), restore: h24(4 * H), resolve: h24(3 * D) },
    P1: { response: h24(4 * H), restore: h24(8 * H), resolve: h24(5 * D) },
    P2: { response: h24(8 * H), restore: h24(24 * H), resolve: h24(10 * D) },
    P3: { response: h24(24 * H) },
  },
  basic: {
    P0: { response: bh(8), restore: h24(24 * H), resolve: h24(5 * D) },
    P1: { response: bh(8), restore: h24(72 * H), resolve: h24(10 * D) },
    P2: { response: bh(8) },
    P3: { response: { businessDays: 3 } },
  },
};

/**
 * A target as written in the config file: "15m", "4h", "3d" (24×7); "8h business" (business hours); "1 business
 * day" / "3 business days"; "none" (no clock). Returns undefined for text it cannot read.
 */
export function parseTarget(text: string): SlaTarget | null | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'none') return null;
  const days = /^(\d+(?:\.\d+)?)\s+business\s+days?$/.exec(t);
  if (days) return { businessDays: Number(days[1]) };
  const m = /^(\d+(?:\.\d+)?)\s*(m|h|d)(\s+business)?$/.exec(t);
  if (!m) return undefined;
  const ms = Number(m[1]) * { m: M, h: H, d: D }[m[2] as 'm' | 'h' | 'd'];
  return { ms, calendar: m[3] ? 'business' : '24x7' };
}

/** Overrides: per priority, per target, a target or null (no clock). */
export type SlaOverrides = Partial<Record<Priority, Partial<Record<TargetName, SlaTarget | null>>>>;

/** The matrix row of a tier with the tier's and then the tenant's overrides applied, cell by cell. */
export function mergeSla(base: SlaMatrix[Tier], ...overrides: (SlaOverrides | undefined)[]): SlaMatrix[Tier] {
  const out = { ...base } as Record<Priority, SlaCell>;
  for (const o of overrides) {
    for (const [p, cell] of Object.entries(o ?? {}) as [Priority, Partial<Record<TargetName, SlaTarget | null>>][]) {
      const next: Partial<Record<TargetName, SlaTarget>> = { ...out[p] };
      for (const [name, target] of Object.entries(cell) as [TargetName, SlaTarget | null][]) {
        if (target === null) delete next[name];
        else next[name] = target;
      }
      out[p] = next;
    }
  }
  return out;
}

import type { Priority } from '../rules/rule-schema.js';
import { type BusinessHours, type Calendar, businessDayMs } from './calendar.js';

export const TIERS = ['basic', 'enterprise', 'strategic'] as const;
export type Tier = (typeof TIERS)[number];
export const TARGETS = ['response', 'restore', 'resolve'] as const;
export type TargetName = (typeof TARGETS)[number];

/** One SLA target: a duration on the 24×7 clock, or business hours/days on the tenant's business calendar. */
export type SlaTarget = { readonly ms: number; readonly calendar: '24x7' | 'business' } | { readonly businessDays: number };

/** A cell of the matrix: a missing target ("—", "scheduled") has no clock. */
export type SlaCell = Readonly<Partial<Record<TargetName, SlaTarget>>>;
export type SlaMatrix = Readonly<Record<Tier, Readonly<Record<Priority, SlaCell>>>>;

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

/** The clock a target runs on and its length on that clock, for a tenant with these business hours. */
export function resolveTarget(t: SlaTarget, business: BusinessHours): { calendar: Calendar; ms: number } {
  if ('businessDays' in t) return { calendar: business, ms: t.businessDays * businessDayMs(business) };
  return { calendar: t.calendar === '24x7' ? '24x7' : business, ms: t.ms };
}

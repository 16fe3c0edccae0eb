import type { Priority } from './priority.js';
import type { Weekday } from './time-of-day.js';

export const TIERS = ['basic', 'enterprise', 'strategic'] as const;
export type Tier = (typeof TIERS)[number];
export const TARGETS = ['response', 'restore', 'resolve'] as const;
export type TargetName = (typeof TARGETS)[number];

/** One SLA target: a duration on the 24×7 clock, or business hours/days on the tenant's business calendar. */
export type SlaTarget = { readonly ms: number; readonly calendar: '24x7' | 'business' } | { readonly businessDays: number };

/** A cell of the matrix: a missing target ("—", "scheduled") has no clock. */
export type SlaCell = Readonly<Partial<Record<TargetName, SlaTarget>>>;
export type SlaMatrix = Readonly<Record<Tier, Readonly<Record<Priority, SlaCell>>>>;

/** Business hours in a tenant's time zone: the same window on each working day, holidays off. */
export interface BusinessHours {
  readonly timezone: string;
  readonly days: readonly Weekday[];
  /** HH:MM, start < end (no overnight windows). */
  readonly start: string;
  readonly end: string;
  /** Local dates (YYYY-MM-DD) that are not working days. */
  readonly holidays: readonly string[];
}

/** PRODUCT.md §3: Mon–Fri 09:00–18:00, no holidays (the tenant's zone added). */
export const DEFAULT_BUSINESS_HOURS: Omit<BusinessHours, 'timezone'> = { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '18:00', holidays: [] };

/** A tenant as tickets, SLA clocks, reports and notifications read it (tenants/ builds it from the config file and the API). */
export interface Tenant {
  id: string;
  name: string;
  tier: Tier;
  timezone: string;
  /** Business calendar in the tenant's zone (SLA targets in business hours). */
  businessHours: BusinessHours;
  /** The tenant's SLA targets: the default matrix for its tier with the tier's and its own overrides. */
  sla: SlaMatrix[Tier];
  /** Who hears about customer-visible updates: contacts by email, and a customer chat channel. */
  contacts: readonly { name: string; email: string }[];
  customerChannel: string | undefined;
  /** Scheduled QoS reports (daily, weekly) and who gets them. */
  reports: { readonly daily?: { at: string; to: readonly string[] }; readonly weekly?: { day: Weekday; at: string; to: readonly string[] } };
  /** Budgets set for this tenant (series, points per window, live sessions); the others are the environment's. */
  budgets?: Readonly<Partial<Record<'series' | 'points' | 'sessions', number>>>;
}


import { type BusinessHours, DEFAULT_BUSINESS_HOURS } from '../../src/shared/tenant.js';

/** PRODUCT.md §3's business hours (Mon–Fri 09:00–18:00) in `timezone`, with `holidays` off. */
export const businessHours = (timezone: string, holidays: readonly string[] = []): BusinessHours => ({ ...DEFAULT_BUSINESS_HOURS, timezone, holidays });

import type { FileConfig, TenantConfig } from '../config/file.js';
import { type BusinessHours, DEFAULT_BUSINESS_HOURS } from '../tickets/calendar.js';
import { DEFAULT_SLA, type SlaMatrix, mergeSla } from '../tickets/sla-policy.js';

export type Tier = TenantConfig['tier'];

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
}

/** Tenants from the config file; the default tenant exists even when the file does not name it. */
export class Tenants {
  private readonly byId = new Map<string, Tenant>();
  readonly defaultId: string;

  constructor(config: FileConfig) {
    this.defaultId = config.default_tenant;
    for (const t of config.tenants) {
      const sla = mergeSla(DEFAULT_SLA[t.tier], config.sla[t.tier], t.sla);
      this.byId.set(t.id, { id: t.id, name: t.name ?? t.id, tier: t.tier, timezone: t.timezone, businessHours: { timezone: t.timezone, ...t.business_hours }, sla, contacts: t.contacts, customerChannel: t.customer_channel });
    }
    if (!this.byId.has(this.defaultId)) {
      const sla = mergeSla(DEFAULT_SLA.enterprise, config.sla.enterprise);
      this.byId.set(this.defaultId, { id: this.defaultId, name: this.defaultId, tier: 'enterprise', timezone: 'UTC', businessHours: DEFAULT_BUSINESS_HOURS('UTC'), sla, contacts: [], customerChannel: undefined });
    }
  }

  get(id: string): Tenant | undefined {
    return this.byId.get(id);
  }

  list(): Tenant[] {
    return [...this.byId.values()];
  }
}

import type { z } from 'zod';
import { type FileConfig, tenantBodySchema } from '../config/file.js';
import { conflict } from '../shared/http-errors.js';
import { DEFAULT_SLA, mergeSla } from '../shared/sla-policy.js';
import type { Tenant } from '../shared/tenant.js';
import type { StateStore } from '../storage/state/store.js';
import type { TenantRecord } from '../storage/state/tenants.js';

/** Tenants from the config file; the default tenant exists even when the file does not name it. */
export class Tenants {
  private readonly byId = new Map<string, Tenant>();
  readonly defaultId: string;

  /** The stored spec of each tenant the API made, as last taken in. */
  private readonly specs = new Map<string, string>();

  /** Ids defined in the config file: the API cannot change those. */
  private readonly fromConfig = new Set<string>();

  /** The config file's tenants and those the API stored. */
  static async load(config: FileConfig, rows: StateStore['tenants']): Promise<Tenants> {
    return new Tenants(config, rows, await rows.all());
  }

  /** Without `rows`, only the config file's tenants (the API cannot add any). */
  constructor(
    private readonly config: FileConfig,
    private readonly rows?: StateStore['tenants'],
    stored: readonly TenantRecord[] = [],
  ) {
    this.defaultId = config.default_tenant;
    for (const t of config.tenants) {
      this.byId.set(t.id, this.build(t));
      this.fromConfig.add(t.id);
    }
    this.hold(stored);
    // The default tenant exists even when nothing names it: enterprise, UTC, default business hours.
    if (!this.byId.has(this.defaultId)) this.byId.set(this.defaultId, this.build(tenantBodySchema.parse({ id: this.defaultId })));
  }

  /** Reads the tenants the API stored again (another node of a cluster saved one). */
  async reload(): Promise<void> {
    if (this.rows) this.hold(await this.rows.all());
  }

  /**
   * Takes the stored tenants in (the config file's win: the API cannot store one of theirs). A tenant whose spec did
   * not change keeps its object: the SLA watch re-reads the tickets of a tenant whose object changed.
   */
  private hold(stored: readonly TenantRecord[]): void {
    for (const r of stored) {
      const spec = JSON.stringify(r.spec);
      if (this.fromConfig.has(r.id) || this.specs.get(r.id) === spec) continue;
      this.specs.set(r.id, spec);
      this.byId.set(r.id, this.build(tenantBodySchema.parse(r.spec)));
    }
  }

  /** Creates (201) or replaces (200) a tenant through the API; tenants of the config file are refused (409). */
  async save(body: unknown, actor: string, now: number): Promise<{ tenant: Tenant; created: boolean }> {
    const spec = tenantBodySchema.parse(body);
    if (this.fromConfig.has(spec.id)) throw conflict(`tenant ${spec.id} is defined in the config file; change it there`);
    const existed = this.byId.has(spec.id);
    await this.rows!.save(spec.id, body, actor, now);
    this.specs.set(spec.id, JSON.stringify(body));
    const tenant = this.build(spec);
    this.byId.set(spec.id, tenant);
    return { tenant, created: !existed };
  }

  get(id: string): Tenant | undefined {
    return this.byId.get(id);
  }

  list(): Tenant[] {
    return [...this.byId.values()];
  }

  private build(t: z.output<typeof tenantBodySchema>): Tenant {
    const sla = mergeSla(DEFAULT_SLA[t.tier], this.config.sla[t.tier], t.sla);
    return { id: t.id, name: t.name ?? t.id, tier: t.tier, timezone: t.timezone, businessHours: { timezone: t.timezone, ...t.business_hours }, sla, contacts: t.contacts, customerChannel: t.customer_channel, reports: t.reports ?? {}, budgets: t.budgets };
  }
}

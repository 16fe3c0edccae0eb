import type { Metrics } from '../../metrics.js';
import type { StateStore } from '../../storage/state/store.js';
import { type Rate, formatDuration } from '../../util/units.js';
import type { Outbox } from '../outbox.js';
import type { Notes } from './notes.js';

/**
 * The budget stage: pages per tenant per period. Beyond it a tenant's due pages wait (in priority order, recorded
 * once each on their timelines and in /metrics) while other tenants' pages go out; customer updates are not pages.
 */
export class BudgetStage {
  /** Rows recorded as held, and whose they are. */
  private readonly held = new Map<number, string>();

  constructor(
    private readonly deps: { outbox: Outbox; metrics: Metrics; notes: Notes },
    private readonly budget: Rate,
  ) {}

  /** Whether a tenant has sent its budget within the budget's period. */
  async over(tenant: string, now: number, t?: Pick<StateStore, 'outbox'>): Promise<boolean> {
    return (await this.deps.outbox.sentBy(tenant, now - this.budget.windowMs, t)) >= this.budget.max;
  }

  /**
   * One dispatch pass: `admit` is asked once per page about to be claimed and counts it; `end` records what the
   * budget holds back of the tenants it ran out for.
   */
  pass(now: number): { admit: (tenant: string) => Promise<boolean>; end: () => Promise<void> } {
    const left = new Map<string, number>();
    return {
      admit: async (tenant) => {
        const n = left.get(tenant) ?? this.budget.max - (await this.deps.outbox.sentBy(tenant, now - this.budget.windowMs));
        left.set(tenant, Math.max(0, n - 1));
        return n > 0;
      },
      end: async () => {
        for (const [tenant, n] of left) if (n === 0 && (await this.over(tenant, now))) await this.recordHeld(tenant, now);
      },
    };
  }

  /** A row was claimed: should its tenant's budget hold it again later, that is recorded anew. */
  claimed(id: number): void {
    this.held.delete(id);
  }

  private async recordHeld(tenant: string, now: number): Promise<void> {
    const pending = await this.deps.outbox.pendingOf(tenant, now);
    const ids = new Set(pending.map((r) => r.id));
    for (const [id, t] of this.held) if (t === tenant && !ids.has(id)) this.held.delete(id);
    for (const row of pending) {
      if (this.held.has(row.id)) continue;
      this.held.set(row.id, tenant);
      this.deps.metrics.pagesHeld.inc({ tenant });
      const budget = `${this.budget.max} per ${formatDuration(this.budget.windowMs)}`;
      await this.deps.notes.row(row, 'page_held', { recipient: row.recipient, channel: row.channel, kind: row.kind, reason: `tenant ${tenant} has sent its page budget (${budget}); sent as the budget allows` }, now);
    }
  }
}

import type { AuditRecord } from '../storage/state/audit.js';
import type { StateStore } from '../storage/state/store.js';

/**
 * The audit log of configuration changes (silences, overrides, tenants, keys, rules reloads, planned events, users):
 * who, what, and the API's view of the thing before and after — never a secret (views carry none).
 */
export class AuditLog {
  constructor(private readonly state: Pick<StateStore, 'audit'>) {}

  record(actor: string, action: string, target: string, change: { before?: unknown; after?: unknown }, now: number): Promise<AuditRecord> {
    return this.state.audit.insert({ at: now, actor, action, target, before: change.before, after: change.after });
  }

  list(q: { before?: number; limit: number; target?: string; action?: string }): Promise<AuditRecord[]> {
    return this.state.audit.list(q);
  }
}

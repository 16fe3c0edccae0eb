import type { AlertRepo } from './alerts.js';
import type { CredentialRepo } from './credentials.js';
import type { DimValueRepo } from './dim-values.js';
import type { EscalationRepo } from './escalations.js';
import type { EventRepo } from './events.js';
import type { IncidentRepo } from './incidents.js';
import type { MetaRepo } from './meta.js';
import type { OutboxRepo } from './outbox.js';
import type { OverrideRepo } from './overrides.js';
import type { ReportRepo } from './reports.js';
import type { SilenceRepo } from './silences.js';
import type { StormRepo } from './storms.js';
import type { TenantRepo } from './tenants.js';
import type { TicketRepo } from './tickets.js';
import type { TimelineCursors } from './timeline.js';

/**
 * A repository's methods as the store offers them: the same arguments and results, settled later. The SQLite
 * repositories of this folder are the reference implementation; a store over another database (PostgreSQL in
 * cluster mode) answers the same calls over the network, so callers await every one.
 */
export type Async<R> = {
  [K in keyof R]: R[K] extends (...args: infer A) => infer T ? (...args: A) => Promise<Awaited<T>> : never;
};

/** The API-made credentials' tables. */
export type CredentialTable = 'ingest_keys' | 'tenant_tokens';

/**
 * The state of incidents, paging, tickets and configuration: one repository per table group and transactions.
 *
 * Outside a transaction each call stands alone. `tx(fn)` runs `fn` with a store bound to one transaction: all of
 * its writes are stored, or none (it throws, and the store rolls back). Inside `fn`, use only the store it was
 * given — never the outer one, which waits for the transaction to end — and do not run two calls at once on it.
 * A `tx` on a transaction's store is a savepoint of it.
 */
export interface StateStore {
  readonly incidents: Async<IncidentRepo>;
  readonly alerts: Async<AlertRepo>;
  readonly cursors: Async<TimelineCursors>;
  readonly outbox: Async<OutboxRepo>;
  readonly storms: Async<StormRepo>;
  readonly escalations: Async<EscalationRepo>;
  readonly tickets: Async<TicketRepo>;
  readonly silences: Async<SilenceRepo>;
  readonly overrides: Async<OverrideRepo>;
  readonly tenants: Async<TenantRepo>;
  readonly meta: Async<MetaRepo>;
  readonly events: Async<EventRepo>;
  readonly reports: Async<ReportRepo>;
  readonly dimValues: Async<DimValueRepo>;
  credentials(table: CredentialTable): Async<CredentialRepo>;
  tx<T>(fn: (t: StateStore) => Promise<T>): Promise<T>;
}

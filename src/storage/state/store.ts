import type { Repos } from './index.js';

/** The API-made credentials' tables. */
export type CredentialTable = 'ingest_keys' | 'tenant_tokens';

/**
 * The state of incidents, paging, tickets and configuration: one repository per table group (index.ts; every call
 * settles later: PostgreSQL answers over the network) and transactions.
 *
 * Outside a transaction each call stands alone. `tx(fn)` runs `fn` with a store bound to one transaction: all of
 * its writes are stored, or none (it throws, and the store rolls back). Inside `fn`, use only the store it was
 * given — never the outer one, which may wait for the transaction to end — and do not run two calls at once on it.
 * A `tx` on a transaction's store is a savepoint of it.
 */
export interface StateStore extends Pick<Repos, keyof Repos> {
  tx<T>(fn: (t: StateStore) => Promise<T>): Promise<T>;
}

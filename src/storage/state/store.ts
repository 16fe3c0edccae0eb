import { type Fence, StaleEpochError } from './fences.js';
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
  tx<T>(fn: (t: StateStore) => Promise<T>, opts?: TxOptions): Promise<T>;
  /**
   * Calls `fn` soon after any node commits a change of `channel` ('timeline': an entry; 'config': the table of a
   * silence, override, tenant, key, token or planned event changed, its name as the detail); returns the unsubscribe.
   * PostgreSQL: NOTIFY (best effort: listeners poll as well). SQLite: nothing (one process, whose writers tell its
   * areas themselves).
   */
  listen(channel: Channel, fn: (detail: string) => void): () => void;
}

export type Channel = 'timeline' | 'config';

export interface TxOptions {
  /**
   * Write as the owner holding this epoch: the transaction first raises the fence and fails with StaleEpochError
   * (writing nothing) when a newer owner has written already.
   */
  fence?: Fence;
}

/** The first statement of a transaction opened with `opts`. */
export async function begin(t: StateStore, opts: TxOptions | undefined): Promise<void> {
  if (opts?.fence && !(await t.fences.hold(opts.fence))) throw new StaleEpochError(opts.fence);
}

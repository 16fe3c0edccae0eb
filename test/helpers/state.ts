import { type IncidentOptions, Incidents } from '../../src/incidents/incidents.js';
import { DEFAULT_RETRY, Outbox, type RetryPolicy } from '../../src/notify/outbox.js';
import type { Db } from '../../src/storage/sqlite.js';
import { SqliteStateStore } from '../../src/storage/state/sqlite-store.js';
import type { StateStore } from '../../src/storage/state/store.js';
import { Tickets } from '../../src/tickets/tickets.js';

const stores = new WeakMap<Db, SqliteStateStore>();

/**
 * The state store over a state db, one per db as the storage plugin makes it: its transactions take turns on the
 * connection, which two stores over one db would not.
 */
export function stateOn(db: Db): StateStore {
  let s = stores.get(db);
  if (!s) stores.set(db, (s = new SqliteStateStore(db)));
  return s;
}

/** An outbox sender over a state db, as the pager makes one. */
export function outboxOn(db: Db, retry: RetryPolicy = DEFAULT_RETRY, claimMs?: number): Outbox {
  return new Outbox(stateOn(db), retry, claimMs);
}

/** Tickets over a state db, as the tickets plugin makes them. */
export function ticketsOn(db: Db): Tickets {
  return new Tickets(stateOn(db));
}

/** Incidents over a state db, as the incidents plugin makes them. */
export function incidentsOn(db: Db, opts: IncidentOptions): Incidents {
  return new Incidents(stateOn(db), opts);
}

import { type IncidentOptions, Incidents } from '../../src/incidents/incidents.js';
import { DEFAULT_RETRY, Outbox, type RetryPolicy } from '../../src/notify/outbox.js';
import type { Db } from '../../src/storage/sqlite.js';
import { StateRepos } from '../../src/storage/state/index.js';
import { Tickets } from '../../src/tickets/tickets.js';

/** An outbox sender over a state db, as the pager makes one. */
export function outboxOn(db: Db, retry: RetryPolicy = DEFAULT_RETRY, claimMs?: number): Outbox {
  const state = new StateRepos(db);
  return new Outbox(state.outbox, state.tx, retry, claimMs);
}

/** Tickets over a state db, as the tickets plugin makes them. */
export function ticketsOn(db: Db): Tickets {
  const state = new StateRepos(db);
  return new Tickets(state.tickets, state.tx);
}

/** Incidents over a state db, as the incidents plugin makes them. */
export function incidentsOn(db: Db, opts: IncidentOptions): Incidents {
  const state = new StateRepos(db);
  return new Incidents(state.incidents, state.tx, opts);
}

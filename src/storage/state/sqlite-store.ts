import { AsyncLocalStorage } from 'node:async_hooks';
import type { Db } from '../sqlite.js';
import { StateRepos } from './index.js';
import type { Async, CredentialTable, StateStore } from './store.js';

type Run = <T>(op: () => T) => Promise<T>;

/** Settles with what `op` returns or throws, now. */
const now: Run = (op) => {
  try {
    return Promise.resolve(op());
  } catch (err) {
    return Promise.reject(err as Error);
  }
};

/** The repository's methods, each run through `run`. */
function wrap<R extends object>(repo: R, run: Run): Async<R> {
  const out: Record<string, unknown> = {};
  for (let proto = Object.getPrototypeOf(repo); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const method = Object.getOwnPropertyDescriptor(proto, name)?.value;
      if (name === 'constructor' || name in out || typeof method !== 'function') continue;
      out[name] = (...args: unknown[]) => run(() => method.apply(repo, args));
    }
  }
  return out as Async<R>;
}

/** The store's repositories, their calls run through `run`. */
class View {
  readonly incidents;
  readonly alerts;
  readonly cursors;
  readonly outbox;
  readonly storms;
  readonly escalations;
  readonly tickets;
  readonly silences;
  readonly overrides;
  readonly tenants;
  readonly meta;
  readonly events;
  readonly reports;
  readonly dimValues;
  private readonly creds = new Map<CredentialTable, unknown>();

  constructor(
    private readonly repos: StateRepos,
    private readonly run: Run,
  ) {
    this.incidents = wrap(repos.incidents, run);
    this.alerts = wrap(repos.alerts, run);
    this.cursors = wrap(repos.cursors, run);
    this.outbox = wrap(repos.outbox, run);
    this.storms = wrap(repos.storms, run);
    this.escalations = wrap(repos.escalations, run);
    this.tickets = wrap(repos.tickets, run);
    this.silences = wrap(repos.silences, run);
    this.overrides = wrap(repos.overrides, run);
    this.tenants = wrap(repos.tenants, run);
    this.meta = wrap(repos.meta, run);
    this.events = wrap(repos.events, run);
    this.reports = wrap(repos.reports, run);
    this.dimValues = wrap(repos.dimValues, run);
  }

  credentials(table: CredentialTable) {
    let c = this.creds.get(table) as Async<ReturnType<StateRepos['credentials']>> | undefined;
    if (!c) this.creds.set(table, (c = wrap(this.repos.credentials(table), this.run)));
    return c;
  }
}

/**
 * The state store on the SQLite state db (the embedded mode). Its calls are synchronous underneath, but a
 * transaction's `fn` awaits between them, and the connection is one: so while a transaction is open, calls from
 * outside it wait their turn (else they would land inside it, and roll back with it), and transactions run one
 * at a time. Calls made while none is open run at once.
 *
 * With QOSWATCH_CHECK_TX=1 (the test suite) a call on the outer store made from inside a transaction while it is open
 * — which would wait for that transaction forever — throws instead. (Work the transaction only scheduled, such as a
 * timer, carries its context too but runs once it has ended: that is allowed.)
 */
export class SqliteStateStore extends View implements StateStore {
  private busy = false;
  private readonly waiting: (() => void)[] = [];
  private readonly inside = process.env.QOSWATCH_CHECK_TX === '1' ? new AsyncLocalStorage<{ open: boolean }>() : undefined;
  private readonly txView: View & Pick<StateStore, 'tx'>;
  private savepoints = 0;

  constructor(private readonly db: Db) {
    const repos = new StateRepos(db);
    super(repos, (op) => this.call(op));
    this.txView = Object.assign(new View(repos, now), { tx: <T>(fn: (t: StateStore) => Promise<T>) => this.savepoint(fn) });
  }

  tx<T>(fn: (t: StateStore) => Promise<T>): Promise<T> {
    this.assertOutside();
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.busy = true;
        this.transaction(fn).then(resolve, reject).finally(() => {
          this.busy = false;
          this.drain();
        });
      };
      if (this.busy) this.waiting.push(start);
      else start();
    });
  }

  private async transaction<T>(fn: (t: StateStore) => Promise<T>): Promise<T> {
    this.db.prepare('BEGIN').run();
    let result: T;
    const frame = { open: true };
    try {
      result = await (this.inside ? this.inside.run(frame, () => fn(this.txView)) : fn(this.txView));
    } catch (err) {
      this.db.prepare('ROLLBACK').run();
      throw err;
    } finally {
      frame.open = false;
    }
    try {
      this.db.prepare('COMMIT').run();
    } catch (err) {
      if (this.db.inTransaction) this.db.prepare('ROLLBACK').run();
      throw err;
    }
    return result;
  }

  private async savepoint<T>(fn: (t: StateStore) => Promise<T>): Promise<T> {
    const name = `sp${++this.savepoints}`;
    this.db.prepare(`SAVEPOINT ${name}`).run();
    try {
      const result = await fn(this.txView);
      this.db.prepare(`RELEASE ${name}`).run();
      return result;
    } catch (err) {
      this.db.prepare(`ROLLBACK TO ${name}`).run();
      this.db.prepare(`RELEASE ${name}`).run();
      throw err;
    } finally {
      this.savepoints--;
    }
  }

  private call<T>(op: () => T): Promise<T> {
    this.assertOutside();
    if (!this.busy) return now(op);
    return new Promise<T>((resolve, reject) => this.waiting.push(() => void now(op).then(resolve, reject)));
  }

  /** Runs what waited, in order, until a transaction holds the connection again. */
  private drain(): void {
    while (!this.busy && this.waiting.length) this.waiting.shift()!();
  }

  private assertOutside(): void {
    if (this.inside?.getStore()?.open) throw new Error('the outer state store was called inside a transaction: use the store the transaction passed');
  }
}

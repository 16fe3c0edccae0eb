import { AsyncLocalStorage } from 'node:async_hooks';
import type { Db } from '../sqlite.js';
import { Repos } from './index.js';
import { type StatementCache, now, sqliteSql } from './sqlite-sql.js';
import { type StateStore, type TxOptions, begin } from './store.js';

/**
 * Who has the connection: nobody (calls run at once), or a transaction (calls from outside it wait their turn, in
 * order, and so do other transactions).
 *
 * With QOSWATCH_CHECK_TX=1 (the test suite) a call on the outer store made from inside a transaction while it is open
 * — which would wait for that transaction forever — throws instead. (Work the transaction only scheduled, such as a
 * timer, carries its context too but runs once it has ended: that is allowed.)
 */
class Gate {
  private busy = false;
  private readonly waiting: (() => void)[] = [];
  private readonly inside = process.env.QOSWATCH_CHECK_TX === '1' ? new AsyncLocalStorage<{ open: boolean }>() : undefined;

  /** A call from outside any transaction. */
  readonly turn = <T>(op: () => T): Promise<T> => {
    this.assertOutside();
    if (!this.busy) return now(op);
    return new Promise<T>((resolve, reject) => this.waiting.push(() => void now(op).then(resolve, reject)));
  };

  /** Runs `work` once the connection is free, holding it until `work` settles. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    this.assertOutside();
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.busy = true;
        const frame = { open: true };
        (this.inside ? this.inside.run(frame, work) : work())
          .then(resolve, reject)
          .finally(() => {
            frame.open = false;
            this.busy = false;
            this.drain();
          });
      };
      if (this.busy) this.waiting.push(start);
      else start();
    });
  }

  /** Runs what waited, in order, until a transaction holds the connection again. */
  private drain(): void {
    while (!this.busy && this.waiting.length) this.waiting.shift()!();
  }

  private assertOutside(): void {
    if (this.inside?.getStore()?.open) throw new Error('the outer state store was called inside a transaction: use the store the transaction passed');
  }
}

/**
 * The state store on the SQLite state db (the embedded mode). Its statements run synchronously underneath, but a
 * transaction's `fn` awaits between them and the connection is one: so while a transaction is open, calls from
 * outside it wait their turn (else they would land inside it, and roll back with it), and transactions run one at
 * a time. Calls made while none is open run at once.
 */
export class SqliteStateStore extends Repos implements StateStore {
  private readonly gate: Gate;
  private readonly txStore: StateStore;
  private savepoints = 0;

  constructor(private readonly db: Db) {
    const gate = new Gate();
    const cache: StatementCache = new Map();
    super(sqliteSql(db, gate.turn, cache));
    this.gate = gate;
    this.txStore = Object.assign(new Repos(sqliteSql(db, now, cache)), {
      tx: <T>(fn: (t: StateStore) => Promise<T>, opts?: TxOptions) => this.savepoint(fn, opts),
      listen: this.listen,
    });
  }

  /** One process: its writers tell its areas themselves, so there is nothing to listen to here. */
  readonly listen = (): (() => void) => () => {};

  tx<T>(fn: (t: StateStore) => Promise<T>, opts?: TxOptions): Promise<T> {
    return this.gate.exclusive(() => this.transaction(fn, opts));
  }

  private async transaction<T>(fn: (t: StateStore) => Promise<T>, opts: TxOptions | undefined): Promise<T> {
    this.db.prepare('BEGIN').run();
    let result: T;
    try {
      await begin(this.txStore, opts);
      result = await fn(this.txStore);
    } catch (err) {
      this.db.prepare('ROLLBACK').run();
      throw err;
    }
    try {
      this.db.prepare('COMMIT').run();
    } catch (err) {
      if (this.db.inTransaction) this.db.prepare('ROLLBACK').run();
      throw err;
    }
    return result;
  }

  private async savepoint<T>(fn: (t: StateStore) => Promise<T>, opts: TxOptions | undefined): Promise<T> {
    const name = `sp${++this.savepoints}`;
    this.db.prepare(`SAVEPOINT ${name}`).run();
    try {
      await begin(this.txStore, opts);
      const result = await fn(this.txStore);
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
}

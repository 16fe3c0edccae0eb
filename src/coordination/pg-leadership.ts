import { createHash } from 'node:crypto';
import pg from 'pg';
import { Duties, type LeadershipRun } from './leadership.js';

export interface PgLeadershipOptions {
  /** The state database (postgres://…). */
  url: string;
  /** The advisory lock key every node of one cluster campaigns for. */
  lockKey: number;
  /** How often a follower tries for the lock, and a leader checks that its lock session is alive. */
  checkMs: number;
  /** A check that takes longer than this counts as a lost session. */
  timeoutMs: number;
  /** Hears each gain (true) and loss (false) of the lead. */
  onChange?: (leading: boolean) => void;
}

/** A cluster's advisory lock for a role: clusters sharing a database (each in its own schema) lock apart. */
export function lockKeyOf(schema: string, role: 'leader'): number {
  return createHash('sha256').update(`qoswatch/${schema}/${role}`).digest().readUIntBE(0, 6);
}

type Log = { error(o: object, m: string): void; warn(o: object, m: string): void; info(o: object, m: string): void };

/**
 * Cluster mode (SCALE-OUT.md §4.4): the node holding a PostgreSQL session-level advisory lock leads and runs the
 * singleton duties. The lock lives on a connection of its own: if that session ends (the node hangs, the network
 * splits, the server restarts), PostgreSQL releases the lock and another node's next try takes it, while this node
 * notices at its next check (or at once, when the connection reports an error) and stops its duties. Between the
 * two there can be a moment with two leaders: every duty is idempotent by constraint (unique outbox keys, claims
 * with expiry, conditional updates), so it cannot act twice.
 */
export class PgLeadership extends Duties implements LeadershipRun {
  private session: pg.Client | undefined;
  private leading = false;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  /** The check or campaign step in progress: steps never overlap. */
  private step: Promise<void> = Promise.resolve();
  /** Lead changes (gained or lost), for /metrics. */
  changes = 0;
  /** A node that lost the lead campaigns again only after this: the others (healthier, maybe) go first. */
  private quietUntil = 0;

  constructor(
    private readonly opts: PgLeadershipOptions,
    private readonly events: Log,
  ) {
    super(events);
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** Campaigns at once (a node that wins leads before start resolves), then keeps campaigning or checking. */
  override async start(): Promise<void> {
    this.running = true;
    await this.next();
    this.timer = setInterval(() => void this.next(), this.opts.checkMs);
  }

  /** Stops the duties (if leading) and ends the lock session, which releases the lock for another node at once. */
  override async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.step;
    await this.stepDown('stopping');
  }

  private next(): Promise<void> {
    this.step = this.step.then(() => (this.running ? (this.leading ? this.check() : this.campaign()) : undefined));
    return this.step;
  }

  private async campaign(): Promise<void> {
    if (Date.now() < this.quietUntil) return;
    try {
      const session = (this.session ??= await this.connect());
      const won = (await this.timed(session.query<{ won: boolean }>('SELECT pg_try_advisory_lock($1) AS won', [this.opts.lockKey]))).rows[0]!.won;
      if (!won) return;
    } catch (err) {
      this.events.warn({ err: message(err) }, 'cannot reach the state database to campaign for the lead; trying again');
      await this.dropSession();
      return;
    }
    this.leading = true;
    this.changes++;
    this.opts.onChange?.(true);
    this.events.info({}, 'this node leads: starting the singleton duties');
    try {
      await super.start();
    } catch (err) {
      this.log.error({ err }, 'a singleton duty failed to start; giving up the lead');
      await this.stepDown('a duty failed to start');
    }
  }

  private async check(): Promise<void> {
    try {
      await this.timed(this.session!.query('SELECT 1'));
    } catch (err) {
      await this.stepDown(`the lock session was lost (${message(err)})`);
    }
  }

  /** Stops the duties and ends the session (the lock goes with it). */
  private async stepDown(why: string): Promise<void> {
    if (this.leading) {
      this.leading = false;
      this.changes++;
      this.opts.onChange?.(false);
      this.events.warn({ reason: why }, 'this node no longer leads: stopping the singleton duties');
      this.quietUntil = Date.now() + 3 * this.opts.checkMs;
      await super.stop().catch(() => {});
    }
    await this.dropSession();
  }

  private async connect(): Promise<pg.Client> {
    const session = new pg.Client({ connectionString: this.opts.url, connectionTimeoutMillis: this.opts.timeoutMs });
    // A broken lock session is reported here at once: the lead is gone with it.
    session.on('error', (err) => {
      if (this.session === session) void this.queue(() => this.stepDown(`the lock session failed (${err.message})`));
    });
    try {
      await session.connect();
    } catch (err) {
      await session.end().catch(() => {});
      throw err;
    }
    return session;
  }

  private queue(fn: () => Promise<void>): Promise<void> {
    this.step = this.step.then(fn);
    return this.step;
  }

  private async dropSession(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    await s?.end().catch(() => {});
  }

  private timed<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.opts.timeoutMs} ms`)), this.opts.timeoutMs);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

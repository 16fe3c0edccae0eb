import pg from 'pg';
import { ConfigError, type Env, loadEnv } from '../config/env.js';
import { PgStateStore } from '../storage/state/pg/store.js';
import { natsOptions } from './nats-options.js';
import { lockKeyOf } from './pg-leadership.js';

/** Where the leader says who it is (a meta key of the state store). */
export const LEADER_KEY = 'cluster:leader';

/** A role's holder as recorded, and whether its lock is held now. */
interface Holder {
  held: boolean;
  node?: string;
  since?: string;
}

/**
 * `qoswatch cluster init` creates or migrates the state schema in PostgreSQL (nodes also do it at start; this is for
 * a deployment step before them). `qoswatch cluster status` prints, as JSON, who leads (and whether its lock is held
 * now), which node owns each partition (with NATS_URL), how far the timeline followers are behind, and the paging backlog.
 */
export async function clusterCommand(sub: 'init' | 'status'): Promise<number> {
  let env: Env;
  try {
    env = loadEnv();
    if (!env.DATABASE_URL) throw new ConfigError('invalid environment:\n  DATABASE_URL: required by qoswatch cluster');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return 2;
  }
  const store = await PgStateStore.open({ url: env.DATABASE_URL, schema: env.DATABASE_SCHEMA, max: 2 });
  try {
    if (sub === 'init') {
      process.stdout.write(`state schema "${env.DATABASE_SCHEMA}" is at version ${await store.version()}\n`);
      return 0;
    }
    const last = await store.cursors.lastId();
    const lag = async (consumer: string) => last - ((await store.cursors.get(consumer)) ?? last);
    const status = {
      schema: env.DATABASE_SCHEMA,
      version: await store.version(),
      leader: await holder(env, store, LEADER_KEY, 'leader'),
      ...(env.NATS_URL && { partitions: await partitionOwners(env) }),
      timeline: { last, behind: { pager: await lag('pager'), tickets: await lag('tickets') } },
      outbox: { waiting: await store.outbox.backlog() },
      incidents: { open: (await store.incidents.openCounts()).reduce((n, r) => n + r.n, 0) },
    };
    process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    return 0;
  } finally {
    await store.close();
  }
}

async function holder(env: Env, store: PgStateStore, key: string, role: 'leader'): Promise<Holder> {
  const client = new pg.Client({ connectionString: env.DATABASE_URL });
  await client.connect();
  try {
    // A bigint advisory key shows in pg_locks as classid (high half) and objid (low half), objsubid 1.
    const r = await client.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $1",
      [lockKeyOf(env.DATABASE_SCHEMA, role)],
    );
    const recorded = await store.meta.get(key);
    const who = recorded ? (JSON.parse(recorded) as { node: string; since: number }) : undefined;
    return { held: Number(r.rows[0]!.n) > 0, ...(who && { node: who.node, since: new Date(who.since).toISOString() }) };
  } finally {
    await client.end();
  }
}

/** The partitions each node holds a lease on now, and those nobody holds. */
async function partitionOwners(env: Env): Promise<{ owners: Record<string, number[]>; unowned: number[] }> {
  const { openNats } = await import('../cluster/nats.js');
  const { Leases } = await import('../cluster/leases.js');
  const n = await openNats(natsOptions(env));
  try {
    const leases = new Leases(n.leases, '');
    const owners: Record<string, number[]> = {};
    const unowned: number[] = [];
    for (let p = 0; p < env.QOSWATCH_PARTITIONS; p++) {
      const node = await leases.holder(p);
      if (node === undefined) unowned.push(p);
      else (owners[node] ??= []).push(p);
    }
    return { owners, unowned };
  } finally {
    await n.close();
  }
}

import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { type NatsConnection, connect } from '@nats-io/transport-node';

/** Where the cluster's streams and buckets are, and their shape (SCALE-OUT.md §4.7). */
export interface NatsOptions {
  /** nats://host:port[,nats://…] */
  url: string;
  /** Name prefix of every stream and bucket (two clusters, or tests, on one NATS): letters, digits, _ . */
  prefix: string;
  /** Partitions of the raw sample log; fixed for the life of the data. */
  partitions: number;
  /** Streams the partitions are spread over (so stream leaders spread over the NATS nodes). */
  streams: number;
  /** Copies of every stream and bucket: 3 on a 3-node NATS cluster, 1 on a single server. */
  replicas: number;
  /** How long a lease lives without renewal (ms). */
  leaseTtlMs: number;
}

/** A connection with the JetStream clients, the raw log's stream names, and the key-value buckets. */
export interface Nats {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly opts: NatsOptions;
  /** The stream holding a partition. */
  streamOf(partition: number): string;
  /** The subject a partition's raw batches are published on. */
  subjectOf(partition: number): string;
  readonly leases: KV;
  /** The live members: each node renews its entry; a node that stops is gone once it ages out. */
  readonly members: KV;
  close(): Promise<void>;
}

/** How long a publish may be a duplicate of an earlier one with the same Nats-Msg-Id (a collector's resend). */
const DUPLICATE_WINDOW_MS = 120_000;
/** The raw log is a buffer, not storage: what no worker took within this long is dropped (the backstop). */
const RAW_MAX_AGE_MS = 3_600_000;

const ms = (n: number) => n * 1_000_000;

/**
 * Connects and creates (or checks) the raw-sample streams and the lease and membership buckets (partition
 * checkpoints are kept in the state store, fenced by the owner's epoch: worker/partition.ts). Works on NATS 2.9:
 * leases expire by the bucket's max age, not per-key TTLs (2.11).
 */
export async function openNats(opts: NatsOptions): Promise<Nats> {
  if (!/^[A-Za-z0-9_]+$/.test(opts.prefix)) throw new Error(`NATS prefix ${opts.prefix}: letters, digits and _ only`);
  const nc = await connect({ servers: opts.url.split(','), name: `qoswatch-${opts.prefix}`, maxReconnectAttempts: -1 });
  try {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const subjectPrefix = opts.prefix.toLowerCase();
    const streamOf = (p: number) => `${opts.prefix}RAW_${p % opts.streams}`;
    const subjectOf = (p: number) => `${subjectPrefix}.raw.${p % opts.streams}.${p}`;
    for (let s = 0; s < opts.streams; s++) {
      const config = {
        name: `${opts.prefix}RAW_${s}`,
        subjects: [`${subjectPrefix}.raw.${s}.*`],
        num_replicas: opts.replicas,
        duplicate_window: ms(DUPLICATE_WINDOW_MS),
        max_age: ms(RAW_MAX_AGE_MS),
      };
      try {
        await jsm.streams.info(config.name);
        await jsm.streams.update(config.name, config);
      } catch {
        await jsm.streams.add(config);
      }
    }
    const kvm = new Kvm(js);
    const leases = await kvm.create(`${opts.prefix}leases`, { ttl: opts.leaseTtlMs, history: 1, replicas: opts.replicas });
    const members = await kvm.create(`${opts.prefix}members`, { ttl: opts.leaseTtlMs, history: 1, replicas: opts.replicas });
    return { nc, js, jsm, opts, streamOf, subjectOf, leases, members, close: () => nc.drain() };
  } catch (err) {
    await nc.close();
    throw err;
  }
}

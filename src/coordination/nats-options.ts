import type { NatsOptions } from '../cluster/nats.js';
import type { Env } from '../config/env.js';

/** The cluster's streams and buckets as the environment configures them (nodes and `qoswatch cluster` alike). */
export function natsOptions(env: Env): NatsOptions {
  return {
    url: env.NATS_URL!,
    prefix: env.QOSWATCH_NATS_PREFIX,
    partitions: env.QOSWATCH_PARTITIONS,
    // Enough streams that their leaders spread over a 3-node NATS; more only add overhead.
    streams: Math.min(4, env.QOSWATCH_PARTITIONS),
    replicas: env.QOSWATCH_NATS_REPLICAS,
    leaseTtlMs: env.QOSWATCH_LEASE_TTL,
  };
}

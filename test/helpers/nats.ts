import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { type Nats, type NatsOptions, openNats } from '../../src/cluster/nats.js';

/** The NATS server with JetStream the machines run (the tests use streams and buckets of their own). */
const SERVER_URL = process.env.QOSWATCH_TEST_NATS_SERVER ?? 'nats://127.0.0.1:4222';

export const NO_NATS_MESSAGE = `NATS with JetStream is not reachable at ${SERVER_URL}: cluster tests are SKIPPED. Start nats-server -js (or set QOSWATCH_TEST_NATS_SERVER); CI requires it.`;

/** The server's URL when it answers with JetStream enabled (the global setup hands it on in QOSWATCH_TEST_NATS_URL). */
export async function prepareNats(): Promise<string | undefined> {
  try {
    const nc = await connect({ servers: SERVER_URL, timeout: 3000, reconnect: false });
    try {
      await (await jetstreamManager(nc)).getAccountInfo();
    } finally {
      await nc.close();
    }
    return SERVER_URL;
  } catch {
    return undefined;
  }
}

export const NATS_URL = process.env.QOSWATCH_TEST_NATS_URL;

/** Test streams and buckets start so: the global setup and teardown remove them. */
const PREFIX = 'T';

/** A name prefix of streams and buckets of their own (for a cluster of processes: QOSWATCH_NATS_PREFIX). */
export const testPrefix = () => `${PREFIX}${randomBytes(5).toString('hex')}_`;

/** A cluster's streams and buckets of its own on the test server (`close` removes them). */
export async function testNats(o: Partial<NatsOptions> = {}): Promise<Nats & { remove(): Promise<void> }> {
  const prefix = testPrefix();
  const n = await openNats({ url: NATS_URL!, prefix, partitions: 8, streams: 2, replicas: 1, leaseTtlMs: 1000, ...o });
  return Object.assign(n, { remove: () => removeStreams(n.nc, prefix).then(() => n.close()) });
}

/** Removes the streams and buckets of one prefix (a drill's cluster). */
export async function removePrefix(url: string, prefix: string): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    await removeStreams(nc, prefix);
  } finally {
    await nc.close();
  }
}

async function removeStreams(nc: Nats['nc'], prefix: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for await (const name of jsm.streams.names()) {
    if (name.startsWith(prefix) || name.startsWith(`KV_${prefix}`)) await jsm.streams.delete(name);
  }
}

/** Removes what test runs left (a killed run's streams). */
export async function removeTestStreams(url: string): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    for await (const name of jsm.streams.names()) if (/^(KV_)?T[0-9a-f]{10}_/.test(name)) await jsm.streams.delete(name);
  } finally {
    await nc.close();
  }
}

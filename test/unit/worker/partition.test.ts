import type { FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Lease } from '../../../src/cluster/leases.js';
import type { Nats } from '../../../src/cluster/nats.js';
import { partitionOf } from '../../../src/cluster/partitions.js';
import { RawLog } from '../../../src/cluster/raw-log.js';
import { EventBus } from '../../../src/incidents/bus.js';
import { Incidents } from '../../../src/incidents/incidents.js';
import type { IncidentEvent } from '../../../src/incidents/model.js';
import { Metrics } from '../../../src/metrics.js';
import { compileRuleFiles } from '../../../src/rules/load.js';
import type { InfluxSink } from '../../../src/storage/influx/sink.js';
import { Budgets } from '../../../src/telemetry/budgets.js';
import { ClusterIntake, encodeRawBatch } from '../../../src/telemetry/cluster-intake.js';
import { PartitionWorker, type PartitionWorkerDeps, type PartitionWorkerOptions, checkpointKey } from '../../../src/worker/partition.js';
import { type OpenedBackend, POSTGRES, SQLITE } from '../../helpers/backends.js';
import { metricValue } from '../../helpers/metrics.js';
import { NATS_URL, testNats } from '../../helpers/nats.js';
import { PIPELINE_DEFAULTS } from '../../helpers/pipeline.js';
import { waitFor } from '../../helpers/ports.js';
import { PG_URL } from '../../helpers/postgres.js';

const W = 10_000;
const T0 = Date.UTC(2026, 11, 5, 12, 0, 0);
const PARTITIONS = 4;
const TENANT = 'acme';
const REGION = 'eu-west';
const P = partitionOf(TENANT, REGION, PARTITIONS);

const RULES = compileRuleFiles(
  [{ path: 't.yaml', text: 'rules:\n  - id: stall\n    metric: stall_ratio\n    window: 10s\n    thresholds: {P1: "> 0.2"}\n' }],
  { windowMs: W, horizonMs: 60_000 },
).rules;

const OPTS: PartitionWorkerOptions = {
  ...PIPELINE_DEFAULTS,
  // The test closes windows by hand; every batch is evaluated at once.
  flushIntervalMs: 3_600_000,
  alerting: { intervalMs: 0, persistEveryMs: 0 },
  retention: 6,
  maxPendingPoints: 1000,
};

/** `n` viewers of REGION at `ts`, stalling `ratio` of the time. */
const viewers = (ts: number, n: number, ratio = 0, from = 0) =>
  Array.from({ length: n }, (_, i) => ({ ts, region: REGION, session: `s${from + i}`, play_ms: 10_000 * (1 - ratio), stall_ms: 10_000 * ratio }));

/** The `samples` field of each rollup point of REGION's window starting at `start`. */
const samplesOf = (lines: readonly string[], start: number) =>
  lines.filter((l) => l.startsWith('qos_region,') && l.endsWith(` ${BigInt(start) * 1_000_000n}`)).map((l) => Number(/[ ,]samples=(\d+)i/.exec(l)![1]));

describe.runIf(PG_URL && NATS_URL)('a partition owner (on the machine\'s NATS and PostgreSQL)', () => {
  let nats: (Nats & { remove(): Promise<void> }) | undefined;
  let db: OpenedBackend | undefined;
  let workers: PartitionWorker[] = [];
  afterEach(async () => {
    for (const w of workers) await w.stop(true);
    workers = [];
    await nats?.remove();
    await db?.close();
    nats = db = undefined;
  });

  async function setup() {
    nats = await testNats({ partitions: PARTITIONS, streams: 2 });
    db = await POSTGRES.open();
    let now = T0;
    const clock = () => now;
    const metrics = new Metrics();
    const raw = new RawLog(nats);
    const intake = new ClusterIntake({ log: raw, partitions: PARTITIONS, budgets: new Budgets(PIPELINE_DEFAULTS.tenantLimits, PIPELINE_DEFAULTS.globalLimits, W), metrics, clock }, PIPELINE_DEFAULTS.maxSampleAgeMs);
    const written: string[] = [];
    const sink: InfluxSink = { target: 'test', write: async (lines) => void written.push(...lines) };
    const stale: number[] = [];
    let fresh = true;
    const bus = new EventBus<IncidentEvent>((err) => {
      throw err;
    });
    const events: IncidentEvent[] = [];
    bus.on((e) => events.push(e));
    const deps: PartitionWorkerDeps = {
      state: db.store,
      raw,
      sink,
      alerting: { incidents: new Incidents(db.store, { groupBy: ['tenant', 'region'], reopenMs: 600_000, silenced: () => false }), bus },
      dimValues: db.store.dimValues,
      admittedDims: [],
      metrics,
      log: pino({ level: process.env.DEBUG_WORKER ? 'debug' : 'silent' }) as unknown as FastifyBaseLogger,
      clock,
      partitionOfLabels: (l) => partitionOf(l.tenant ?? '', l.region ?? '', PARTITIONS),
      leaseFresh: () => fresh,
      onStale: (w) => stale.push(w.partition),
    };
    const send = async (samples: unknown[]) => {
      const r = await intake.ingest(TENANT, Buffer.from(JSON.stringify({ samples })), samples, 'http', undefined);
      expect(r.accepted).toBe(samples.length);
    };
    const take = async (epoch: number) => {
      const lease: Lease = { partition: P, epoch, revision: epoch };
      const w = await PartitionWorker.start(lease, deps, OPTS, RULES);
      workers.push(w);
      return w;
    };
    /** Waits until the owner's window starting at `start` holds `n` samples. */
    const seen = (w: PartitionWorker, start: number, n: number) =>
      waitFor(`${n} samples in the owner's window`, async () => ((w.store.window(1, start / W)?.samples ?? 0) === n ? true : undefined));
    return { raw, send, take, seen, written, stale, events, metrics, set: (t: number) => (now = t), clock, freshLease: (v: boolean) => (fresh = v) };
  }

  it('a new owner replays from the checkpoint: the windows the old one stored are not written again, the one it held open is written whole', async () => {
    const t = await setup();
    const a = await t.take(1);
    // Window 0: 20 viewers, closed and stored by the first owner.
    await t.send(viewers(T0 + 1000, 20));
    await t.seen(a, T0, 20);
    t.set(T0 + W + PIPELINE_DEFAULTS.graceMs);
    await a.tick(t.clock());
    expect(samplesOf(t.written, T0)).toEqual([20]);
    // Window 2: 15 samples reach the first owner, which dies before the window closes; 10 more arrive meanwhile.
    const w2 = T0 + 2 * W;
    t.set(w2 + 1000);
    await t.send(viewers(w2 + 1000, 15));
    await t.seen(a, w2, 15);
    await a.tick(t.clock());
    await a.stop(true);
    await t.send(viewers(w2 + 2000, 10, 0, 15));
    expect(JSON.parse((await db!.store.meta.get(checkpointKey(P)))!), 'the checkpoint: window 0 stored, window 2 still to replay').toMatchObject({ closedBefore: T0 / W + 1 });

    const b = await t.take(2);
    expect(metricValue(await t.metrics.registry.metrics(), 'qoswatch_partition_replayed_batches_total')).toBe(2);
    t.set(w2 + W + PIPELINE_DEFAULTS.graceMs);
    await b.tick(t.clock());
    expect(samplesOf(t.written, T0), 'window 0 once: the new owner did not write it again').toEqual([20]);
    expect(samplesOf(t.written, w2), 'window 2 whole, from the replay and what came after').toEqual([25]);
  });

  it('a stale owner is fenced off: once the new owner took over, the old one stores no checkpoint, no points and no alert, and says so', async () => {
    const t = await setup();
    const a = await t.take(5);
    await t.send(viewers(T0 + 1000, 20, 0.5));
    await t.seen(a, T0, 20);
    const b = await t.take(6);
    expect(b.fence.epoch).toBe(6);
    // The old owner, paused through the takeover (a zombie), wakes up and ticks: its window closes, its rule fires.
    t.set(T0 + W + PIPELINE_DEFAULTS.graceMs);
    await a.tick(t.clock());
    expect(t.written, 'no points from the zombie').toEqual([]);
    expect(new Set(t.stale)).toEqual(new Set([P]));
    expect(metricValue(await t.metrics.registry.metrics(), 'qoswatch_fence_rejections_total')).toBeGreaterThanOrEqual(1);
    expect(await db!.store.meta.get(checkpointKey(P)), 'the checkpoint is the new owner\'s (none yet)').toBeUndefined();
    // The new owner evaluates the same samples; whoever committed the firing first, the storm is one incident.
    await t.seen(b, T0, 20);
    await b.tick(t.clock());
    expect(samplesOf(t.written, T0)).toEqual([20]);
    const open = await waitFor('the incident', async () => {
      const list = await db!.store.incidents.list({ limit: 10 });
      return list.length ? list : undefined;
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(open.map((i) => [i.region, i.state])).toEqual([[REGION, 'open']]);
    expect(t.events.filter((e) => e.type === 'opened')).toHaveLength(1);
  });

  it('writes nothing while its lease is not surely fresh (a paused process), and the checkpoint waits for the points', async () => {
    const t = await setup();
    const a = await t.take(3);
    await t.send(viewers(T0 + 1000, 12));
    await t.seen(a, T0, 12);
    t.set(T0 + W + PIPELINE_DEFAULTS.graceMs);
    t.freshLease(false);
    await a.tick(t.clock());
    expect(t.written).toEqual([]);
    expect(await db!.store.meta.get(checkpointKey(P)), 'no checkpoint past points not written').toBeUndefined();
    t.freshLease(true);
    await a.tick(t.clock());
    expect(samplesOf(t.written, T0)).toEqual([12]);
    expect(JSON.parse((await db!.store.meta.get(checkpointKey(P)))!)).toMatchObject({ closedBefore: T0 / W + 1 });
  });
});

describe('a partition owner catching up', () => {
  it('lets timers run while it replays a backlog that arrives all at once (lease renewals must not starve)', async () => {
    // Under load the raw log hands over batches already buffered: without a turn of the event loop now and then, the
    // renewal timer could not fire before the replay ended, and the node lost every lease it was catching up on.
    const db = await SQLITE.open();
    try {
      const batches = 3000;
      const data = encodeRawBatch({ tenant: TENANT, receivedAt: T0, dims: undefined, samples: viewers(T0 + 1000, 50) });
      let yielded = 0;
      let atTimer: number | undefined;
      const raw = {
        last: async () => batches,
        trim: async () => 0,
        async *read(_p: number, from: number) {
          for (let seq = from; seq <= batches; seq++) {
            yielded = seq;
            yield { seq, data };
          }
        },
      };
      const bus = new EventBus<IncidentEvent>((err) => {
        throw err;
      });
      const deps: PartitionWorkerDeps = {
        state: db.store, raw, sink: undefined, dimValues: db.store.dimValues, admittedDims: [], metrics: new Metrics(),
        alerting: { incidents: new Incidents(db.store, { groupBy: ['tenant', 'region'], reopenMs: 600_000, silenced: () => false }), bus },
        log: pino({ level: 'silent' }) as unknown as FastifyBaseLogger, clock: () => T0 + 2000,
        partitionOfLabels: (l) => partitionOf(l.tenant ?? '', l.region ?? '', PARTITIONS), leaseFresh: () => true, onStale: () => {},
      };
      setTimeout(() => (atTimer = yielded), 0);
      const w = await PartitionWorker.start({ partition: P, epoch: 1, revision: 1 }, deps, OPTS, RULES);
      try {
        expect(yielded).toBe(batches);
        expect(atTimer, 'a timer ran during the replay').toBeDefined();
        expect(atTimer!).toBeLessThan(batches);
      } finally {
        await w.stop(true);
      }
    } finally {
      await db.close();
    }
  });
});

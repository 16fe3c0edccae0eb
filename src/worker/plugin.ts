import fp from 'fastify-plugin';
import type { Env } from '../config/env.js';
import type { FileConfig } from '../config/file.js';
import type { Metrics } from '../metrics.js';
import { Alerting } from '../rules/alerting.js';
import type { Rule } from '../rules/rule-schema.js';
import { windowsRead } from '../rules/windows-read.js';
import type { InfluxSink } from '../storage/influx/sink.js';
import { StaleEpochError } from '../storage/state/fences.js';
import { pipelineOptions } from '../telemetry/plugin.js';
import type { PartitionWorker, PartitionWorkerDeps, PartitionWorkerOptions } from './partition.js';
import { PartitionSlots } from './slots.js';

/** The wait before a failed takeover is tried again. */
const TAKEOVER_RETRY_MS = 1000;

/** A partition owner's backlog for InfluxDB, in points: about what QOSWATCH_SPOOL_MAX holds at ~200 bytes a point. */
const POINT_BYTES = 200;

/**
 * A cluster worker (SCALE-OUT.md §4.3): takes the partitions rendezvous hashing gives it among the live workers by
 * lease, evaluates each in a PartitionWorker, hands them over when a worker joins, and gives them all up at close so
 * the others take them at once. Loaded only on a cluster node with the worker role.
 */
export const workersPlugin = fp<{ env: Env; config: FileConfig; sink: InfluxSink | undefined; metrics: Metrics; clock: () => number }>(
  async (app, { env, config, sink, metrics, clock }) => {
    const nats = app.nats;
    if (!nats || !app.roles.includes('worker')) return;
    const [{ Leases }, { LeaseOwnership }, { RawLog }, { partitionOf }, { PartitionWorker }] = await Promise.all([
      import('../cluster/leases.js'), import('../cluster/ownership.js'), import('../cluster/raw-log.js'), import('../cluster/partitions.js'), import('./partition.js'),
    ]);
    const partitions = nats.opts.partitions;
    const base = pipelineOptions(app, env, config);
    const retention = (rules: readonly Rule[]) => windowsRead(rules, env.QOSWATCH_WINDOW);
    const opts: PartitionWorkerOptions = {
      ...base,
      alerting: { intervalMs: env.QOSWATCH_EVAL_INTERVAL, persistEveryMs: 5000 },
      retention: retention(app.rules.current),
      maxPendingPoints: Math.max(10_000, Math.floor(env.QOSWATCH_SPOOL_MAX / POINT_BYTES / partitions)),
    };
    const slots: PartitionSlots<PartitionWorker> = new PartitionSlots<PartitionWorker>({
      start: (lease, signal) => PartitionWorker.start(lease, deps, opts, app.rules.current, signal),
      // While the lease is held nobody else evaluates the partition: try again until it works (PostgreSQL or NATS
      // back), unless a newer owner has written already.
      retry: async (err, lease, tries) => {
        if (err instanceof StaleEpochError) return false;
        app.log.error({ err, partition: lease.partition, tries }, 'cannot take the partition over; retrying');
        await new Promise((r) => setTimeout(r, TAKEOVER_RETRY_MS));
        return true;
      },
      onStarted: (_, lease) => metrics.partitionEpoch.set({ partition: String(lease.partition) }, lease.epoch),
      onStopped: (p) => metrics.partitionEpoch.remove({ partition: String(p) }),
    });
    const deps: PartitionWorkerDeps = {
      state: app.state,
      raw: new RawLog(nats),
      sink,
      alerting: { incidents: app.incidents, bus: app.incidentBus, overlay: app.eventOverlay.levelsFor, plannedEnd: app.eventOverlay.plannedEnd },
      dimValues: app.state.dimValues,
      admittedDims: await app.state.dimValues.all(),
      metrics,
      log: app.log,
      clock,
      partitionOfLabels: (labels) => partitionOf(labels.tenant ?? '', labels.region ?? '', partitions),
      leaseFresh: (p) => ownership.fresh(p),
      onStale: (w) => {
        app.log.warn({ partition: w.partition, epoch: w.fence.epoch }, 'fenced off: another node owns this partition now; stopped evaluating it');
        void slots.stale(w);
      },
    };
    const ownership = new LeaseOwnership(new Leases(nats.leases, env.QOSWATCH_NODE_ID), nats.members, {
      self: env.QOSWATCH_NODE_ID, partitions, everyMs: Math.max(250, Math.floor(env.QOSWATCH_LEASE_TTL / 3)), ttlMs: env.QOSWATCH_LEASE_TTL,
    });
    ownership.on('acquired', (lease) => {
      metrics.partitionTakeovers.inc({ event: 'acquired' });
      void slots.acquired(lease);
    });
    ownership.on('lost', (lease, handover) => {
      metrics.partitionTakeovers.inc({ event: handover ? 'released' : 'lost' });
      app.log.info({ partition: lease.partition, epoch: lease.epoch }, handover ? 'partition handed over to the node that should own it' : 'partition lost: its lease ran out or another node holds it');
      // A handover waits for the flush (the next owner reads the checkpoint); a lost lease only stops the worker,
      // without holding up the renewal of the others.
      if (!handover) return void slots.lost(lease.partition, false);
      // A flush that takes long (InfluxDB slow to refuse) must not outlive this node's other leases: past a third of
      // a lease the partition is released anyway; its next owner replays what the flush did not checkpoint.
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((r) => (timer = setTimeout(r, env.QOSWATCH_LEASE_TTL / 3)));
      return Promise.race([slots.lost(lease.partition, true), bound]).finally(() => clearTimeout(timer));
    });
    app.rules.onReload(async (rules) => {
      for (const w of slots.values()) await w.setRules(rules, retention(rules));
    });
    Alerting.bindMetrics(metrics, function* () {
      for (const w of slots.values()) if (w.engine) yield w.engine;
    });
    (metrics.partitionsOwned as unknown as { collect: () => void }).collect = () => metrics.partitionsOwned.set(slots.size);
    app.addHook('onReady', () => ownership.start());
    // Hand every partition over: flushed, checkpointed and released, the other workers take them at once.
    app.addHook('onClose', () => ownership.stop());
  },
  { name: 'qoswatch-workers', dependencies: ['qoswatch-coordination', 'qoswatch-rules', 'qoswatch-incidents', 'qoswatch-events', 'qoswatch-pipeline'] },
);

import type { FastifyBaseLogger as Logger } from 'fastify';
import type { Lease } from '../cluster/leases.js';
import type { RawLog } from '../cluster/raw-log.js';
import type { Metrics } from '../metrics.js';
import { Alerting, type AlertingDeps, type AlertingOptions } from '../rules/alerting.js';
import type { Rule } from '../rules/rule-schema.js';
import type { InfluxSink } from '../storage/influx/sink.js';
import { SinkError } from '../storage/influx/sink.js';
import { rollupLine } from '../storage/influx/rollup-points.js';
import { type Fence, StaleEpochError } from '../storage/state/fences.js';
import type { StateStore } from '../storage/state/store.js';
import { Budgets } from '../telemetry/budgets.js';
import { decodeRawBatch } from '../telemetry/cluster-intake.js';
import { revalidate } from '../telemetry/intake.js';
import { CAP_SWEEP_MS, type PipelineDeps, type PipelineOptions, SAMPLES_PER_SEQ, persistedCaps } from '../telemetry/pipeline.js';
import { WindowStore } from '../telemetry/window-store.js';

/**
 * Where a partition's owner left off, kept in the state store (fenced: a stale owner cannot move it): every batch up
 * to `coveredSeq` is aggregated, and every window before `closedBefore` closed and stored in InfluxDB. A new owner
 * reads the raw log again from `from`, the first batch that still had samples in a window not stored then.
 */
export interface PartitionCheckpoint {
  from: number;
  coveredSeq: number;
  closedBefore: number;
}

export interface PartitionWorkerDeps {
  state: StateStore;
  raw: Pick<RawLog, 'read' | 'last' | 'trim'>;
  sink: InfluxSink | undefined;
  /** What the partition's rule evaluation shares with every other (incidents, the bus, planned events). */
  alerting: Omit<AlertingDeps, 'state' | 'store' | 'silences' | 'metrics' | 'log' | 'clock'>;
  dimValues: PipelineDeps['dimValues'];
  admittedDims: PipelineDeps['admittedDims'];
  metrics: Metrics;
  log: Logger;
  clock: () => number;
  /** Which partition a group of alert labels (or a sample's tenant and region) is in. */
  partitionOfLabels(labels: Readonly<Record<string, string | undefined>>): number;
  /** Whether this node's lease on the partition is surely still valid (Ownership.fresh): else it writes nothing. */
  leaseFresh(partition: number): boolean;
  /** A write of `worker` was fenced off: another node owns its partition now; the caller stops it. */
  onStale(worker: PartitionWorker): void;
}

export type PartitionWorkerOptions = Pick<PipelineOptions, 'windowMs' | 'graceMs' | 'horizonMs' | 'maxSampleAgeMs' | 'maxLiveMs' | 'flushIntervalMs' | 'batchLines' | 'capOf' | 'tenantLimits' | 'globalLimits' | 'dimTtlMs'> & {
  alerting: AlertingOptions;
  /** Closed windows the rules read at the start (rules/windows-read.ts). */
  retention: number;
  /** The most points held for InfluxDB while it is away; beyond, the oldest go (counted), as the embedded spool does. */
  maxPendingPoints: number;
};

/** How often the raw log is trimmed below the checkpoint (each trim is a purge request to JetStream). */
const TRIM_EVERY_MS = 10_000;
/** The longest a partition's reader works before it lets the event loop run timers and I/O. */
const YIELD_EVERY_MS = 10;
/** The wait before the raw log is read again after a read failed (NATS away). */
const READ_RETRY_MS = 1000;

export const checkpointKey = (p: number) => `partition:${p}`;

/**
 * The owner of one partition of the raw log (SCALE-OUT.md §4.3): the embedded pipeline's windows and rule
 * evaluation, for the regions that hash to this partition, fed by the raw log instead of a local journal.
 *
 * Takeover: raise the fence (from then on the previous owner's writes are refused), read the checkpoint, resume the
 * partition's alert rows, replay the raw log from the checkpoint — samples of windows stored already only restore
 * who is live — and go live once the replay reached the end the log had at the start. Each tick closes due windows,
 * writes their points to InfluxDB, and only then moves the checkpoint: what a crash leaves unstored is replayed by
 * the next owner, and rewritten as the same points.
 */
export class PartitionWorker {
  readonly store: WindowStore;
  readonly fence: Fence;
  private alerting: Alerting | undefined;
  private readonly budgets: Budgets;
  private readonly caps: ReturnType<typeof persistedCaps>;
  private readonly abort = new AbortController();
  private reader: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  /** Ticks run one at a time. */
  private ticking: Promise<void> = Promise.resolve();
  /** Applied batches not yet known to be all stored: (seq, highest window), in seq order. */
  private readonly open: { seq: number; maxWindow: number }[] = [];
  private appliedSeq = 0;
  /** Points not yet written to InfluxDB (it was away): written before newer ones, with the next tick. */
  private unwritten: string[] = [];
  private saved: PartitionCheckpoint | undefined;
  private lastTrim = -Infinity;
  private trimmedBelow = 0;
  private lastCapSweep: number;
  private live = false;
  private stopped = false;

  private constructor(
    private readonly lease: Lease,
    private readonly deps: PartitionWorkerDeps,
    private readonly opts: PartitionWorkerOptions,
    private readonly checkpoint: PartitionCheckpoint | undefined,
  ) {
    this.fence = { kind: 'p', partition: lease.partition, epoch: lease.epoch };
    const { clock } = deps;
    this.budgets = new Budgets(opts.tenantLimits, opts.globalLimits, opts.windowMs);
    this.caps = persistedCaps(deps, opts);
    this.lastCapSweep = clock();
    const closedBefore = checkpoint?.closedBefore ?? Math.floor((clock() - opts.graceMs) / opts.windowMs);
    this.store = new WindowStore({ windowMs: opts.windowMs, graceMs: opts.graceMs, horizonMs: opts.horizonMs, closedBefore, maxLiveMs: opts.maxLiveMs }, this.caps, this.budgets);
    this.store.setRetention(opts.retention);
    this.trimmedBelow = checkpoint?.from ?? 0;
  }

  get partition(): number {
    return this.lease.partition;
  }

  get engine() {
    return this.alerting?.engine;
  }

  /** Takes the partition over (see the class comment); resolves once it evaluates live. */
  static async start(lease: Lease, deps: PartitionWorkerDeps, opts: PartitionWorkerOptions, rules: readonly Rule[], signal?: AbortSignal): Promise<PartitionWorker> {
    const fence: Fence = { kind: 'p', partition: lease.partition, epoch: lease.epoch };
    // First of all: from here on, the previous owner (if it still runs) can store nothing more.
    const text = await deps.state.tx((t) => t.meta.get(checkpointKey(lease.partition)), { fence });
    const w = new PartitionWorker(lease, deps, opts, text ? (JSON.parse(text) as PartitionCheckpoint) : undefined);
    // Lost while replaying: the replay ends at once (the caller stops the worker).
    const abort = () => w.abort.abort();
    signal?.addEventListener('abort', abort, { once: true });
    try {
      if (!signal?.aborted) await w.resume(rules);
    } finally {
      signal?.removeEventListener('abort', abort);
    }
    return w;
  }

  private async resume(rules: readonly Rule[]): Promise<void> {
    const { deps, lease } = this;
    this.alerting = await Alerting.open(
      { ...deps.alerting, state: this.fencedState(), store: this.store, metrics: deps.metrics, log: deps.log, clock: deps.clock },
      rules,
      this.opts.alerting,
      (labels) => deps.partitionOfLabels(labels) === lease.partition,
    );
    const end = await deps.raw.last(lease.partition);
    const from = this.checkpoint?.from ?? 1;
    let replayed = 0;
    await new Promise<void>((resolve) => {
      this.reader = this.read(from, (seq) => {
        replayed++;
        if (seq >= end) resolve();
      });
      if (end < from) resolve();
      // A reader that stops (the worker stopped meanwhile) must not leave the takeover waiting.
      void this.reader.finally(resolve);
    });
    if (replayed) deps.metrics.partitionReplayed.inc(replayed);
    if (this.stopped || this.abort.signal.aborted) return;
    this.live = true;
    deps.log.info({ partition: lease.partition, epoch: lease.epoch, replayed, from }, 'partition taken over: evaluating');
    this.alerting!.start();
    this.alerting!.samplesApplied();
    this.timer = setInterval(() => void this.tick(deps.clock()), this.opts.flushIntervalMs);
  }

  /** The state store as this owner writes it: every transaction fenced by its epoch. */
  private fencedState(): AlertingDeps['state'] {
    const { state, metrics, onStale } = this.deps;
    return {
      alerts: state.alerts,
      tx: async (fn, opts) => {
        try {
          return await state.tx(fn, { ...opts, fence: this.fence });
        } catch (err) {
          if (err instanceof StaleEpochError) {
            metrics.fenceRejections.inc();
            onStale(this);
          }
          throw err;
        }
      },
    };
  }

  /** Reads the raw log from `from` on, as it grows, until stopped; a read that fails starts again where it was. */
  private async read(from: number, onApplied: (seq: number) => void): Promise<void> {
    const { raw, log } = this.deps;
    let next = from;
    let turn = performance.now();
    while (!this.abort.signal.aborted) {
      try {
        for await (const rec of raw.read(this.partition, next, this.abort.signal)) {
          this.apply(rec.seq, rec.data);
          next = rec.seq + 1;
          onApplied(rec.seq);
          // Buffered messages come as microtasks, which never let timers run: a backlog would starve the lease
          // renewals (and lose the partitions it is catching up on). Give the loop a turn every few milliseconds.
          if (performance.now() - turn > YIELD_EVERY_MS) {
            await new Promise((r) => setImmediate(r));
            turn = performance.now();
          }
        }
      } catch (err) {
        if (this.abort.signal.aborted) return;
        log.warn({ err, partition: this.partition }, 'cannot read the raw log; retrying');
        await new Promise((r) => setTimeout(r, READ_RETRY_MS));
      }
    }
  }

  private apply(seq: number, data: Uint8Array): void {
    const { metrics, log } = this.deps;
    let batch;
    try {
      batch = decodeRawBatch(data);
    } catch {
      metrics.rawBatchesDamaged.inc();
      log.error({ partition: this.partition, seq }, 'a raw-log message is not a batch: skipped');
      return;
    }
    const cp = this.checkpoint;
    let maxWindow = -Infinity;
    let open = 0, retained = 0, late = 0;
    for (const { index, sample } of revalidate(batch.samples, batch.receivedAt, this.opts.maxSampleAgeMs, batch.dims)) {
      // A body stored whole holds only this partition's valid samples, unless nodes validate differently (another
      // QOSWATCH_MAX_SAMPLE_AGE): another partition's are its owner's.
      if (this.deps.partitionOfLabels({ tenant: batch.tenant, region: sample.region }) !== this.partition) continue;
      const w = this.store.windowOf(sample.ts);
      maxWindow = Math.max(maxWindow, w);
      // Stored before the takeover: it only says who is live.
      if (cp && seq <= cp.coveredSeq && w < cp.closedBefore) {
        this.store.restoreLiveness(batch.tenant, sample, batch.receivedAt);
        continue;
      }
      const path = this.store.ingest(batch.tenant, sample, seq * SAMPLES_PER_SEQ + index, batch.receivedAt);
      if (path === 'open') open++;
      else if (path === 'retained') retained++;
      else late++;
    }
    this.open.push({ seq, maxWindow });
    this.appliedSeq = seq;
    metrics.partitionLag.set({ partition: String(this.partition) }, Math.max(0, this.deps.clock() - batch.receivedAt) / 1000);
    if (open) metrics.samplesAggregated.inc({ path: 'open' }, open);
    if (retained) metrics.samplesAggregated.inc({ path: 'retained' }, retained);
    if (late) metrics.samplesAggregated.inc({ path: 'late' }, late);
    if (this.live && (open || retained)) this.alerting!.samplesApplied();
  }

  /** Closes due windows, stores their points, then moves the checkpoint (time is an argument for tests). */
  tick(now: number): Promise<void> {
    const run = this.ticking.then(() => this.tickOnce(now));
    this.ticking = run.catch((err: unknown) => {
      if (!(err instanceof StaleEpochError)) this.deps.log.error({ err, partition: this.partition }, 'partition tick failed');
    });
    return this.ticking;
  }

  private async tickOnce(now: number): Promise<void> {
    if (this.stopped) return;
    this.budgets.refresh();
    if (now - this.lastCapSweep >= CAP_SWEEP_MS) {
      this.lastCapSweep = now;
      this.caps.sweep(now);
    }
    // Taken together, before any await: the checkpoint covers exactly what these points hold.
    const result = this.store.tick(now);
    const cp: PartitionCheckpoint = { from: this.replayFrom(result.closedBefore), coveredSeq: this.appliedSeq, closedBefore: result.closedBefore };
    for (const w of result.windows) this.unwritten.push(rollupLine(w, this.opts.windowMs));
    this.bound();
    if (!(await this.writePoints())) return;
    if (this.saved && this.saved.coveredSeq === cp.coveredSeq && this.saved.closedBefore === cp.closedBefore) return;
    await this.fencedState().tx((t) => t.meta.set(checkpointKey(this.partition), JSON.stringify(cp)));
    this.saved = cp;
    await this.trim(now, cp.from);
  }

  /** The first applied batch with a sample in a window not closed yet; the next one when none has. */
  private replayFrom(closedBefore: number): number {
    while (this.open.length && this.open[0]!.maxWindow < closedBefore) this.open.shift();
    return this.open[0]?.seq ?? this.appliedSeq + 1;
  }

  /** Keeps the backlog for InfluxDB bounded: the oldest points go first (counted). */
  private bound(): void {
    const over = this.unwritten.length - this.opts.maxPendingPoints;
    if (over <= 0) return;
    this.unwritten.splice(0, over);
    this.deps.metrics.partitionPointsDropped.inc(over);
  }

  /**
   * Writes the backlog to InfluxDB as this owner (the fence is checked first, so a paused owner woken after its
   * lease passed on does not overwrite the new owner's points); false when some are left for the next tick.
   */
  private async writePoints(): Promise<boolean> {
    const { deps } = this;
    const { sink, metrics, log } = deps;
    if (!this.unwritten.length) return true;
    if (!sink) {
      metrics.pointsDiscarded.inc(this.unwritten.length);
      this.unwritten = [];
      return true;
    }
    await this.fencedState().tx(async () => {});
    while (this.unwritten.length) {
      const batch = this.unwritten.slice(0, this.opts.batchLines);
      // Checked again right before each write: a process paused after the fence check may have lost the lease, and
      // a new owner may have written these windows already (whole, where this one's may miss what it had not read).
      if (!deps.leaseFresh(this.partition)) return false;
      try {
        await sink.write(batch);
      } catch (err) {
        if (!(err instanceof SinkError && err.failure === 'reject')) {
          log.warn({ err: err instanceof Error ? err.message : String(err), partition: this.partition, points: this.unwritten.length }, 'cannot write points to InfluxDB; keeping them for the next tick');
          return false;
        }
        log.error({ err: err.message, partition: this.partition, points: batch.length }, 'InfluxDB refused points: dropped');
        metrics.partitionPointsDropped.inc(batch.length);
      }
      this.unwritten.splice(0, batch.length);
    }
    return true;
  }

  private async trim(now: number, below: number): Promise<void> {
    if (now - this.lastTrim < TRIM_EVERY_MS || below <= this.trimmedBelow) return;
    this.lastTrim = now;
    try {
      await this.deps.raw.trim(this.partition, below);
      this.trimmedBelow = below;
    } catch (err) {
      this.deps.log.warn({ err, partition: this.partition }, 'cannot trim the raw log; retrying later');
    }
  }

  /** Swaps the rule set (a reload), keeping as many closed windows as the new rules read. */
  async setRules(rules: readonly Rule[], retention: number): Promise<void> {
    this.store.setRetention(retention);
    await this.alerting?.setRules(rules);
  }

  /**
   * Hands the partition over (`lost` false: flush what is closed, store the alert rows, checkpoint) or drops it at
   * once (`lost`: another node may own it already, and its fence refuses this one's writes).
   */
  async stop(lost: boolean): Promise<void> {
    if (this.stopped) return;
    this.abort.abort();
    clearInterval(this.timer);
    await this.reader.catch(() => {});
    if (lost) {
      this.stopped = true;
      this.alerting?.abandon();
      return;
    }
    await this.tick(this.deps.clock());
    this.stopped = true;
    await this.alerting?.stop().catch(() => {});
  }
}

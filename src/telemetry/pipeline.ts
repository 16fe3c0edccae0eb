import type { FastifyBaseLogger as Logger } from 'fastify';
import type { Metrics } from '../metrics.js';
import type { InfluxSink } from '../storage/influx/sink.js';
import type { PointsOutbox } from '../storage/points-outbox.js';
import { rawSampleLine } from '../storage/influx/raw-points.js';
import { rollupLine } from '../storage/influx/rollup-points.js';
import { Shipper } from '../storage/influx/shipper.js';
import { Quarantine } from '../storage/ingest-log/quarantine.js';
import { replayLog } from '../storage/ingest-log/replay.js';
import type { IngestLog } from '../storage/ingest-log/types.js';
import { RawLateIds } from '../storage/raw-late-ids.js';
import { type Checkpoint, SERVICE, Spool } from '../storage/spool.js';
import type { Db } from '../storage/sqlite.js';
import type { DimValueRecord } from '../storage/state/dim-values.js';
import type { StateStore } from '../storage/state/store.js';
import type { DerivedDims } from '../geoip/records.js';
import { Budgets, type GlobalLimits, type TenantLimits } from './budgets.js';
import { CardinalityCaps } from './cardinality.js';
import type { Sample } from './sample-schema.js';
import { parseBody } from './body-json.js';
import { RecentBatches } from './idempotency.js';
import { type BudgetRefusal, type IngestResult, type Intake, type Transport, revalidate, screen } from './intake.js';
import { type EmittedWindow, type IngestPath, WindowStore } from './window-store.js';

export interface PipelineOptions {
  windowMs: number;
  graceMs: number;
  horizonMs: number;
  maxSampleAgeMs: number;
  flushIntervalMs: number;
  spoolMaxBytes: number;
  batchLines: number;
  rawSamples: boolean;
  capOf(dim: string): number;
  /** A tenant's budgets (read again every tick: the admin API may change them). */
  tenantLimits(tenant: string): TenantLimits;
  globalLimits: GlobalLimits;
  /** A dimension value (or region) not seen for this long releases its slot. */
  dimTtlMs: number;
  /** The longest a session or node stays live, whatever interval it claims. */
  maxLiveMs: number;
}

export interface PipelineDeps {
  ingestDb: Db;
  /** The log of accepted batches (the journal); its quarantine and replay marker are in ingestDb. */
  ingestLog: IngestLog;
  /** The admitted dimension values, kept in the state store: written as they change, in order, without waiting. */
  dimValues: StateStore['dimValues'];
  /** The values admitted before (read at start). */
  admittedDims: readonly DimValueRecord[];
  sink: InfluxSink | undefined;
  /** Points from other domains (incident events, SLA clocks, self metrics), committed as the service's with each tick. */
  points: PointsOutbox;
  metrics: Metrics;
  log: Logger;
  clock: () => number;
  /** The dimensions derived from a client address (geoip/), when enrichment is configured. */
  enrich?: (clientAddress: string) => DerivedDims | undefined;
}

/** Journal seq and sample index make a sample id; 8192 > the 5000 samples a batch may hold. */
export const SAMPLES_PER_SEQ = 8192;
/** How often dimension values are checked for release and their sightings persisted. */
export const CAP_SWEEP_MS = 60_000;

/** The cardinality caps, with admitted values and their last sighting kept in the state database (dim_values). */
export function persistedCaps(deps: Pick<PipelineDeps, 'dimValues' | 'admittedDims' | 'metrics' | 'log'>, opts: Pick<PipelineOptions, 'capOf' | 'dimTtlMs'>): CardinalityCaps {
  const { dimValues, metrics, log } = deps;
  // The caps in memory decide; the store keeps them for the next start, so a failed write is only logged.
  const kept = (write: Promise<void>) => write.catch((err: unknown) => log.error({ err }, 'cannot store an admitted dimension value'));
  const caps = new CardinalityCaps(
    opts.capOf,
    {
      onAdmit: (tenant, dim, value, now) => void kept(dimValues.admit(tenant, dim, value, now)),
      onFold: (dim) => metrics.dimFolded.inc({ dim }),
      onSeen: (tenant, dim, value, lastSeen) => void kept(dimValues.seen(tenant, dim, value, lastSeen)),
      onRelease: (tenant, dim, value) => {
        void kept(dimValues.release(tenant, dim, value));
        metrics.dimReleased.inc({ dim });
      },
    },
    opts.dimTtlMs,
  );
  for (const r of deps.admittedDims) caps.restore(r.tenant, r.dim, r.value, r.lastSeen);
  return caps;
}

/**
 * Accepted telemetry's path to storage: validate → journal (durable) → window store → on each tick, closed windows
 * as points into the spool together with the checkpoint → shipper → InfluxDB. After a crash, `start` replays the
 * journal rows the checkpoint does not cover, so nothing accepted is lost or counted twice.
 */
export class IngestPipeline implements Intake {
  readonly store: WindowStore;
  readonly journal: IngestLog;
  readonly quarantine: Quarantine;
  readonly spool: Spool;
  readonly shipper: Shipper | undefined;
  readonly budgets: Budgets;
  private readonly caps: CardinalityCaps;
  /** Numbers of late samples' raw points (with QOSWATCH_RAW_SAMPLES). */
  private readonly rawLateIds: RawLateIds | undefined;
  /** Raw sample points by tenant, committed with the next tick. */
  private rawLines = new Map<string, string[]>();
  private readonly appliedListeners: (() => void)[] = [];
  private readonly recent = new RecentBatches();
  /** Points of a tick whose spool commit failed, by owner; retried with the next tick. */
  private uncommitted = new Map<string, string[]>();
  private timer: NodeJS.Timeout | undefined;
  private lastDropWarn = 0;
  private droppedSinceWarn = 0;
  /** Spool points dropped per owner since the start (a tenant id, or SERVICE). */
  private readonly spoolDropped = new Map<string, number>();
  private lastCapSweep: number;

  constructor(
    private readonly deps: PipelineDeps,
    private readonly opts: PipelineOptions,
  ) {
    const { metrics, log } = deps;
    this.caps = persistedCaps(deps, opts);
    this.lastCapSweep = deps.clock();
    this.budgets = new Budgets(opts.tenantLimits, opts.globalLimits, opts.windowMs);
    this.journal = deps.ingestLog;
    this.quarantine = new Quarantine(deps.ingestDb);
    if (opts.rawSamples) this.rawLateIds = new RawLateIds(deps.ingestDb);
    this.spool = new Spool(deps.ingestDb, {
      maxBytes: opts.spoolMaxBytes,
      rowLines: opts.batchLines,
      onDrop: (owner, lines) => this.onSpoolDrop(owner, lines),
    });
    const cp = this.spool.checkpoint();
    // After a restart, windows from the checkpoint on were never stored: replay rebuilds them whole and the first
    // tick closes them as ordinary windows; only older ones take late samples.
    const closedBefore = cp?.closedBefore ?? Math.floor((deps.clock() - opts.graceMs) / opts.windowMs);
    this.store = new WindowStore({ windowMs: opts.windowMs, graceMs: opts.graceMs, horizonMs: opts.horizonMs, closedBefore, maxLiveMs: opts.maxLiveMs }, this.caps, this.budgets);
    this.replay(cp?.journalSeq ?? 0, cp?.closedBefore ?? -Infinity);
    if (deps.sink) this.shipper = new Shipper(this.spool, deps.sink, { batchLines: opts.batchLines, metrics, log });
    this.bindMetrics();
  }

  /** Starts the tick timer and the shipper. */
  start(): void {
    this.shipper?.start();
    this.timer ??= setInterval(() => this.tickSafely(this.deps.clock()), this.opts.flushIntervalMs);
  }

  /** Called after accepted samples reach the window store (the rule engine schedules an evaluation). */
  onApplied(listener: () => void): void {
    this.appliedListeners.push(listener);
  }

  /** Bytes accepted but not yet committed; over the limit, collectors answer 429 / pause. */
  get pendingBytes(): number {
    return this.journal.pendingBytes;
  }

  /**
   * Why a batch of `samples` from this tenant is refused before it is journaled, if it is: the tenant has written
   * its budget of points in the current window (its later samples would only add region points). Counted.
   */
  budgetRefusal(tenant: string, samples: number): BudgetRefusal | undefined {
    const now = this.deps.clock();
    const usage = this.budgets.of(tenant);
    if (!this.budgets.pointsSpent(usage, now)) return undefined;
    this.budgets.exceeded(usage, 'points/refused', samples);
    return {
      message: `tenant ${tenant} has written its budget of ${usage.limits.points} points for this ${this.opts.windowMs / 1000} s window (QOSWATCH_TENANT_MAX_POINTS, or the tenant's budgets.points); send again in the next window`,
      retryAfterMs: this.budgets.nextWindowIn(now),
    };
  }

  /**
   * Validates the samples of a batch whose envelope the collector checked and, if any is valid, journals the raw
   * body (a JSON object with a `samples` array) before aggregating them. Resolves once the batch is durable.
   * Every collector passes the client's address (the app's clientAddress): the dimensions derived from it fill
   * those the samples lack, and are journaled beside the body, so a replay after a crash applies the same values
   * whatever the GeoIP databases hold by then. A batch sent again with the same `idempotencyKey` within 2 minutes
   * gets the first one's answer and is not journaled again (idempotency.ts).
   */
  ingest(tenant: string, body: Buffer, samples: readonly unknown[], transport: Transport, clientAddress: string | undefined, idempotencyKey?: string): Promise<IngestResult> {
    if (idempotencyKey === undefined) return this.journalBatch(tenant, body, samples, transport, clientAddress);
    return this.recent.once(tenant, idempotencyKey, this.deps.clock(), () => this.journalBatch(tenant, body, samples, transport, clientAddress));
  }

  private async journalBatch(tenant: string, body: Buffer, samples: readonly unknown[], transport: Transport, clientAddress: string | undefined): Promise<IngestResult> {
    const now = this.deps.clock();
    const { batch: v, outcome, dims } = screen(this.deps, samples, now, this.opts.maxSampleAgeMs, clientAddress);
    const { metrics } = this.deps;
    if (v.accepted.length === 0) {
      metrics.batches.inc({ transport, outcome });
      return { accepted: 0, rejected: v.rejected };
    }
    let maxWindow = -Infinity;
    for (const a of v.accepted) maxWindow = Math.max(maxWindow, this.store.windowOf(a.sample.ts));
    return this.journal.append({ tenant, receivedAt: now, body, maxWindow, dims }, (seq) => {
      this.apply(tenant, seq, v.accepted, now);
      metrics.samplesAccepted.inc({ transport }, v.accepted.length);
      metrics.batches.inc({ transport, outcome });
      return { accepted: v.accepted.length, rejected: v.rejected };
    });
  }

  /** Closes due windows and commits their points with the checkpoint. Time is an argument for tests. */
  tick(now: number): void {
    this.journal.flush();
    this.budgets.refresh();
    if (now - this.lastCapSweep >= CAP_SWEEP_MS) {
      this.lastCapSweep = now;
      this.caps.sweep(now);
    }
    this.commit(this.store.tick(now));
  }

  /** Graceful shutdown: stop ticking, store every window up to now, give InfluxDB a moment to take them. */
  async shutdown(drainTimeoutMs: number): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.journal.flush();
    this.commit(this.store.closeThrough(this.deps.clock()));
    if (this.shipper) {
      const drained = await this.shipper.drain(drainTimeoutMs);
      if (!drained) this.deps.log.warn({ spooled: this.spool.depth.lines }, 'points left in the spool; they are written after the next start');
      await this.shipper.stop();
    }
  }

  readiness(): { ready: boolean; storage: 'ok' | 'spooling' | 'disabled'; detail?: string } {
    const status = this.shipper?.status;
    const storage = !status ? 'disabled' : status.reachable ? 'ok' : 'spooling';
    // Accepted data must be journaled and spooled; when the data dir refuses writes, stop taking traffic.
    if (this.journal.failure) return { ready: false, storage, detail: `cannot write the journal: ${this.journal.failure}` };
    if (this.uncommitted.size) return { ready: false, storage, detail: 'cannot commit points to the spool' };
    // Spooling keeps accepted data safe, so the service stays ready while InfluxDB is away.
    const detail = !status ? 'INFLUX_URL is not set: metrics are not stored' : status.lastError;
    return detail ? { ready: true, storage, detail } : { ready: true, storage };
  }

  private apply(tenant: string, seq: number, accepted: readonly { index: number; sample: Sample }[], receivedAt: number): void {
    const { metrics } = this.deps;
    let open = 0, retained = 0, late = 0;
    for (const { index, sample } of accepted) {
      const id = seq * SAMPLES_PER_SEQ + index;
      const path = this.store.ingest(tenant, sample, id, receivedAt);
      if (path === 'open') open++;
      else if (path === 'retained') retained++;
      else late++;
      if (this.opts.rawSamples && this.rawWithinBudget(tenant, receivedAt)) this.queueRaw(tenant, this.rawLine(tenant, sample, path));
    }
    if (open) metrics.samplesAggregated.inc({ path: 'open' }, open);
    if (retained) metrics.samplesAggregated.inc({ path: 'retained' }, retained);
    if (late) metrics.samplesAggregated.inc({ path: 'late' }, late);
    if (open || retained) for (const l of this.appliedListeners) l();
  }

  /** False (counted) when the tenant has written its points budget of the window: the rollups hold the sample. */
  private rawWithinBudget(tenant: string, receivedAt: number): boolean {
    const usage = this.budgets.of(tenant);
    if (this.budgets.takePoint(usage, receivedAt)) return true;
    this.budgets.exceeded(usage, 'points/raw_skipped');
    return false;
  }

  private queueRaw(tenant: string, line: string): void {
    let lines = this.rawLines.get(tenant);
    if (!lines) this.rawLines.set(tenant, (lines = []));
    lines.push(line);
  }

  /**
   * The raw point of the sample just ingested, numbered within its (tenant, region, window): by the window's
   * sample count while the window is held — dense, so samples sharing a ts ms (SDKs stamp the interval start) never
   * share a point, and a replay, which rebuilds open windows from the same journal rows in the same order, rewrites
   * the same points — or, late, by a counter kept on disk (raw-late-ids.ts). Points of a row a checkpoint covers are
   * never emitted again: its late samples are not replayed.
   */
  private rawLine(tenant: string, sample: Sample, path: IngestPath): string {
    const series = this.store.lastSeries();
    const w = this.store.windowOf(sample.ts);
    const region = series[0]!;
    const ordinal = path === 'late' ? this.rawLateIds!.next(tenant, region.region, w) : this.store.window(region.id, w)!.samples - 1;
    return rawSampleLine(tenant, series, sample, ordinal, path === 'late');
  }

  /**
   * Re-aggregates the journal after a restart. Samples the checkpoint covers (journal seq ≤ checkpoint and window
   * closed then) are already in the spool: they only restore who is live.
   */
  private replay(coveredSeq: number, coveredBefore: number): void {
    const { log, metrics } = this.deps;
    let rows = 0, replayed = 0;
    const quarantined = replayLog(this.journal, this.quarantine, (row) => {
      rows++;
      let body: { samples?: unknown } | null;
      try {
        body = parseBody(row.body) as { samples?: unknown } | null;
      } catch {
        throw new Error('body is not valid JSON'); // not the parser's message: it quotes the body
      }
      const batch = body?.samples;
      if (!Array.isArray(batch)) return;
      const pending = revalidate(batch, row.receivedAt, this.opts.maxSampleAgeMs, row.dims).filter(({ sample }) => {
        const covered = row.seq <= coveredSeq && this.store.windowOf(sample.ts) < coveredBefore;
        if (covered) this.store.restoreLiveness(row.tenant, sample, row.receivedAt);
        return !covered;
      });
      replayed += pending.length;
      this.apply(row.tenant, row.seq, pending, row.receivedAt);
    }, this.deps.clock());
    for (const q of quarantined) {
      metrics.journalQuarantined.inc({ cause: q.cause });
      log.error({ seq: q.seq, tenant: q.tenant, cause: q.cause, reason: q.reason }, 'journal row quarantined: its replay failed; kept in ingest.db, table journal_quarantine (README, Durability)');
    }
    if (rows) log.info({ rows, samples: replayed, quarantined: quarantined.length }, 'replayed the telemetry journal');
  }

  private tickSafely(now: number): void {
    try {
      this.tick(now);
    } catch (err) {
      this.deps.log.error({ err }, 'window tick failed');
    }
  }

  private commit(result: { closedBefore: number; windows: readonly EmittedWindow[] }): void {
    const end = this.deps.metrics.tickDuration.startTimer();
    // Points by owner: each tenant's spool rows are its own, the service's (the points outbox) too.
    let points = this.uncommitted;
    const to = (owner: string) => {
      let l = points.get(owner);
      if (!l) points.set(owner, (l = []));
      return l;
    };
    for (const w of result.windows) to(w.series.tenant).push(rollupLine(w, this.opts.windowMs));
    // appended in loops: a tick's raw points can be more than a spread's argument list may hold
    for (const [tenant, lines] of this.rawLines) {
      const out = to(tenant);
      for (const l of lines) out.push(l);
    }
    const service = this.deps.points.take();
    if (service.length) {
      const out = to(SERVICE);
      for (const l of service) out.push(l);
    }
    this.rawLines = new Map();
    let count = 0;
    for (const l of points.values()) count += l.length;
    if (!this.deps.sink) {
      if (count) this.deps.metrics.pointsDiscarded.inc(count);
      points = new Map();
      count = 0;
    }
    const seq = this.journal.lastSeq;
    // No sample older than the age limit is accepted: late counters of windows before it can go (a window of margin).
    const lateFloor = this.store.windowOf(this.deps.clock() - this.opts.maxSampleAgeMs) - 1;
    try {
      this.spool.commit(points, { journalSeq: seq, closedBefore: result.closedBefore }, this.rawLateIds && (() => this.rawLateIds!.save(lateFloor)));
      this.rawLateIds?.committed(lateFloor);
      this.uncommitted = new Map();
      this.trimJournal({ journalSeq: seq, closedBefore: result.closedBefore });
    } catch (err) {
      // The journal still holds these samples (the checkpoint did not move); keep the points for the next tick.
      this.uncommitted = points;
      this.deps.log.error({ err, points: count }, 'cannot commit points to the spool; retrying at the next tick');
    } finally {
      end();
    }
    if (count) this.shipper?.nudge();
  }

  /** Deletes the log's segments the checkpoint just covered; one left behind is covered at replay, and goes next time. */
  private trimJournal(cp: Checkpoint): void {
    try {
      this.journal.trim(cp);
    } catch (err) {
      this.deps.log.warn({ err }, 'cannot delete a stored window\'s journal segment; retrying at the next tick');
    }
  }

  private onSpoolDrop(owner: string, lines: number): void {
    this.spoolDropped.set(owner, (this.spoolDropped.get(owner) ?? 0) + lines);
    this.deps.metrics.spoolDropped.inc(lines);
    this.droppedSinceWarn += lines;
    const now = this.deps.clock();
    if (now - this.lastDropWarn >= 60_000) {
      this.deps.log.warn({ dropped: this.droppedSinceWarn, maxBytes: this.opts.spoolMaxBytes }, 'spool full: dropped the oldest points of whoever holds the most');
      this.lastDropWarn = now;
      this.droppedSinceWarn = 0;
    }
  }

  private bindMetrics(): void {
    const { metrics } = this.deps;
    const set = (g: { set(v: number): void; collect?: unknown }, read: () => number) => {
      (g as { collect?: () => void }).collect = () => g.set(read());
    };
    set(metrics.windowSeries, () => this.store.seriesCount);
    set(metrics.liveSessions, () => this.store.liveness.sessionCount);
    set(metrics.liveNodes, () => this.store.liveness.nodeCount);
    set(metrics.journalPendingBytes, () => this.journal.pendingBytes);
    set(metrics.journalQuarantineRows, () => this.quarantine.count());
    set(metrics.journalSegments, () => this.journal.stats().segments);
    set(metrics.journalBytes, () => this.journal.stats().bytes);
    metrics.journalDamaged.inc(this.journal.stats().damaged);
    set(metrics.spoolDepthPoints, () => this.spool.depth.lines);
    set(metrics.spoolDepthBytes, () => this.spool.depth.bytes);
    // per owner: a tenant id, or "(service)" for incident events, SLA points and self metrics
    const owner = (o: string) => (o === SERVICE ? '(service)' : o);
    onScrape(metrics.tenantSpoolBytes, () => {
      for (const [o, d] of this.spool.byOwner()) metrics.tenantSpoolBytes.set({ tenant: owner(o) }, d.bytes);
    });
    onScrape(metrics.tenantSpoolDropped, () => {
      for (const [o, n] of this.spoolDropped) metrics.tenantSpoolDropped.inc({ tenant: owner(o) }, n);
    });
    this.bindBudgetMetrics();
  }

  /** Per-tenant figures of the budgets, read on scrape (the hot path only counts in plain maps). */
  private bindBudgetMetrics(): void {
    const { metrics } = this.deps;
    const { budgets } = this;
    onScrape(metrics.budget, () => {
      metrics.budget.set({ budget: 'series' }, budgets.global.series);
      metrics.budget.set({ budget: 'sessions' }, budgets.global.sessions);
    });
    onScrape(metrics.tenantBudget, () => {
      for (const [tenant, u] of budgets.tenants()) {
        metrics.tenantBudget.set({ tenant, budget: 'series' }, u.limits.series);
        metrics.tenantBudget.set({ tenant, budget: 'points' }, u.limits.points);
        metrics.tenantBudget.set({ tenant, budget: 'sessions' }, u.limits.sessions);
      }
    });
    onScrape(metrics.tenantSeries, () => {
      for (const [tenant, u] of budgets.tenants()) metrics.tenantSeries.set({ tenant }, u.series);
    });
    onScrape(metrics.tenantLiveSessions, () => {
      for (const [tenant, u] of budgets.tenants()) metrics.tenantLiveSessions.set({ tenant }, u.sessions);
    });
    onScrape(metrics.tenantPoints, () => {
      const period = Math.floor(this.deps.clock() / this.opts.windowMs);
      for (const [tenant, u] of budgets.tenants()) metrics.tenantPoints.set({ tenant }, u.period === period ? u.points : 0);
    });
    onScrape(metrics.tenantBudgetExceeded, () => {
      for (const [tenant, u] of budgets.tenants()) {
        for (const [what, n] of u.excess) {
          const [budget, action] = what.split('/') as [string, string];
          metrics.tenantBudgetExceeded.inc({ tenant, budget, action }, n);
        }
      }
    });
  }
}

/** Fills a labelled metric afresh on each scrape (its owner keeps the figures in plain maps). */
function onScrape(m: { reset(): void }, fill: () => void): void {
  (m as { collect?: () => void }).collect = () => {
    m.reset();
    fill();
  };
}

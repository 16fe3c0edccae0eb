import { type Budgets, FOLDED, type TenantUsage, unlimitedBudgets } from './budgets.js';
import { type CapSlot, type CardinalityCaps, OTHER } from './cardinality.js';
import { Liveness, NEW_ERROR, NEW_SESSION, type SessionHandle } from './liveness.js';
import type { Sample } from './sample-schema.js';
import { type LiveSketch, ZERO_KEY, mergeInto, newSketch } from './sketch.js';
import { type SampleKeys, WindowAgg, combine, keysOf } from './window-agg.js';

export const DEFAULT_INTERVAL_MS = 10_000;

/** A series is (tenant, region) or (tenant, region, one dimension = value). */
export interface SeriesKey {
  readonly id: number;
  readonly tenant: string;
  readonly region: string;
  readonly dim?: string;
  readonly value?: string;
  /** What the rule engine keeps with the series (the groups it is in), opaque here: no lookup per pass. */
  ruleMemo?: unknown;
}

/** The sketches of a window aggregate. */
export type SketchField = 'latency' | 'rtt' | 'startup';

/** One sketch of a series' closed windows [from, to], merged. */
interface MergedRange {
  readonly field: SketchField;
  readonly from: number;
  readonly to: number;
  readonly sketch: LiveSketch | undefined;
}

interface Series extends SeriesKey {
  readonly usage: TenantUsage;
  readonly windows: Map<number, WindowAgg>;
  /** The window last taken and its aggregate (`windows` has it), or -Infinity: most samples go to the same one. */
  lastWindow: number;
  lastAgg: WindowAgg | undefined;
  /** Merges of closed windows read by the rules (`closedSketch`); dropped when a closed window changes. */
  merged: MergedRange[] | undefined;
  /** The cap slot of its region or dimension value, as last admitted (for routes). */
  slot: CapSlot | undefined;
  /** Forgotten (a route holding it is void). */
  gone: boolean;
  /** In `touched` since the last drain. */
  touched: boolean;
  viewersSeenAt: number;
  concurrencySeenAt: number;
}

/** A window handed to storage: on close, on a later update within the horizon, or as a late aggregate. */
export interface EmittedWindow {
  readonly series: SeriesKey;
  /** Window start, epoch ms. */
  readonly start: number;
  readonly agg: WindowAgg;
  /** Set for samples older than the evaluation horizon: the smallest sample id, which makes the point unique. */
  readonly lateId?: number;
}

/**
 * Where a sample went: into an open window, into a closed window still inside the evaluation horizon (rewritten
 * in storage), or — older than that — into a late aggregate that is stored but not evaluated.
 */
export type IngestPath = 'open' | 'retained' | 'late';

export interface WindowStoreOptions {
  windowMs: number;
  /** How long after its end a window stays open for samples still in flight. */
  graceMs: number;
  /** How far back closed windows stay readable (and updatable) for rule evaluation. */
  horizonMs: number;
  /** Windows below this index were closed before this store existed (restart); they only take late samples. */
  closedBefore: number;
  /** The longest a session or node stays live after its last sample, whatever interval it claims. */
  maxLiveMs?: number;
}

export interface TickResult {
  /** Every window with a lower index is closed. */
  closedBefore: number;
  windows: EmittedWindow[];
}

/**
 * The aggregation window store (pure: time is always an argument). Samples are placed by event time into aligned
 * windows; a window is open until `end + grace`, then closed (sketches frozen) and kept for `horizon` so rules can
 * read the last N windows cheaply.
 */
export class WindowStore {
  readonly windowMs: number;
  readonly liveness: Liveness;
  private readonly graceMs: number;
  private readonly horizonMs: number;
  /** Closed windows kept, as many as the loaded rules read (at most the horizon's). */
  private retention: number;
  private readonly maxRetention: number;
  /** Windows below this are gone (closed before a restart, or evicted): samples for them are late. */
  private floor: number;
  private closed: number;
  private nextId = 1;
  /** tenant → region → the region series and its dimension series (nested: the hot path builds no key strings). */
  private readonly index = new Map<string, Map<string, RegionNode>>();
  private readonly byId = new Map<number, Series>();
  /** Series that hold a window, by window index: closing and eviction touch only these. */
  private readonly byWindow = new Map<number, Series[]>();
  private readonly dirty = new Map<Series, Set<number>>();
  private readonly late = new Map<string, { series: Series; window: number; agg: WindowAgg; firstId: number }>();
  /** Series whose open or retained windows changed since the last `drainTouched` (what rules re-evaluate). */
  private touched: Series[] = [];
  private readonly scratch: Series[] = [];
  private readonly scratchIds: number[] = [];
  /** The last sample's series and their ids: the scratch lists, or its session's route as it is (no copy). */
  private targets: readonly Series[] = this.scratch;
  private targetIds: readonly number[] = this.scratchIds;
  private readonly scratchKeys: SampleKeys = { latency: ZERO_KEY, rtt: ZERO_KEY, startup: ZERO_KEY };
  /** The tenant of the last resolved sample. */
  private scratchUsage: TenantUsage | undefined;
  /** The live session of the last resolved sample, found once for its route and its counting. */
  private scratchSession: SessionHandle | undefined;
  /**
   * The last sample's series were resolved afresh, all admitted under its own values (none folded): a route to keep
   * for its session (see `routeOf`).
   */
  private routable = false;

  constructor(
    opts: WindowStoreOptions,
    private readonly caps: CardinalityCaps,
    private readonly budgets: Budgets = unlimitedBudgets(opts.windowMs),
  ) {
    this.windowMs = opts.windowMs;
    this.liveness = new Liveness(budgets, opts.maxLiveMs);
    this.graceMs = opts.graceMs;
    this.horizonMs = opts.horizonMs;
    this.maxRetention = this.retention = Math.ceil(opts.horizonMs / opts.windowMs);
    this.closed = opts.closedBefore;
    this.floor = opts.closedBefore;
  }

  /** Every window with a lower index is closed. */
  get closedBefore(): number {
    return this.closed;
  }

  get seriesCount(): number {
    return this.byId.size;
  }

  windowOf(ts: number): number {
    return Math.floor(ts / this.windowMs);
  }

  /** Where a sample with this timestamp would go (without adding it). */
  pathOf(ts: number): IngestPath {
    return this.pathOfWindow(this.windowOf(ts));
  }

  private pathOfWindow(w: number): IngestPath {
    if (w >= this.closed) return 'open';
    return w >= Math.max(this.closed - this.retention, this.floor) ? 'retained' : 'late';
  }

  /**
   * Keeps only the closed windows the loaded rules read (at least 1, at most the horizon): each retained window
   * of every series costs memory. Fewer are released at the next tick; more fill up from then on (windows already
   * released are not recreated: a late sample for one becomes a late aggregate, as beyond the horizon).
   */
  setRetention(windows: number): void {
    this.retention = Math.min(this.maxRetention, Math.max(1, Math.ceil(windows)));
  }

  ingest(tenant: string, s: Sample, sampleId: number, receivedAt: number): IngestPath {
    const w = this.windowOf(s.ts);
    const path = this.pathOfWindow(w);
    const targets = this.resolveSeries(tenant, s, receivedAt);
    const usage = this.scratchUsage!;

    const flags = this.observe(tenant, s, w, receivedAt, path !== 'late');
    this.keepRoute(tenant, s);
    const newSession = (flags & NEW_SESSION) !== 0;
    const newError = (flags & NEW_ERROR) !== 0;
    const keys = keysOf(s, this.scratchKeys);

    for (let i = 0; i < targets.length; i++) {
      const series = targets[i]!;
      let agg: WindowAgg;
      if (path === 'late') {
        const k = `${series.id}:${w}`;
        let acc = this.late.get(k);
        if (!acc) {
          if (!this.newPoint(usage, receivedAt, i)) continue;
          this.late.set(k, (acc = { series, window: w, agg: new WindowAgg(), firstId: sampleId }));
        } else if (sampleId < acc.firstId) acc.firstId = sampleId;
        agg = acc.agg;
      } else {
        // A window not yet held, or a retained one not yet rewritten in this tick, is one more point to write.
        const held = series.lastWindow === w || series.windows.has(w);
        const fresh = !held || (path === 'retained' && !this.dirty.get(series)?.has(w));
        if (fresh && !this.newPoint(usage, receivedAt, i)) continue;
        agg = this.windowFor(series, w);
        if (!series.touched) {
          series.touched = true;
          this.touched.push(series);
        }
        if (path === 'retained') {
          series.merged = undefined;
          let set = this.dirty.get(series);
          if (!set) this.dirty.set(series, (set = new Set()));
          set.add(w);
        }
      }
      agg.add(s, newSession, newError, keys);
    }
    return path;
  }

  /** A replayed sample that storage already has: only who is live is restored. */
  restoreLiveness(tenant: string, s: Sample, receivedAt: number): void {
    this.resolveSeries(tenant, s, receivedAt);
    this.observe(tenant, s, this.windowOf(s.ts), receivedAt, true);
    this.keepRoute(tenant, s);
  }

  /** The series the last ingested sample went to (region first), after the cardinality caps. */
  lastSeries(): readonly SeriesKey[] {
    return this.targets;
  }

  /**
   * Advances time: samples the gauges into the current window, closes windows whose grace has passed and returns
   * everything storage must write (closed windows, updated retained windows, late aggregates).
   */
  tick(now: number): TickResult {
    return this.advance(now, Math.floor((now - this.graceMs) / this.windowMs));
  }

  /** Closes every window up to and including the one holding `now` (graceful shutdown). */
  closeThrough(now: number): TickResult {
    return this.advance(now, this.windowOf(now) + 1);
  }

  /** The series that took samples since the last call. */
  drainTouched(): readonly SeriesKey[] {
    const out = this.touched;
    this.touched = [];
    for (const s of out) s.touched = false;
    return out;
  }

  hasSeries(id: number): boolean {
    return this.byId.has(id);
  }

  seriesKeys(): IterableIterator<SeriesKey> {
    return this.byId.values();
  }

  /** The aggregate of one window of a series, open or closed, if it holds data. */
  window(seriesId: number, index: number): WindowAgg | undefined {
    return this.byId.get(seriesId)?.windows.get(index);
  }

  /** Windows [from, to] of a series merged into one aggregate (ratios of sums, merged sketches). */
  range(seriesId: number, from: number, to: number): WindowAgg {
    const s = this.byId.get(seriesId);
    const picked: WindowAgg[] = [];
    if (s) for (let w = from; w <= to; w++) { const a = s.windows.get(w); if (a) picked.push(a); }
    return combine(picked);
  }

  /**
   * The `field` sketches of a series' closed windows [from, to] (to < closedBefore) merged, undefined when none
   * holds one. Cached: the rules read the same closed windows at every evaluation pass, and a closed window changes
   * only when a late sample lands in it or it is evicted, which drop the series' merges.
   */
  closedSketch(seriesId: number, field: SketchField, from: number, to: number): LiveSketch | undefined {
    if (to >= this.closed) throw new RangeError(`window ${to} is open`);
    const s = this.byId.get(seriesId);
    if (!s) return undefined;
    const cached = s.merged?.find((m) => m.field === field && m.from === from && m.to === to);
    if (cached) return cached.sketch;
    let sketch: LiveSketch | undefined;
    for (let w = from; w <= to; w++) {
      const part = s.windows.get(w)?.[field];
      if (part) mergeInto((sketch ??= newSketch()), part);
    }
    // Ranges that end elsewhere are stale: windows have closed since.
    s.merged = (s.merged ?? []).filter((m) => m.to === to);
    s.merged.push({ field, from, to, sketch });
    return sketch;
  }

  private advance(now: number, target: number): TickResult {
    this.sampleGauges(now);
    target = Math.max(this.closed, target);
    const windows: EmittedWindow[] = [];
    for (let w = this.closed; w < target; w++) {
      for (const s of this.byWindow.get(w) ?? []) {
        const agg = s.windows.get(w)!;
        agg.freeze();
        windows.push({ series: s, start: w * this.windowMs, agg });
      }
    }
    for (const [s, set] of this.dirty) {
      for (const w of set) {
        const agg = s.windows.get(w);
        if (!agg) continue;
        agg.freeze();
        windows.push({ series: s, start: w * this.windowMs, agg });
      }
    }
    this.dirty.clear();
    for (const acc of this.late.values()) {
      acc.agg.freeze();
      windows.push({ series: acc.series, start: acc.window * this.windowMs, agg: acc.agg, lateId: acc.firstId });
    }
    this.late.clear();
    this.closed = target;
    this.evict(target - this.retention, now);
    return { closedBefore: target, windows };
  }

  /** Gauges go into the window that holds `now`; a series that recently had a gauge reports 0, not nothing. */
  private sampleGauges(now: number): void {
    const { viewers, concurrency } = this.liveness.gauges(now);
    const current = this.windowOf(now);
    if (current < this.closed) return;
    for (const s of this.byId.values()) {
      const v = viewers.get(s.id);
      const c = concurrency.get(s.id);
      if (v !== undefined) s.viewersSeenAt = now;
      if (c !== undefined) s.concurrencySeenAt = now;
      const reportViewers = now - s.viewersSeenAt < this.horizonMs;
      const reportConcurrency = now - s.concurrencySeenAt < this.horizonMs;
      if (!reportViewers && !reportConcurrency) continue;
      const agg = this.windowFor(s, current);
      if (reportViewers) agg.viewers = v ?? 0;
      if (reportConcurrency) agg.concurrency = c ?? 0;
    }
  }

  /**
   * Counts a new point against the tenant's points budget. Beyond it a dimension series does not take the sample
   * (it stays in its region's point); the region series always does, so that nothing accepted is lost — the
   * collectors refuse the tenant's next batches until the window ends instead.
   */
  private newPoint(usage: TenantUsage, now: number, target: number): boolean {
    if (this.budgets.takePoint(usage, now) || target === 0) return true;
    this.budgets.exceeded(usage, 'points/folded');
    return false;
  }

  /** Updates who is live; returns NEW_SESSION | NEW_ERROR for the sample's window. */
  private observe(tenant: string, s: Sample, w: number, receivedAt: number, live: boolean): number {
    const interval = s.interval_ms ?? DEFAULT_INTERVAL_MS;
    if (s.session !== undefined) {
      return this.liveness.sessionOf(this.scratchSession, tenant, s.session, this.targetIds, w, receivedAt, interval, s.error !== undefined, live);
    }
    if (s.node !== undefined) {
      if (live) this.liveness.node(tenant, s.node, this.targetIds, s.ts, receivedAt, interval, s.concurrency);
      return 0;
    }
    // An anonymous beacon cannot be de-duplicated: it counts as its own session.
    return NEW_SESSION | (s.error !== undefined ? NEW_ERROR : 0);
  }

  private evict(below: number, now: number): void {
    this.floor = Math.max(this.floor, below);
    for (const [w, list] of this.byWindow) {
      if (w >= below) continue;
      for (const s of list) {
        s.windows.delete(w);
        if (s.lastWindow === w) {
          s.lastWindow = -Infinity;
          s.lastAgg = undefined;
        }
        s.merged = undefined;
        const gaugeIdle = now - Math.max(s.viewersSeenAt, s.concurrencySeenAt) >= this.horizonMs;
        if (s.windows.size === 0 && gaugeIdle) this.forget(s);
      }
      this.byWindow.delete(w);
    }
  }

  private windowFor(s: Series, w: number): WindowAgg {
    if (s.lastWindow === w) return s.lastAgg!;
    let agg = s.windows.get(w);
    if (!agg) {
      s.windows.set(w, (agg = new WindowAgg()));
      let list = this.byWindow.get(w);
      if (!list) this.byWindow.set(w, (list = []));
      list.push(s);
    }
    s.lastWindow = w;
    s.lastAgg = agg;
    return agg;
  }

  /**
   * The region series and one series per dimension of the sample, after the cardinality caps and the series
   * budgets: with the tenant's (or the global) budget of series used, a new region folds into the region `other`
   * (created even then: one per tenant beyond the budget, so a sample always has its region series), and a new
   * dimension value into its dimension's `other` when that series exists, else the sample keeps only its region.
   */
  private resolveSeries(tenant: string, s: Sample, now: number): readonly Series[] {
    this.scratchSession = s.session === undefined ? undefined : this.liveness.find(tenant, s.session);
    const route = this.scratchSession && this.routeOf(this.scratchSession, s, now);
    if (route) {
      this.targets = route.series;
      this.targetIds = route.ids;
      this.scratchUsage = route.series[0]!.usage;
      this.routable = false;
      return route.series;
    }
    const out = (this.targets = this.scratch);
    const ids = (this.targetIds = this.scratchIds);
    out.length = 0;
    ids.length = 0;
    let routable = true;
    const usage = (this.scratchUsage = this.budgets.of(tenant));
    const regionSlot = this.caps.admitSlot(tenant, 'region', s.region, now);
    let region = regionSlot ? s.region : OTHER;
    let regions = this.index.get(tenant);
    if (!regions) this.index.set(tenant, (regions = new Map()));
    let node = regions.get(region);
    if (!node?.series && region !== OTHER) {
      const full = this.budgets.seriesFull(usage);
      if (full) {
        this.budgets.exceeded(usage, FOLDED[full]);
        region = OTHER;
        node = regions.get(region);
      }
    }
    if (!node) regions.set(region, (node = { dims: new Map() }));
    node.series ??= this.create(usage, tenant, region);
    if (regionSlot && region === s.region) node.series.slot = regionSlot;
    else routable = false;
    out.push(node.series);
    const dims = s.dims;
    if (dims) {
      for (const dim in dims) {
        const raw = dims[dim as keyof typeof dims];
        if (raw === undefined) continue;
        const slot = this.caps.admitSlot(tenant, dim, raw, now);
        const value = slot ? raw : OTHER;
        let values = node.dims.get(dim);
        let series = values?.get(value);
        if (!series) {
          const full = this.budgets.seriesFull(usage);
          if (full) {
            this.budgets.exceeded(usage, FOLDED[full]);
            routable = false;
            series = values?.get(OTHER);
            if (!series) continue;
          } else {
            if (!values) node.dims.set(dim, (values = new Map()));
            values.set(value, (series = this.create(usage, tenant, region, dim, value)));
          }
        }
        if (slot && series.value === raw) series.slot = slot;
        else routable = false;
        out.push(series);
      }
    }
    for (const t of out) ids.push(t.id);
    this.routable = routable;
    return out;
  }

  /**
   * The series of a session's last samples, when this sample has the same region and dimension values and they
   * still hold: what resolving them again would give (none folded, none released, none forgotten), without its
   * map lookups (five per dimension). Marks the values seen, as admitting them again would.
   */
  private routeOf(session: SessionHandle, s: Sample, now: number): Route | undefined {
    const found = this.liveness.routeOf(session) as Route | undefined;
    if (!found) return undefined;
    const route = found.series;
    const head = route[0]!;
    if (head.gone || head.slot!.released || head.region !== s.region) return undefined;
    let i = 1;
    const dims = s.dims;
    if (dims) {
      for (const dim in dims) {
        const raw = dims[dim as keyof typeof dims];
        if (raw === undefined) continue;
        const t = route[i++];
        if (!t || t.gone || t.slot!.released || t.dim !== dim || t.value !== raw) return undefined;
      }
    }
    if (i !== route.length) return undefined;
    for (const t of route) this.caps.seen(t.slot!, now);
    return found;
  }

  /** Attaches the series just resolved afresh to the session's series list, if they make a route and it has none. */
  private keepRoute(tenant: string, s: Sample): void {
    if (this.routable && s.session !== undefined) this.liveness.attachRoute(tenant, s.session, (): Route => ({ series: this.scratch.slice(), ids: this.scratchIds.slice() }));
  }

  private create(usage: TenantUsage, tenant: string, region: string, dim?: string, value?: string): Series {
    const s: Series = { id: this.nextId++, usage, tenant, region, dim, value, windows: new Map(), lastWindow: -Infinity, lastAgg: undefined, merged: undefined, slot: undefined, gone: false, touched: false, viewersSeenAt: -Infinity, concurrencySeenAt: -Infinity, ruleMemo: undefined };
    this.byId.set(s.id, s);
    this.budgets.seriesAdded(usage);
    return s;
  }

  private forget(s: Series): void {
    s.gone = true;
    this.byId.delete(s.id);
    this.budgets.seriesRemoved(s.usage);
    const regions = this.index.get(s.tenant);
    const node = regions?.get(s.region);
    if (!node) return;
    if (s.dim === undefined) {
      if (node.series === s) node.series = undefined;
    } else {
      const values = node.dims.get(s.dim);
      if (values?.get(s.value!) === s) values.delete(s.value!);
      if (values?.size === 0) node.dims.delete(s.dim);
    }
    if (!node.series && node.dims.size === 0) regions!.delete(s.region);
  }
}

/** A session's series as last resolved afresh, with their ids (see `routeOf`). */
interface Route {
  readonly series: readonly Series[];
  readonly ids: readonly number[];
}

interface RegionNode {
  series?: Series;
  dims: Map<string, Map<string, Series>>;
}

import type { FastifyBaseLogger as Logger } from 'fastify';
import type { EventBus } from '../incidents/bus.js';
import type { Incidents } from '../incidents/incidents.js';
import type { Silences } from '../incidents/silences.js';
import type { IncidentEvent } from '../incidents/model.js';
import type { Metrics } from '../metrics.js';
import { StaleEpochError } from '../storage/state/fences.js';
import type { StateStore } from '../storage/state/store.js';
import type { SeriesKey } from '../telemetry/window-store.js';
import { type AlertEvent, type AlertRow, type EngineOptions, RuleEngine, type SeriesReader } from './engine.js';
import type { Rule } from './rule-schema.js';

export interface AlertingDeps {
  /** The alert rows (state.alerts), stored with their incident changes in one transaction (state.tx). */
  state: Pick<StateStore, 'alerts' | 'tx'>;
  store: SeriesReader & { drainTouched(): readonly SeriesKey[] };
  incidents: Incidents;
  /**
   * When silence coverage can have changed (see Silences.checkDue); absent where another duty re-checks it (a
   * cluster's partition owners: the leader does, once for all of them).
   */
  silences?: Pick<Silences, 'checkDue' | 'checked'>;
  bus: EventBus<IncidentEvent>;
  metrics: Metrics;
  log: Logger;
  clock: () => number;
  /** Tighter levels during planned events, and their expected ends (see EngineOptions). */
  overlay?: EngineOptions['overlay'];
  plannedEnd?: EngineOptions['plannedEnd'];
}

export interface AlertingOptions {
  /** Minimum time between two evaluations: a burst of samples costs one evaluation per group per interval. */
  intervalMs: number;
  /** How often last-seen times and drop baselines are written (alert transitions are written at once). */
  persistEveryMs: number;
}

/**
 * Runs the rule engine in the stream: the first batch after a quiet spell is evaluated at once (setImmediate), later
 * ones are coalesced to one evaluation per interval; a timer keeps `for`, `clear_for`, absent and drop moving when no
 * samples arrive. Each pass stores the alert transitions and their incident changes in one transaction, then
 * publishes the incident events. Passes run one at a time.
 */
export class Alerting {
  readonly engine: RuleEngine;
  private scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** When the last sample-triggered pass ran: the coalescing slot (timer passes do not delay samples). */
  private lastSampleRun = -Infinity;
  private lastPersist = -Infinity;
  private appliedAt: number | undefined;
  /** Transitions whose commit failed, retried with the next pass. */
  private unsaved: AlertEvent[] = [];
  private stopped = false;
  /** The pass running, if any: the next one starts after it. */
  private passes: Promise<unknown> = Promise.resolve();

  /**
   * An evaluation over the alert rows stored before (a restart resumes pending and firing alerts); `owns` picks the
   * rows of the groups this evaluation covers (a cluster's partition owner: its partition's), by default all.
   */
  static async open(deps: AlertingDeps, rules: readonly Rule[], opts: AlertingOptions, owns?: (labels: AlertRow['labels']) => boolean): Promise<Alerting> {
    // Rows this engine wrote: their state is its AlertState.
    const rows = (await deps.state.alerts.load()) as AlertRow[];
    return new Alerting(deps, rules, opts, owns ? rows.filter((r) => owns(r.labels)) : rows);
  }

  private constructor(
    private readonly deps: AlertingDeps,
    rules: readonly Rule[],
    private readonly opts: AlertingOptions,
    restored: AlertRow[],
  ) {
    const startedAt = deps.clock();
    this.engine = new RuleEngine(deps.store, rules, { startedAt, overlay: deps.overlay, plannedEnd: deps.plannedEnd }, restored);
    deps.metrics.rulesLoaded.set(rules.length);
  }

  /** Reports the alert groups and active alerts of these engines on each scrape (one, or a node's partitions'). */
  static bindMetrics(m: Metrics, engines: () => Iterable<RuleEngine>): void {
    (m.alertGroups as unknown as { collect: () => void }).collect = () => {
      let n = 0;
      for (const e of engines()) n += e.groupCount;
      m.alertGroups.set(n);
    };
    (m.alertsActive as unknown as { collect: () => void }).collect = () => {
      const counts: Record<string, number> = { pending: 0, firing: 0, clearing: 0 };
      for (const e of engines()) for (const a of e.alerts()) counts[a.state.status] = (counts[a.state.status] ?? 0) + 1;
      for (const [status, n] of Object.entries(counts)) m.alertsActive.set({ status }, n);
    };
  }

  start(): void {
    this.timer ??= setInterval(() => this.run(), Math.max(this.opts.intervalMs, 100));
  }

  /** Stops the timers and runs a last pass that stores every alert row. */
  stop(): Promise<IncidentEvent[]> {
    this.abandon();
    return this.tick(this.deps.clock(), true);
  }

  /**
   * Stops at once, without a last pass: this evaluation's groups belong to another node now (a lost partition), whose
   * writes would refuse this one's anyway.
   */
  abandon(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.scheduled) {
      clearTimeout(this.scheduled as NodeJS.Timeout);
      clearImmediate(this.scheduled as NodeJS.Immediate);
    }
    this.timer = this.scheduled = undefined;
  }

  /** Samples reached the window store: evaluate now if the last pass was long enough ago, else at the next slot. */
  samplesApplied(): void {
    this.appliedAt ??= performance.now();
    if (this.scheduled || this.stopped) return;
    const wait = this.lastSampleRun + this.opts.intervalMs - this.deps.clock();
    const run = () => {
      this.lastSampleRun = this.deps.clock();
      this.run();
    };
    this.scheduled = wait <= 0 ? setImmediate(run) : setTimeout(run, wait);
  }

  /** Swaps the rule set; alerts of removed rules clear (and may mitigate their incidents). */
  setRules(rules: readonly Rule[]): Promise<IncidentEvent[]> {
    const now = this.deps.clock();
    this.unsaved.push(...this.engine.setRules(rules, now));
    this.deps.metrics.rulesLoaded.set(rules.length);
    return this.tick(now);
  }

  /** One evaluation pass at `now`, after the one running (tests call it directly with an injected clock). */
  tick(now: number, persistAll = false): Promise<IncidentEvent[]> {
    const pass = this.passes.then(() => this.pass(now, persistAll));
    this.passes = pass.catch(() => undefined);
    return pass;
  }

  private async pass(now: number, persistAll: boolean): Promise<IncidentEvent[]> {
    const { metrics, log } = this.deps;
    const end = metrics.evalDuration.startTimer();
    if (this.appliedAt !== undefined) {
      metrics.evalLag.observe((performance.now() - this.appliedAt) / 1000);
      this.appliedAt = undefined;
    }
    this.engine.observe(this.deps.store.drainTouched(), now);
    const events = this.unsaved.concat(this.engine.evaluate(now));
    const all = persistAll || now - this.lastPersist >= this.opts.persistEveryMs;
    const changes = this.engine.takeChanged(all);
    let published: IncidentEvent[] = [];
    try {
      // Most passes change nothing durable: no transaction for them.
      if (events.length || changes.upserts.length || changes.deletes.length) {
        published = await this.deps.state.tx(async (t) => {
          await t.alerts.write(changes, now);
          return this.deps.incidents.applyAlertEvents(events, t);
        });
      }
      this.unsaved = [];
      if (all) this.lastPersist = now;
    } catch (err) {
      if (err instanceof StaleEpochError) {
        // Another node owns these groups now (a cluster partition moved): it evaluates them; stop here.
        log.warn({ fence: err.fence, transitions: events.length }, 'alert state not stored: another node owns these alerts now');
        this.abandon();
        return [];
      }
      // The engine moved on but the store did not: keep the transitions and retry with the next pass.
      this.unsaved = events;
      this.engine.requeue(changes);
      log.error({ err, transitions: events.length }, 'cannot store alert state; retrying');
    }
    // Only when a silence can have started or ended: not a read of every incident on every pass.
    if (this.deps.silences) published.push(...(await this.deps.incidents.refreshSilencesIfDue(this.deps.silences, now)));
    metrics.evaluations.inc();
    for (const e of events) metrics.alertTransitions.inc({ type: e.type });
    for (const e of published) this.deps.bus.emit(e);
    end();
    return published;
  }

  private run(): void {
    this.scheduled = undefined;
    this.tick(this.deps.clock()).catch((err: unknown) => this.deps.log.error({ err }, 'rule evaluation failed'));
  }
}

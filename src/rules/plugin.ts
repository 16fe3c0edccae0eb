import { existsSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Duty } from '../coordination/leadership.js';
import { ConfigError, type Env } from '../config/env.js';
import type { Metrics } from '../metrics.js';
import { windowsRead } from './windows-read.js';
import { Alerting } from './alerting.js';
import { RuleError, type RuleSet, loadRuleDir } from './load.js';
import type { Rule } from './rule-schema.js';

declare module 'fastify' {
  interface FastifyInstance {
    alerting: Alerting;
    rules: RuleDir;
  }
}

export const DEFAULT_RULES_DIR = './alert-rules';

export type ReloadResult = { ok: true; rules: number; files: readonly string[] } | { ok: false; problems: readonly string[] };

/** The rules directory in force and its reload (SIGHUP, POST /v1/admin/rules/reload). */
export interface RuleDir {
  readonly dir: string | undefined;
  readonly files: readonly string[];
  /** The rules in force. */
  readonly current: readonly Rule[];
  reload(): Promise<ReloadResult>;
  /** Called with the new rules after each successful reload (a cluster's partition owners swap theirs). */
  onReload(fn: (rules: readonly Rule[]) => Promise<void>): void;
}

/**
 * Loads the rules (a broken file stops the start, naming file, rule and field) and runs the streaming evaluation:
 * every batch the pipeline aggregates schedules a pass.
 */
export const rulesPlugin = fp<{ env: Env; metrics: Metrics; clock: () => number }>(
  async (app, { env, metrics, clock }) => {
    const dir = env.QOSWATCH_RULES_DIR ?? (existsSync(DEFAULT_RULES_DIR) ? DEFAULT_RULES_DIR : undefined);
    const ctx = { windowMs: env.QOSWATCH_WINDOW, horizonMs: env.QOSWATCH_EVAL_HORIZON };
    const cluster = env.QOSWATCH_MODE === 'cluster';
    const load = (): RuleSet => {
      const loaded = dir ? loadRuleDir(dir, ctx) : { rules: [], files: [] };
      // A cluster evaluates each (tenant, region) on the node owning its partition: a group spanning regions or
      // tenants would be split between nodes, each seeing part of it.
      const split = cluster ? loaded.rules.filter((r) => !r.groupBy.includes('tenant') || !r.groupBy.includes('region')) : [];
      if (split.length) throw new RuleError(split.map((r) => `rule ${r.id}: group_by must include tenant and region in a cluster (QOSWATCH_MODE=cluster evaluates each region on one node)`));
      return loaded;
    };
    let set: RuleSet;
    try {
      set = load();
    } catch (err) {
      if (err instanceof RuleError) throw new ConfigError(`invalid alert rules (QOSWATCH_RULES_DIR=${dir}):\n  ${err.problems.join('\n  ')}`);
      throw err;
    }
    // Closed windows no rule reads are released: they are most of the memory at many series.
    const retain = (r: RuleSet) => app.pipeline.store.setRetention(windowsRead(r.rules, env.QOSWATCH_WINDOW));
    retain(set);
    if (!dir) app.log.warn(`no ${DEFAULT_RULES_DIR} directory and QOSWATCH_RULES_DIR is not set: no alert rules are evaluated`);
    else app.log.info({ dir, rules: set.rules.length, files: set.files.length }, 'alert rules loaded');

    const alerting = await Alerting.open(
      { state: app.state, store: app.pipeline.store, incidents: app.incidents, silences: app.silences, bus: app.incidentBus, metrics, log: app.log, clock, overlay: app.eventOverlay.levelsFor, plannedEnd: app.eventOverlay.plannedEnd },
      set.rules,
      { intervalMs: env.QOSWATCH_EVAL_INTERVAL, persistEveryMs: 5000 },
    );
    const listeners: ((rules: readonly Rule[]) => Promise<void>)[] = [];
    const rules: RuleDir = {
      dir,
      get files() {
        return set.files;
      },
      get current() {
        return set.rules;
      },
      onReload(fn) {
        listeners.push(fn);
      },
      async reload() {
        // Whatever goes wrong (a bad file, or a fault of ours), the rules in force stay and the process runs on.
        let next: RuleSet;
        try {
          next = load();
        } catch (err) {
          const problems = err instanceof RuleError ? err.problems : [`${dir}: cannot load the rules: ${err instanceof Error ? err.message : String(err)}`];
          if (!(err instanceof RuleError)) app.log.error({ err }, 'rule reload failed');
          metrics.ruleReloads.inc({ outcome: 'rejected' });
          app.log.warn({ problems }, 'rule reload rejected; the previous rules stay in force');
          return { ok: false, problems };
        }
        set = next;
        retain(set);
        // The embedded engine takes them at once; a cluster node's keeps them for reading (runbooks, the API), and its
        // partition owners take them from the listeners.
        if (app.embedded) await alerting.setRules(set.rules);
        else alerting.engine.setRules(set.rules, clock());
        for (const fn of listeners) await fn(set.rules);
        metrics.ruleReloads.inc({ outcome: 'ok' });
        app.log.info({ rules: set.rules.length }, 'alert rules reloaded');
        return { ok: true, rules: set.rules.length, files: set.files };
      },
    };
    app.pipeline.onApplied(() => alerting.samplesApplied());
    app.decorate('alerting', alerting);
    app.decorate('rules', rules);
    // Only the embedded pipeline's engine evaluates (a cluster's windows are on the partition owners: worker/), and
    // re-checks silence coverage on its passes; in a cluster the leader does that, once for every partition.
    if (!app.embedded) app.leadership.duty('silence coverage', silenceCoverage(app, clock));
    if (app.embedded) {
      Alerting.bindMetrics(metrics, () => [alerting.engine]);
      app.addHook('onReady', async () => alerting.start());
      // Registered after the pipeline, so this runs before its shutdown: the last pass's events reach its final tick.
      app.addHook('onClose', async () => alerting.stop());
    }
  },
  { name: 'qoswatch-rules', dependencies: ['qoswatch-coordination', 'qoswatch-pipeline', 'qoswatch-incidents', 'qoswatch-events'] },
);

/** How often a cluster's leader looks whether a silence started or ended (the embedded engine does on each pass). */
const SILENCE_CHECK_MS = 1000;

/** The leader's re-check of the silenced flags, when a silence can have started or ended. */
function silenceCoverage(app: FastifyInstance, clock: () => number): Duty {
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  const check = async () => {
    if (running) return;
    running = true;
    try {
      for (const e of await app.incidents.refreshSilencesIfDue(app.silences, clock())) app.incidentBus.emit(e);
    } catch (err) {
      app.log.error({ err }, 'cannot re-check silence coverage; retrying');
    } finally {
      running = false;
    }
  };
  return {
    start: () => {
      timer = setInterval(() => void check(), SILENCE_CHECK_MS);
    },
    stop: () => clearInterval(timer),
  };
}

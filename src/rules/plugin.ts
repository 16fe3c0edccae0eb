import { existsSync } from 'node:fs';
import fp from 'fastify-plugin';
import { ConfigError, type Env } from '../config/env.js';
import type { Metrics } from '../metrics.js';
import { windowsRead } from './windows-read.js';
import { Alerting } from './alerting.js';
import { RuleError, type RuleSet, loadRuleDir } from './load.js';

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
  reload(): Promise<ReloadResult>;
}

/**
 * Loads the rules (a broken file stops the start, naming file, rule and field) and runs the streaming evaluation:
 * every batch the pipeline aggregates schedules a pass.
 */
export const rulesPlugin = fp<{ env: Env; metrics: Metrics; clock: () => number }>(
  async (app, { env, metrics, clock }) => {
    const dir = env.QOSWATCH_RULES_DIR ?? (existsSync(DEFAULT_RULES_DIR) ? DEFAULT_RULES_DIR : undefined);
    const ctx = { windowMs: env.QOSWATCH_WINDOW, horizonMs: env.QOSWATCH_EVAL_HORIZON };
    const load = (): RuleSet => (dir ? loadRuleDir(dir, ctx) : { rules: [], files: [] });
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
    const rules: RuleDir = {
      dir,
      get files() {
        return set.files;
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
        // The worker's engine takes them at once; another node only keeps them for reading (runbooks, the API).
        if (app.isWorker) await alerting.setRules(set.rules);
        else alerting.engine.setRules(set.rules, clock());
        metrics.ruleReloads.inc({ outcome: 'ok' });
        app.log.info({ rules: set.rules.length }, 'alert rules reloaded');
        return { ok: true, rules: set.rules.length, files: set.files };
      },
    };
    app.pipeline.onApplied(() => alerting.samplesApplied());
    app.decorate('alerting', alerting);
    app.decorate('rules', rules);
    // Only the worker evaluates (a cluster node without the role holds no windows; its engine must not clear alerts).
    if (app.isWorker) app.addHook('onReady', async () => alerting.start());
    // Registered after the pipeline, so this runs before its shutdown: the last pass's events reach its final tick.
    if (app.isWorker) app.addHook('onClose', async () => alerting.stop());
  },
  { name: 'qoswatch-rules', dependencies: ['qoswatch-coordination', 'qoswatch-pipeline', 'qoswatch-incidents', 'qoswatch-events'] },
);

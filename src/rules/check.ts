import { ConfigError, loadEnv } from '../config/env.js';
import { formatDuration } from '../util/units.js';
import { RuleError, loadRuleDir } from './load.js';
import { DEFAULT_RULES_DIR } from './plugin.js';

/** `qoswatch rules check [dir]`: validates against the aggregation window and horizon the service would use. */
export function checkRules(dirArg: string | undefined): number {
  let ctx;
  let dir = dirArg;
  try {
    const env = loadEnv();
    ctx = { windowMs: env.QOSWATCH_WINDOW, horizonMs: env.QOSWATCH_EVAL_HORIZON };
    dir ??= env.QOSWATCH_RULES_DIR ?? DEFAULT_RULES_DIR;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`qoswatch: ${err.message}\n`);
    return 2;
  }
  try {
    const set = loadRuleDir(dir, ctx);
    if (set.files.length === 0) {
      process.stderr.write(`${dir}: no rule files (*.yaml, *.yml)\n`);
      return 1;
    }
    const kinds = set.rules.reduce<Record<string, number>>((acc, r) => ((acc[r.kind] = (acc[r.kind] ?? 0) + 1), acc), {});
    process.stdout.write(
      `${dir}: ${set.rules.length} rules in ${set.files.length} file(s) are valid (${Object.entries(kinds).map(([k, n]) => `${n} ${k}`).join(', ')}; ` +
        `window ${formatDuration(ctx.windowMs)}, horizon ${formatDuration(ctx.horizonMs)})\n`,
    );
    return 0;
  } catch (err) {
    if (!(err instanceof RuleError)) throw err;
    process.stderr.write(`${err.problems.length} problem(s):\n  ${err.problems.join('\n  ')}\n`);
    return 1;
  }
}

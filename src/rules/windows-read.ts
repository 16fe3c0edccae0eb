import type { Rule } from './rule-schema.js';

/**
 * How many closed aggregation windows the rules read back: a threshold rule its window's worth, a drop rule the
 * last two (its baseline is kept by the rule itself, window by window), an absent rule with a `min_baseline` the
 * last three (it records the audience of each window once the window has filled), else none (it reads when a
 * series was last seen). The window store keeps no more than this.
 */
export function windowsRead(rules: readonly Rule[], windowMs: number): number {
  let n = 1;
  for (const r of rules) {
    if (r.kind === 'threshold') n = Math.max(n, Math.ceil(r.windowMs / windowMs));
    else if (r.kind === 'drop') n = Math.max(n, 2);
    else if (r.minBaseline > 0) n = Math.max(n, 3);
  }
  return n;
}

import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRuleDir } from '../../src/rules/load.js';
import type { Rule } from '../../src/rules/rule-schema.js';
import { windowsRead } from '../../src/rules/windows-read.js';

const W = 10_000;
const threshold = (windowMs: number) => ({ kind: 'threshold', windowMs }) as unknown as Rule;

describe('windowsRead', () => {
  it('is the longest threshold window in aggregation windows, at least 1', () => {
    expect(windowsRead([], W)).toBe(1);
    expect(windowsRead([threshold(60_000), threshold(120_000), threshold(30_000)], W)).toBe(12);
    expect(windowsRead([threshold(15_000)], W)).toBe(2); // a partial window counts whole
  });

  it('needs two windows for a drop rule, three for an absent rule with a min_baseline and none for another', () => {
    expect(windowsRead([{ kind: 'drop', baselineMs: 3_600_000 } as unknown as Rule], W)).toBe(2);
    expect(windowsRead([{ kind: 'absent', lookbackMs: 300_000, minBaseline: 0 } as unknown as Rule], W)).toBe(1);
    expect(windowsRead([{ kind: 'absent', lookbackMs: 300_000, minBaseline: 100 } as unknown as Rule], W)).toBe(3);
  });

  it('the shipped rules read 2 minutes: 12 windows of 10 s, not the 30 of the 5-minute horizon', () => {
    const set = loadRuleDir(resolve('alert-rules'), { windowMs: W, horizonMs: 300_000 });
    expect(windowsRead(set.rules, W)).toBe(12);
  });
});

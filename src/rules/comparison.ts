/** A threshold written as a comparison: "> 0.05", ">= 800", "< 0.9", "<= 10". Percent values ("30%") mean /100. */
export interface Comparison {
  readonly op: '>' | '>=' | '<' | '<=';
  readonly value: number;
  /** As written, for messages and the timeline. */
  readonly text: string;
}

// Matched against trimmed text: a `\s*` on both sides of an optional `%` backtracked quadratically (4.6 s on 100 KB).
const PATTERN = /^(>=|<=|>|<)\s*(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)\s*(%)?$/i;

export function parseComparison(text: string): Comparison | undefined {
  const m = PATTERN.exec(text.trim());
  if (!m) return undefined;
  const value = Number(m[2]) / (m[3] ? 100 : 1);
  return Number.isFinite(value) ? { op: m[1] as Comparison['op'], value, text: text.trim() } : undefined;
}

export function holds(c: Comparison, x: number): boolean {
  switch (c.op) {
    case '>': return x > c.value;
    case '>=': return x >= c.value;
    case '<': return x < c.value;
    case '<=': return x <= c.value;
  }
}

/** "Upward" comparisons fire on high values (> / >=), "downward" on low ones. */
export const isUpward = (c: Comparison) => c.op === '>' || c.op === '>=';

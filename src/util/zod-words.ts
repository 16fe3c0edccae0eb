import type { z } from 'zod';

/** A value as a person would name it in a message: `the number 60`, `the text "20"`, `a list`. */
export function describeValue(v: unknown): string {
  if (v === null) return 'nothing (null)';
  if (typeof v === 'string') return `the text ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean') return `the ${typeof v} ${String(v)}`;
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

const EXPECTED: Record<string, string> = {
  string: 'text', number: 'a number', int: 'a whole number', boolean: 'true or false', array: 'a list',
  object: 'a mapping (field: value)', record: 'a mapping (field: value)',
};

/**
 * A zod error map that words messages for people editing a file: "is required", "must be a number (got the text
 * "20")", "must be one of a, b (got …)" rather than zod's "Invalid input: expected string, received undefined".
 * Messages a schema gives itself win over these.
 */
export const inWords = (iss: z.core.$ZodRawIssue): string | undefined => {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return 'is required';
      return `must be ${EXPECTED[iss.expected] ?? iss.expected} (got ${describeValue(iss.input)})`;
    case 'invalid_value':
      if (iss.input === undefined) return `is required (one of ${iss.values.join(', ')})`;
      return `must be ${iss.values.length === 1 ? String(iss.values[0]) : `one of ${iss.values.join(', ')}`} (got ${describeValue(iss.input)})`;
    case 'too_small':
    case 'too_big': {
      const n = Number(iss.code === 'too_small' ? iss.minimum : iss.maximum);
      const least = iss.code === 'too_small';
      if (iss.origin === 'string') return least && n === 1 ? 'must not be empty' : `must be ${least ? 'at least' : 'at most'} ${n} characters`;
      if (iss.origin === 'array') return least && n === 1 ? 'must list at least one item' : `must list ${least ? 'at least' : 'at most'} ${n} items`;
      if (iss.origin === 'number') return `must be ${least ? (iss.inclusive ? 'at least' : 'more than') : iss.inclusive ? 'at most' : 'less than'} ${n}`;
      return undefined;
    }
    default:
      return undefined;
  }
};

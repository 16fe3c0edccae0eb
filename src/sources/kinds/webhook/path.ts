/**
 * Field paths of the generic webhook's mapping: `alert.labels.host`, `events[0].id`, `data["host name"]`. A safe
 * subset of JSONPath written by the admin — names and indexes only, nothing evaluated.
 */
const STEP = /^(?:\.?([A-Za-z_$][\w$-]*)|\[(\d+)\]|\["([^"\\]*)"\])/;

/** Parses a path into its steps; undefined when it is not one. */
export function parsePath(path: string): (string | number)[] | undefined {
  const steps: (string | number)[] = [];
  let rest = path.startsWith('$') ? path.slice(1) : path;
  while (rest.length) {
    const m = STEP.exec(rest);
    if (!m || (steps.length === 0 && m[0].startsWith('.') && path[0] !== '$')) return undefined;
    steps.push(m[2] !== undefined ? Number(m[2]) : (m[1] ?? m[3])!);
    rest = rest.slice(m[0].length);
  }
  return steps;
}

/** The value at `steps` in a parsed JSON body; undefined where a step is missing. */
export function readPath(value: unknown, steps: readonly (string | number)[]): unknown {
  let v = value;
  for (const s of steps) {
    if (v === null || typeof v !== 'object') return undefined;
    if (typeof s === 'number' ? !Array.isArray(v) : !Object.hasOwn(v, s)) return undefined;
    v = (v as Record<string | number, unknown>)[s];
  }
  return v;
}

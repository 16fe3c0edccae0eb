import { z } from 'zod';

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_UNITS: Record<string, number> = {
  b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3,
};

/**
 * The longest text a duration, size or rate may have. The patterns below match in linear time (the earlier ones,
 * with a `\s*` on both sides of an optional unit, took 5 s on 100 KB of spaces); the bound also keeps the work and
 * the error messages that quote a value small.
 */
export const MAX_UNIT_TEXT = 64;
const TOO_LONG = `must be at most ${MAX_UNIT_TEXT} characters`;

/** Parses "500ms", "10s", "5m", "1h", "2d" or a bare number of milliseconds. */
export function parseDuration(text: string): number | undefined {
  if (text.length > MAX_UNIT_TEXT) return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i.exec(text.trim());
  if (!m) return undefined;
  const unit = DURATION_UNITS[(m[2] ?? 'ms').toLowerCase()]!;
  return Math.round(Number(m[1]) * unit);
}

/** Parses "5MiB", "1GB", "4096" (bytes). */
export function parseSize(text: string): number | undefined {
  if (text.length > MAX_UNIT_TEXT) return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?$/i.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * SIZE_UNITS[(m[2] ?? 'b').toLowerCase()]!);
}

export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** zod: a duration string or number of ms, as ms, within bounds. */
export const durationSchema = (min: number, max: number) =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    if (tooLong(v, ctx)) return z.NEVER;
    const ms = typeof v === 'number' ? v : parseDuration(v);
    if (ms === undefined || !Number.isFinite(ms)) {
      ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration (use e.g. 500ms, 10s, 5m, 1h)` });
      return z.NEVER;
    }
    if (ms < min || ms > max) {
      ctx.addIssue({ code: 'custom', message: `must be between ${formatDuration(min)} and ${formatDuration(max)}` });
      return z.NEVER;
    }
    return ms;
  });

/** zod: a size string or number of bytes, as bytes, within bounds. */
export const sizeSchema = (min: number, max: number) =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    if (tooLong(v, ctx)) return z.NEVER;
    const bytes = typeof v === 'number' ? v : parseSize(v);
    if (bytes === undefined || !Number.isFinite(bytes)) {
      ctx.addIssue({ code: 'custom', message: `"${v}" is not a size (use e.g. 512KiB, 5MiB, 1GiB)` });
      return z.NEVER;
    }
    if (bytes < min || bytes > max) {
      ctx.addIssue({ code: 'custom', message: `must be between ${min} and ${max} bytes` });
      return z.NEVER;
    }
    return bytes;
  });

/** "2000/1s" → { max: 2000, windowMs: 1000 } */
export const rateSchema = z.string().transform((v, ctx) => {
  if (tooLong(v, ctx)) return z.NEVER;
  const slash = v.indexOf('/');
  const count = slash < 0 ? '' : v.slice(0, slash).trim();
  const max = /^\d+$/.test(count) ? Number(count) : 0;
  const windowMs = slash < 0 ? undefined : parseDuration(v.slice(slash + 1));
  if (max < 1 || !windowMs) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a rate (use e.g. 2000/1s or 600/1m)` });
    return z.NEVER;
  }
  return { max, windowMs };
});

/** Refuses a string value over MAX_UNIT_TEXT before any parsing. */
function tooLong(v: unknown, ctx: z.RefinementCtx): boolean {
  if (typeof v !== 'string' || v.length <= MAX_UNIT_TEXT) return false;
  ctx.addIssue({ code: 'custom', message: TOO_LONG });
  return true;
}
export type Rate = z.output<typeof rateSchema>;

/** Epoch ms as RFC 3339 for API answers (undefined stays undefined). */
export function toIso(ms: number): string;
export function toIso(ms: number | undefined): string | undefined;
export function toIso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

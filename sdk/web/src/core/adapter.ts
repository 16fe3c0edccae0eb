/** What an adapter adds to each interval's sample. */
export interface AdapterFields {
  /** `protocol`, `rendition`… (bounded values: the adapters bucket them). */
  dims?: Record<string, string>;
  latency_ms?: number;
  rtt_ms?: number;
  packets_lost?: number;
  packets_expected?: number;
  /** WebRTC without a <video>: the receiver's own accounting (freezes) instead of painted frames. */
  play_ms?: number;
  stall_ms?: number;
  stall_count?: number;
}

/** How an adapter talks back to the tracker. */
export interface AdapterContext {
  /** A fatal player error (the player gave up), with the player's code. */
  fatal(code: string | number): void;
  /** The player loads a new source: a new playback (new session) begins. */
  newPlayback(): void;
}

/**
 * A player integration. Duck-typed on the player's public API: no adapter imports its player at runtime (the page
 * already has it).
 */
export interface Adapter {
  readonly name: string;
  attach(ctx: AdapterContext): void;
  detach(): void;
  /** Fields for the interval being reported at `now` (epoch ms); deltas since the previous call. */
  collect(now: number): AdapterFields;
}

/** A player's vertical resolution bucketed to the usual ladder, so the `rendition` dimension stays small. */
export function renditionOf(height: number | undefined | null): string | undefined {
  if (typeof height !== 'number' || !(height > 0)) return undefined;
  const ladder = [144, 240, 360, 480, 540, 720, 1080, 1440, 2160];
  for (const h of ladder) if (height <= h * 1.1) return `${h}p`;
  return '4320p';
}

/**
 * A latency in seconds from a player's API as whole ms; undefined for NaN, zero (hls.js says 0 before its first
 * playlist), negatives and absurd values.
 */
export function secondsToMs(s: unknown): number | undefined {
  return typeof s === 'number' && Number.isFinite(s) && s > 0 && s < 600 ? Math.round(s * 1000) : undefined;
}

import type { Sample } from './sample-schema.js';
import { type AnySketch, type LiveSketch, ZERO_KEY, binKey, freeze, isFrozen, mergeInto, newSketch, quantile, sketchCount } from './sketch.js';

/**
 * The aggregate of one (series, window): counters summed, quantiles in sketches, gauges sampled. Ratios are
 * derived from the sums only when read (PRODUCT.md §2: ratios of sums, never averages of ratios).
 */
export class WindowAgg {
  samples = 0;
  sessions = 0;
  errorSessions = 0;
  packetsLost = 0;
  packetsExpected = 0;
  stallMs = 0;
  playMs = 0;
  stallCount = 0;
  latency: AnySketch | undefined;
  rtt: AnySketch | undefined;
  startup: AnySketch | undefined;
  viewers: number | undefined;
  concurrency: number | undefined;

  /**
   * Adds one sample; `newSession`/`newError` say whether its session is counted for the first time here. `keys`
   * are the bin keys of its values (`keysOf`), computed once for all the series the sample goes to.
   */
  add(s: Sample, newSession: boolean, newError: boolean, keys: SampleKeys = keysOf(s)): void {
    this.samples++;
    if (newSession) this.sessions++;
    if (newError) this.errorSessions++;
    if (s.packets_expected !== undefined) {
      this.packetsLost += s.packets_lost!;
      this.packetsExpected += s.packets_expected;
    } else if (s.packet_loss !== undefined) {
      this.packetsLost += s.packet_loss;
      this.packetsExpected += 1;
    }
    if (s.play_ms !== undefined) {
      this.playMs += s.play_ms;
      this.stallMs += s.stall_ms ?? 0;
      this.stallCount += s.stall_count ?? 0;
    }
    if (s.latency_ms !== undefined) (this.latency = live(this.latency)).acceptKeyed(s.latency_ms, keys.latency);
    if (s.rtt_ms !== undefined) (this.rtt = live(this.rtt)).acceptKeyed(s.rtt_ms, keys.rtt);
    if (s.startup_ms !== undefined) (this.startup = live(this.startup)).acceptKeyed(s.startup_ms, keys.startup);
  }

  /** Adds another aggregate (any partition of the samples merges to the same result). Gauges: latest wins. */
  merge(o: WindowAgg): void {
    this.samples += o.samples;
    this.sessions += o.sessions;
    this.errorSessions += o.errorSessions;
    this.packetsLost += o.packetsLost;
    this.packetsExpected += o.packetsExpected;
    this.stallMs += o.stallMs;
    this.playMs += o.playMs;
    this.stallCount += o.stallCount;
    if (o.latency) mergeInto((this.latency = live(this.latency)), o.latency);
    if (o.rtt) mergeInto((this.rtt = live(this.rtt)), o.rtt);
    if (o.startup) mergeInto((this.startup = live(this.startup)), o.startup);
    if (o.viewers !== undefined) this.viewers = o.viewers;
    if (o.concurrency !== undefined) this.concurrency = o.concurrency;
  }

  /** Compacts the sketches once the window has closed. */
  freeze(): void {
    if (this.latency && !isFrozen(this.latency)) this.latency = freeze(this.latency);
    if (this.rtt && !isFrozen(this.rtt)) this.rtt = freeze(this.rtt);
    if (this.startup && !isFrozen(this.startup)) this.startup = freeze(this.startup);
  }

  metrics(): WindowMetrics {
    const m: WindowMetrics = { samples: this.samples, sessions: this.sessions, error_sessions: this.errorSessions };
    if (this.sessions > 0) m.error_rate = this.errorSessions / this.sessions;
    if (this.viewers !== undefined) m.viewers = this.viewers;
    if (this.concurrency !== undefined) m.concurrency = this.concurrency;
    if (this.packetsExpected > 0) {
      m.packets_lost = this.packetsLost;
      m.packets_expected = this.packetsExpected;
      m.packet_loss = this.packetsLost / this.packetsExpected;
    }
    const watched = this.playMs + this.stallMs;
    if (watched > 0) {
      m.play_ms = this.playMs;
      m.stall_ms = this.stallMs;
      m.stall_count = this.stallCount;
      m.stall_ratio = this.stallMs / watched;
      m.stalls_per_min = this.stallCount / (watched / 60_000);
    }
    if (this.latency && sketchCount(this.latency)) {
      m.latency_count = sketchCount(this.latency);
      m.latency_p50 = quantile(this.latency, 0.5);
      m.latency_p95 = quantile(this.latency, 0.95);
      m.latency_p99 = quantile(this.latency, 0.99);
    }
    if (this.rtt && sketchCount(this.rtt)) {
      m.rtt_count = sketchCount(this.rtt);
      m.rtt_p95 = quantile(this.rtt, 0.95);
    }
    if (this.startup && sketchCount(this.startup)) {
      m.startup_count = sketchCount(this.startup);
      m.startup_p50 = quantile(this.startup, 0.5);
      m.startup_p95 = quantile(this.startup, 0.95);
    }
    return m;
  }
}

/** The bin keys of a sample's sketch values (ZERO_KEY where it has none). */
export interface SampleKeys {
  latency: number;
  rtt: number;
  startup: number;
}

/** Fills `into` (reused per sample by the store, so the hot path allocates nothing) with the keys of `s`. */
export function keysOf(s: Sample, into: SampleKeys = { latency: ZERO_KEY, rtt: ZERO_KEY, startup: ZERO_KEY }): SampleKeys {
  into.latency = s.latency_ms === undefined ? ZERO_KEY : binKey(s.latency_ms);
  into.rtt = s.rtt_ms === undefined ? ZERO_KEY : binKey(s.rtt_ms);
  into.startup = s.startup_ms === undefined ? ZERO_KEY : binKey(s.startup_ms);
  return into;
}

/** Turns a frozen sketch back into a live one when a late sample updates a closed window. */
function live(s: AnySketch | undefined): LiveSketch {
  if (s === undefined) return newSketch();
  if (!isFrozen(s)) return s;
  const l = newSketch();
  mergeInto(l, s);
  return l;
}

/** The metrics of PRODUCT.md §2 for one aggregate, plus the sums they come from. */
export interface WindowMetrics {
  samples: number;
  sessions: number;
  error_sessions: number;
  error_rate?: number;
  viewers?: number;
  concurrency?: number;
  packets_lost?: number;
  packets_expected?: number;
  packet_loss?: number;
  play_ms?: number;
  stall_ms?: number;
  stall_count?: number;
  stall_ratio?: number;
  stalls_per_min?: number;
  latency_count?: number;
  latency_p50?: number;
  latency_p95?: number;
  latency_p99?: number;
  rtt_count?: number;
  rtt_p95?: number;
  startup_count?: number;
  startup_p50?: number;
  startup_p95?: number;
}

/** Merges windows in chronological order into one aggregate. */
export function combine(aggs: Iterable<WindowAgg>): WindowAgg {
  const out = new WindowAgg();
  for (const a of aggs) out.merge(a);
  return out;
}

/**
 * The playback state machine: timestamped inputs in, per-interval accounting out. No DOM and no clock of its own —
 * every input carries its time (epoch ms), so tests drive it with fake clocks and fake frame callbacks.
 *
 * A stall (the contract shared with the real-player tests): while playing (not paused, ended or seeking; after the
 * first painted frame) and visible, a gap between painted frames longer than 500 ms; its duration is the whole gap.
 * Seeks (from play) and hidden time are neither play nor stall; a pause, a hide or the end ends a stall under way. Painted frames, not the playhead: Chromium keeps playing audio
 * (moving currentTime) for seconds after video runs dry, so a playhead-based reporter undercounts stalls.
 */

export const STALL_GAP_MS = 500;

/** One interval's accounting, aligned to the wall clock (ts = floor(t / interval) * interval). */
export interface IntervalReport {
  ts: number;
  interval_ms: number;
  play_ms: number;
  stall_ms: number;
  stall_count: number;
  startup_ms?: number;
  error?: string;
}

/**
 * Error codes. Every one counts in error_rate (sessions with a fatal error / sessions seen), and the prefix tells the
 * three apart: a viewer who asked to play and left before the first frame, a fatal error before the first frame,
 * a fatal error after it.
 */
export const EXIT_BEFORE_START = 'exit_before_start';
export const START_FAILED = 'start_failed';
export const PLAY_FAILED = 'play_failed';

/** A player's error code made a valid sample value: tag-safe, at most 64 characters with its prefix. */
export function errorCode(prefix: string, code: string | number | undefined): string {
  const c = String(code ?? 'unknown').replace(/[\x00-\x1f\x7f\\]/g, '').slice(0, 63 - prefix.length);
  return c ? `${prefix}:${c}` : prefix;
}

interface Acc {
  play: number;
  stall: number;
  count: number;
  startup?: number;
  error?: string;
  /** The viewer was watching (or waiting for the start) during the interval: report it even with zero play. */
  seen: boolean;
}

const fresh = (): Acc => ({ play: 0, stall: 0, count: 0, seen: false });

export class Playback {
  private readonly interval: number;
  private start: number;
  /** Start of the part of the interval not reported yet (a cut reports part of an interval early). */
  private from: number;
  private acc: Acc = fresh();
  private readonly out: IntervalReport[] = [];
  private last: number;

  /** First play request still waiting for its first frame (cleared by a pause before the start). */
  private requestAt: number | undefined;
  private started = false;
  private paused = true;
  private inSeek = false;
  /** A seek began during a stall: the stall goes on through it (see seeking). */
  private seekInStall = false;
  private isEnded = false;
  private hidden = false;
  private failed = false;
  private errorReported = false;
  private finished = false;

  /** Start of the open gap between painted frames, when active; undefined while waiting for a frame after a seek. */
  private anchor: number | undefined;
  /** How far the open gap is already booked as stall (an interval boundary fell inside a long gap). */
  private bookedTo = 0;
  private stallCounted = false;

  constructor(now: number, intervalMs: number, hidden = false) {
    this.interval = intervalMs;
    this.start = this.from = Math.floor(now / intervalMs) * intervalMs;
    this.last = now;
    this.hidden = hidden;
  }

  get isStarted(): boolean {
    return this.started;
  }

  private get active(): boolean {
    return this.started && !this.paused && !this.inSeek && !this.isEnded && !this.hidden && !this.failed;
  }

  private get waitingForStart(): boolean {
    return this.requestAt !== undefined && !this.started && !this.failed;
  }

  /** Clamps time to be monotonic and closes every interval that ended before `t`. */
  private at(t: number): number {
    if (this.finished) return t;
    if (t < this.last) t = this.last;
    this.last = t;
    while (t >= this.start + this.interval) this.roll(this.start + this.interval);
    return t;
  }

  private roll(boundary: number): void {
    if (this.active) {
      this.acc.seen = true;
      // A gap already longer than the threshold is a stall: book it up to the boundary (counted once). A shorter one
      // is undecided: carried into the next interval, where it becomes play or part of a stall, whole.
      if (this.anchor !== undefined && boundary - this.anchor > STALL_GAP_MS) this.bookStall(boundary);
    } else if (this.waitingForStart) this.acc.seen = true;
    this.emit(boundary);
    this.start = this.from = boundary;
  }

  /** Reports the accounting of [from, to) under the interval's start. */
  private emit(to: number): void {
    const a = this.acc;
    const length = Math.max(100, Math.round(to - this.from));
    this.from = to;
    if (a.seen || a.play || a.stall || a.count || a.startup !== undefined || a.error !== undefined) {
      const r: IntervalReport = { ts: this.start, interval_ms: length, play_ms: Math.round(a.play), stall_ms: Math.round(a.stall), stall_count: a.count };
      if (a.startup !== undefined) r.startup_ms = Math.round(a.startup);
      if (a.error !== undefined) r.error = a.error;
      this.out.push(r);
    }
    this.acc = fresh();
  }

  private bookStall(to: number): void {
    this.acc.stall += to - Math.max(this.anchor ?? to, this.bookedTo);
    if (!this.stallCounted) this.acc.count++;
    this.stallCounted = true;
    this.bookedTo = to;
  }

  /** Ends the open gap at `t`: a stall when longer than the threshold, play otherwise. */
  private closeGap(t: number): void {
    if (this.anchor !== undefined) {
      if (t - this.anchor > STALL_GAP_MS) this.bookStall(t);
      else this.acc.play += t - this.anchor;
    }
    this.openGap(undefined);
  }

  private openGap(t: number | undefined): void {
    this.anchor = t;
    this.bookedTo = t ?? 0;
    this.stallCounted = false;
  }

  /** Applies a state change, closing the gap when activity stops and opening one when it resumes. */
  private change(t: number, apply: (t: number) => void, anchorNow = true): void {
    if (this.finished) return;
    t = this.at(t);
    const was = this.active;
    apply(t);
    const now = this.active;
    if (!now) this.seekInStall = false;
    if (was && !now) this.closeGap(t);
    else if (!was && now) this.openGap(anchorNow ? t : undefined);
    if (now || this.waitingForStart) this.acc.seen = true;
  }

  /** A play request (`play` event, autoplay included). */
  play(t: number): void {
    this.change(t, (at) => {
      if (!this.started && this.requestAt === undefined) this.requestAt = at;
      this.paused = false;
      this.isEnded = false;
    });
  }

  /** `playing`: not paused any more (covers a tracker attached after the play request). */
  playing(t: number): void {
    this.change(t, () => {
      this.paused = false;
    });
  }

  pause(t: number): void {
    this.change(t, () => {
      this.paused = true;
      // A start paused before its first frame (autoplay refused, say) is not a start still waiting
      if (!this.started) this.requestAt = undefined;
    });
  }

  /**
   * A seek during play is neither play nor stall: activity resumes at the first frame painted after it. A seek that
   * starts during a stall does not end the stall, which lasts until a frame is painted after the seek: players seek
   * by themselves to escape stalls (dash.js's stall fix, hls.js's nudges), and the picture stays frozen throughout.
   */
  seeking(t: number): void {
    if (this.finished) return;
    t = this.at(t);
    if (this.active && this.anchor !== undefined && t - this.anchor > STALL_GAP_MS) {
      this.seekInStall = true;
      return;
    }
    this.change(t, () => {
      this.inSeek = true;
    });
  }

  seeked(t: number): void {
    if (this.seekInStall) {
      this.at(t);
      this.seekInStall = false;
      return;
    }
    this.change(t, () => {
      this.inSeek = false;
    }, false);
  }

  ended(t: number): void {
    this.change(t, () => {
      this.isEnded = true;
    });
  }

  visibility(t: number, visible: boolean): void {
    this.change(t, () => {
      this.hidden = !visible;
    });
  }

  /** A fatal error: reported once per playback, as a start or a playback failure. */
  error(t: number, code: string | number | undefined): void {
    this.change(t, () => {
      if (!this.errorReported) {
        this.acc.error = errorCode(this.started ? PLAY_FAILED : START_FAILED, code);
        this.errorReported = true;
      }
      this.failed = true;
    });
  }

  /** The tracker attached to a video already playing: no startup to measure, accounting starts now. */
  alreadyPlaying(t: number): void {
    this.change(t, () => {
      this.started = true;
      this.paused = false;
    });
  }

  /** A painted frame (requestVideoFrameCallback) at `t`. */
  frame(t: number): void {
    if (this.finished) return;
    t = this.at(t);
    if (!this.started) {
      if (this.requestAt === undefined || this.paused || this.inSeek) return;
      this.acc.startup = t - this.requestAt;
      this.requestAt = undefined;
      this.change(t, () => {
        this.started = true;
      });
      return;
    }
    // the seek's own target frame, painted before it is done: the stall goes on
    if (this.seekInStall) return;
    if (this.failed && !this.paused && !this.inSeek && !this.isEnded) {
      // the player recovered from its fatal error: frames again
      this.change(t, () => {
        this.failed = false;
      });
      return;
    }
    if (!this.active) return;
    if (this.anchor !== undefined) this.closeGap(t);
    this.openGap(t);
    this.acc.seen = true;
  }

  /** A wall-clock tick: closes the intervals that have ended. */
  tick(t: number): void {
    this.at(t);
  }

  /**
   * Closes the partial interval now (the page is being hidden: it may never come back). Accounting goes on into
   * the rest of the interval if it does; the sums stay right, the interval just reports in two samples.
   */
  cut(t: number): void {
    if (this.finished) return;
    t = this.at(t);
    if (this.active && this.anchor !== undefined && t - this.anchor > STALL_GAP_MS) this.bookStall(t);
    this.emit(t);
  }

  /**
   * The end of the playback (page hidden for good, stop, a new source): books the open gap, reports an exit before
   * the start, closes the partial interval. Nothing is accounted after it.
   */
  end(t: number): void {
    if (this.finished) return;
    t = this.at(t);
    if (this.active) this.closeGap(t);
    if (this.waitingForStart && !this.errorReported) {
      this.acc.error = EXIT_BEFORE_START;
      this.errorReported = true;
    }
    this.emit(t);
    this.finished = true;
  }

  /** The intervals closed since the last call. */
  take(): IntervalReport[] {
    return this.out.splice(0);
  }
}

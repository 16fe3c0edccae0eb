import { type Adapter, type AdapterFields, renditionOf } from './core/adapter.js';
import { type IntervalReport, Playback } from './core/playback.js';
import { Transport } from './core/transport.js';

export const VERSION = '0.1.0';
export const SDK = `qoswatch-web/${VERSION}`;

/** The dimensions qoswatch accepts in a sample (an unknown one would get every sample refused). */
const DIMS = ['isp', 'cdn', 'platform', 'country', 'sdk', 'protocol', 'rendition'];

export interface TrackOptions {
  /** Base URL of qoswatch: samples go to `${endpoint}/v1/telemetry?key=…`. */
  endpoint: string;
  /** The ingest key (public by nature: it is in every player). */
  key: string;
  region: string;
  stream?: string;
  /** Interval length, aligned to the wall clock (default 10 000 ms). */
  intervalMs?: number;
  /** Share of playbacks reported, 0..1, decided once per playback (default 1). */
  sampleRate?: number;
  /** Static dimensions: cdn, platform… */
  dims?: Record<string, string>;
  adapter?: Adapter;
}

export interface Tracker {
  /** The current playback's id: a random UUID, the `session` of its samples. */
  readonly session: string;
  /** Final flush (as on page hide) and detach. */
  stop(): void;
}

/** Tag-safe text of at most 64 characters, or undefined. */
function tag(v: unknown): string | undefined {
  if (typeof v !== 'string' && typeof v !== 'number') return undefined;
  const s = String(v).replace(/[\x00-\x1f\x7f\\]/g, '').slice(0, 64);
  return s || undefined;
}

function uuid(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

type FrameVideo = HTMLVideoElement & { requestVideoFrameCallback?(cb: (now: number) => void): number; cancelVideoFrameCallback?(h: number): void };

/**
 * Tracks one <video> (or, with `video` null, a WebRTC peer connection through its adapter). Thin: it turns DOM
 * events and painted-frame callbacks into the core's inputs, and the core's intervals into samples.
 */
export function track(video: HTMLVideoElement | null, o: TrackOptions): Tracker {
  if (!o || !o.endpoint || !o.key || !tag(o.region)) throw new TypeError('qoswatch.track: endpoint, key and region are required');
  const interval = Math.max(1000, Math.round(Number(o.intervalMs) || 10_000));
  const sampleRate = o.sampleRate ?? 1;
  const region = tag(o.region)!;
  const stream = tag(o.stream);
  const staticDims: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.dims ?? {})) if (DIMS.includes(k) && tag(v)) staticDims[k] = tag(v)!;
  const adapter = o.adapter;
  const v = video as FrameVideo | null;
  // Without painted-frame callbacks there are no stall data rather than wrong ones (the playhead lies, see README)
  const frames = !v || typeof v.requestVideoFrameCallback === 'function';

  // One clock for events and frames: rVFC's `now` is on the performance timeline
  const origin = performance.timeOrigin;
  const clock = () => origin + performance.now();
  const visible = () => document.visibilityState !== 'hidden';

  const transport = new Transport(
    { url: `${o.endpoint.replace(/\/+$/, '')}/v1/telemetry?key=${encodeURIComponent(o.key)}`, sdk: SDK, intervalMs: interval },
    {
      now: clock,
      random: Math.random,
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
      async post(url, body) {
        const r = await fetch(url, { method: 'POST', body, keepalive: true, credentials: 'omit', headers: { 'content-type': 'text/plain' } });
        return { status: r.status, retryAfter: r.headers.get('retry-after') };
      },
      beacon: (url, body) => typeof navigator.sendBeacon === 'function' && navigator.sendBeacon(url, new Blob([body], { type: 'text/plain' })),
    },
  );

  let session = '';
  let sampled = true;
  let core!: Playback;
  /** Playback has been requested or started in this session (a reset before that is no new playback). */
  let used = false;
  /** The page was hidden and flushed; the next hide (or pagehide) flushes again only after it came back. */
  let flushed = false;
  let stopped = false;

  function begin(): void {
    session = uuid();
    sampled = Math.random() < sampleRate;
    core = new Playback(clock(), interval, !visible());
    used = false;
  }

  function sampleOf(r: IntervalReport, f: AdapterFields): Record<string, unknown> | undefined {
    const dims: Record<string, string> = { ...staticDims };
    for (const [k, val] of Object.entries(f.dims ?? {})) if (DIMS.includes(k) && tag(val)) dims[k] = tag(val)!;
    // the picture's own height when the player names no level (a media playlist without a master, a plain <video>)
    if (!dims.rendition && v) {
      const r = renditionOf(v.videoHeight);
      if (r) dims.rendition = r;
    }
    const s: Record<string, unknown> = { ts: Math.round(r.ts), interval_ms: r.interval_ms, region, session };
    if (stream) s.stream = stream;
    if (Object.keys(dims).length) s.dims = dims;
    if (!v) {
      // WebRTC only: the receiver's own play/freeze accounting
      if (f.play_ms !== undefined) Object.assign(s, { play_ms: f.play_ms, stall_ms: f.stall_ms ?? 0, stall_count: f.stall_count ?? 0 });
    } else if (frames) Object.assign(s, { play_ms: r.play_ms, stall_ms: r.stall_ms, stall_count: r.stall_count });
    if (r.startup_ms !== undefined) s.startup_ms = r.startup_ms;
    if (r.error !== undefined) s.error = r.error;
    // latency of a viewer who is not watching yet (loading) is the player's guess, not what anyone saw
    if (f.latency_ms !== undefined && (r.play_ms > 0 || r.stall_ms > 0 || !v)) s.latency_ms = f.latency_ms;
    if (f.rtt_ms !== undefined) s.rtt_ms = f.rtt_ms;
    if (f.packets_expected !== undefined && f.packets_lost !== undefined) {
      s.packets_expected = f.packets_expected;
      s.packets_lost = Math.min(f.packets_lost, f.packets_expected);
    }
    const metric = ['play_ms', 'startup_ms', 'error', 'latency_ms', 'rtt_ms', 'packets_expected'].some((k) => s[k] !== undefined);
    return metric ? s : undefined;
  }

  /** The core's closed intervals as samples (adapter fields collected now). */
  function drain(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const r of core.take()) {
      let f: AdapterFields = {};
      try {
        f = adapter?.collect(clock()) ?? {};
      } catch {
        // a player torn down under us: the interval is still reported, without its fields
      }
      const s = sampled ? sampleOf(r, f) : undefined;
      if (s) out.push(s);
    }
    return out;
  }

  // Wall-clock ticks: at each interval boundary, close the interval and queue its sample
  let tickTimer: ReturnType<typeof setTimeout> | undefined;
  function tick(): void {
    if (stopped) return;
    const now = clock();
    tickTimer = setTimeout(tick, interval - (now % interval) + 5);
    core.tick(now);
    transport.enqueue(drain());
  }

  let frameHandle: number | undefined;
  function onFrame(now: number): void {
    if (stopped || !v) return;
    // the first frame after a seek may be painted before `seeked` is dispatched: the element already says it is done
    if (!v.seeking) core.seeked(origin + now);
    core.frame(origin + now);
    frameHandle = v.requestVideoFrameCallback!(onFrame);
  }

  /** The page is going away, or may be: one beacon with everything up to now. */
  function flush(): void {
    if (flushed) return;
    flushed = true;
    const now = clock();
    core.visibility(now, false);
    if (core.isStarted) {
      core.cut(now);
      transport.flush(drain());
    } else {
      // Still waiting for the first frame (or never asked to play): a hidden page paints none, this attempt is over
      core.end(now);
      transport.flush(drain());
      begin();
    }
  }

  /**
   * A playback already under way when this core begins (a tracker attached late, a page back after a hidden start):
   * playing with a picture is no startup to measure; playing without one yet is a start from now. WebRTC without a
   * <video>: the connection is the playback (the adapter tells play from freeze).
   */
  function adopt(): void {
    const now = clock();
    if (!v || (!v.paused && v.readyState >= 2)) core.alreadyPlaying(now);
    else if (!v.paused) core.play(now);
  }

  function newPlayback(): void {
    if (!used) return;
    core.end(clock());
    transport.enqueue(drain());
    begin();
  }

  const on: [EventTarget, string, (e: Event) => void][] = [];
  const listen = (target: EventTarget, type: string, fn: (e: Event) => void) => {
    target.addEventListener(type, fn);
    on.push([target, type, fn]);
  };

  begin();
  if (v) {
    const mark = (fn: (t: number) => void) => () => {
      used = true;
      fn(clock());
    };
    listen(v, 'play', mark((t) => core.play(t)));
    listen(v, 'playing', mark((t) => core.playing(t)));
    listen(v, 'pause', () => core.pause(clock()));
    listen(v, 'seeking', () => core.seeking(clock()));
    listen(v, 'seeked', () => core.seeked(clock()));
    listen(v, 'ended', () => core.ended(clock()));
    listen(v, 'error', () => core.error(clock(), v.error ? `media_${v.error.code}` : 'media'));
    listen(v, 'emptied', newPlayback);
    if (frames) frameHandle = v.requestVideoFrameCallback!(onFrame);
    // no painted-frame callbacks: `playing` stands for the first frame, only for startup_ms (stall fields are left out)
    else listen(v, 'playing', () => core.frame(clock()));
  }
  adopt();
  listen(document, 'visibilitychange', () => {
    if (!visible()) flush();
    else {
      flushed = false;
      core.visibility(clock(), true);
      // a start attempt ended when the page was hidden: the video may have started meanwhile, or be starting
      if (!core.isStarted) adopt();
    }
  });
  listen(window, 'pagehide', flush);
  listen(window, 'online', () => transport.online());
  listen(window, 'pageshow', () => {
    flushed = false;
  });
  adapter?.attach({ fatal: (code) => core.error(clock(), code), newPlayback });
  tick();

  return {
    get session() {
      return session;
    },
    stop() {
      if (stopped) return;
      flush();
      stopped = true;
      if (tickTimer !== undefined) clearTimeout(tickTimer);
      if (frameHandle !== undefined) v?.cancelVideoFrameCallback?.(frameHandle);
      for (const [t, type, fn] of on) t.removeEventListener(type, fn);
      adapter?.detach();
      transport.stop();
    },
  };
}

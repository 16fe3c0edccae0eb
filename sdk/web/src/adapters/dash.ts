import { type Adapter, type AdapterContext, type AdapterFields, renditionOf, secondsToMs } from '../core/adapter.js';

/** The part of dash.js 5's MediaPlayer this adapter reads (duck-typed: dash.js is not imported). */
export interface DashLike {
  on(type: string, fn: (e: any) => void): void;
  off(type: string, fn: (e: any) => void): void;
  getCurrentLiveLatency(): number;
  isDynamic(): boolean;
  getCurrentRepresentationForType?(type: 'video'): { height?: number } | null;
  getLowLatencyModeEnabled?(): boolean;
}

/**
 * dash.js `error` events it plays on after (their codes in dash.js's Errors): a failed clock sync (16: it falls back
 * to the local clock), a segment that failed all its retries (17, 18, 27: it moves on; the stall shows), captions
 * (33, 'cc'). The others (manifest, init segment, MediaSource, keys…) stop playback.
 */
const PLAYS_ON = new Set<unknown>([16, 17, 18, 27, 33, 'cc']);

/**
 * dash.js: live latency (`getCurrentLiveLatency()`), fatal errors, rendition, `dash` or `ll-dash` (low-latency mode
 * on a dynamic manifest).
 */
export function dash(player: DashLike): Adapter {
  let ctx: AdapterContext | undefined;
  const onError = (e: any) => {
    const err = e?.error;
    const code = typeof err === 'object' && err !== null ? err.code : err;
    if (!PLAYS_ON.has(code)) ctx?.fatal(code ?? 'dash');
  };
  return {
    name: 'dash',
    attach(c) {
      ctx = c;
      player.on('error', onError);
    },
    detach() {
      player.off('error', onError);
      ctx = undefined;
    },
    collect(): AdapterFields {
      let live = false;
      try {
        live = player.isDynamic();
      } catch {
        // no stream yet
      }
      const ll = live && !!player.getLowLatencyModeEnabled?.();
      const f: AdapterFields = { dims: { protocol: ll ? 'll-dash' : 'dash' } };
      let height: number | undefined;
      try {
        height = player.getCurrentRepresentationForType?.('video')?.height;
      } catch {
        // no stream yet
      }
      const r = renditionOf(height);
      if (r) f.dims!.rendition = r;
      if (live) f.latency_ms = secondsToMs(player.getCurrentLiveLatency());
      return f;
    },
  };
}

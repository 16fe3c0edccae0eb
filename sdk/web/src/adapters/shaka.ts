import { type Adapter, type AdapterContext, type AdapterFields, renditionOf, secondsToMs } from '../core/adapter.js';

/** The part of Shaka Player 5's Player this adapter reads (duck-typed: Shaka is not imported). */
export interface ShakaLike {
  addEventListener(type: string, fn: (e: any) => void): void;
  removeEventListener(type: string, fn: (e: any) => void): void;
  getStats(): { liveLatency?: number; height?: number };
  isLive(): boolean;
  getManifestType?(): string | null;
  getManifest?(): { isLowLatency?: boolean } | null;
}

/** shaka.util.Error.Severity.CRITICAL: the player stopped. */
const CRITICAL = 2;

/** Shaka Player: live latency (`getStats().liveLatency`), critical errors, rendition, protocol from the manifest type. */
export function shaka(player: ShakaLike): Adapter {
  let ctx: AdapterContext | undefined;
  const onError = (e: any) => {
    const err = e?.detail;
    if (err?.severity === CRITICAL) ctx?.fatal(err.code ?? 'shaka');
  };
  const onLoading = () => ctx?.newPlayback();
  return {
    name: 'shaka',
    attach(c) {
      ctx = c;
      player.addEventListener('error', onError);
      player.addEventListener('loading', onLoading);
    },
    detach() {
      player.removeEventListener('error', onError);
      player.removeEventListener('loading', onLoading);
      ctx = undefined;
    },
    collect(): AdapterFields {
      const type = (player.getManifestType?.() ?? '').toLowerCase();
      const live = player.isLive();
      const base = type === 'hls' || type === 'dash' ? type : type ? 'other' : undefined;
      const f: AdapterFields = { dims: {} };
      if (base) f.dims!.protocol = base !== 'other' && live && player.getManifest?.()?.isLowLatency ? `ll-${base}` : base;
      const stats = player.getStats();
      const r = renditionOf(stats.height);
      if (r) f.dims!.rendition = r;
      if (live) f.latency_ms = secondsToMs(stats.liveLatency);
      return f;
    },
  };
}

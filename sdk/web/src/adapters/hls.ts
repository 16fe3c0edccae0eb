import { type Adapter, type AdapterContext, type AdapterFields, renditionOf, secondsToMs } from '../core/adapter.js';

/** The part of hls.js 1.x this adapter reads (duck-typed: hls.js is not imported). */
export interface HlsLike {
  on(event: string, fn: (event: string, data: any) => void): void;
  off(event: string, fn: (event: string, data: any) => void): void;
  readonly latency: number;
  readonly levels: readonly { height?: number }[];
  readonly currentLevel: number;
  readonly latestLevelDetails?: { live?: boolean; partList?: readonly unknown[] | null } | null;
  readonly config?: { lowLatencyMode?: boolean };
}

// hls.js's Events.ERROR and Events.MANIFEST_LOADING
const ERROR = 'hlsError';
const MANIFEST_LOADING = 'hlsManifestLoading';

/** hls.js: live latency (`hls.latency`), fatal errors, rendition, `hls` or `ll-hls` (low-latency mode on a playlist with parts). */
export function hls(player: HlsLike): Adapter {
  let ctx: AdapterContext | undefined;
  const onError = (_: string, data: any) => {
    if (data?.fatal) ctx?.fatal(data.details ?? data.type ?? 'hls');
  };
  const onLoading = () => ctx?.newPlayback();
  return {
    name: 'hls',
    attach(c) {
      ctx = c;
      player.on(ERROR, onError);
      player.on(MANIFEST_LOADING, onLoading);
    },
    detach() {
      player.off(ERROR, onError);
      player.off(MANIFEST_LOADING, onLoading);
      ctx = undefined;
    },
    collect(): AdapterFields {
      const details = player.latestLevelDetails;
      const ll = !!player.config?.lowLatencyMode && !!details?.partList?.length;
      const f: AdapterFields = { dims: { protocol: ll ? 'll-hls' : 'hls' } };
      const r = renditionOf(player.levels[player.currentLevel]?.height);
      if (r) f.dims!.rendition = r;
      // latency means something on a live playlist only
      if (details?.live) f.latency_ms = secondsToMs(player.latency);
      return f;
    },
  };
}

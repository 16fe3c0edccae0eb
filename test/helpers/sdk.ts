import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';
import { iifeText } from '../../sdk/web/build.mjs';

let built: Promise<string> | undefined;

/**
 * The SDK's browser bundle (global `qoswatch`), built from the sources once per test process, in memory: test files
 * running in parallel must not rebuild sdk/web/dist under each other.
 */
export function sdkIife(): Promise<string> {
  return (built ??= iifeText());
}

/**
 * A tiny test clip made by ffmpeg (VP8 in WebM: Debian's Chromium plays it), 160×90 at 15 fps: small enough that a
 * loaded machine does not starve the player.
 */
export function makeClip(dir: string, seconds = 4): string {
  const out = join(dir, 'clip.webm');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc=size=160x90:rate=15:duration=${seconds}`, '-c:v', 'libvpx', '-b:v', '150k', '-g', '15', '-an', out]);
  return out;
}


/**
 * A tiny H.264 stream (160×90, 15 fps, one-second segments; with `audio`, a tone) packaged by ffmpeg as VOD HLS
 * (`hls/index.m3u8`) and DASH (`dash/index.mpd`) under `dir`, for the players (hls.js, dash.js, Shaka) in Chromium.
 */
export function makeVodStreams(dir: string, seconds = 8, { audio = false } = {}): void {
  const src = join(dir, 'src.mp4');
  const ff = (...args: string[]) => execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
  const tone = audio ? ['-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}`, '-c:a', 'aac', '-b:a', '32k'] : ['-an'];
  ff('-f', 'lavfi', '-i', `testsrc=size=160x90:rate=15:duration=${seconds}`, ...tone, '-c:v', 'libx264', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-g', '15', '-keyint_min', '15', '-sc_threshold', '0', src);
  mkdirSync(join(dir, 'hls'));
  mkdirSync(join(dir, 'dash'));
  ff('-i', src, '-c', 'copy', '-f', 'hls', '-hls_time', '1', '-hls_playlist_type', 'vod', join(dir, 'hls', 'index.m3u8'));
  // audio in an adaptation set of its own (chunk-stream1-…), as real DASH packages it: video can run dry alone
  const sets = audio ? ['-map', '0:v', '-map', '0:a', '-adaptation_sets', 'id=0,streams=v id=1,streams=a'] : [];
  ff('-i', src, ...sets, '-c', 'copy', '-f', 'dash', '-seg_duration', '1', join(dir, 'dash', 'index.mpd'));
}

/**
 * The same stream live, encoded in real time by ffmpeg while it runs: a sliding HLS window (`hls/index.m3u8`) and a
 * dynamic DASH manifest (`dash/index.mpd`, its UTCTiming at `/time` of the static origin) of 6 one-second segments.
 * Kill the process when done.
 */
export function startLiveStreams(dir: string): ChildProcess {
  mkdirSync(join(dir, 'hls'));
  mkdirSync(join(dir, 'dash'));
  // global headers: without them the DASH manifest says codecs="avc1", which dash.js refuses (no streams, error 32)
  const h264 = ['-c:v', 'libx264', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-g', '15', '-keyint_min', '15', '-sc_threshold', '0', '-flags', '+global_header', '-an'];
  const outputs = `[f=hls:hls_time=1:hls_list_size=6:hls_flags=delete_segments]${join(dir, 'hls', 'index.m3u8')}|[f=dash:seg_duration=1:window_size=6:extra_window_size=2:use_template=1:use_timeline=0:utc_timing_url=/time]${join(dir, 'dash', 'index.mpd')}`;
  return spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc=size=160x90:rate=15', ...h264, '-f', 'tee', '-map', '0:v', outputs], { stdio: 'ignore' });
}

const TYPES: Record<string, string> = {
  '': 'text/html; charset=utf-8', '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.webm': 'video/webm', '.mp4': 'video/mp4',
  '.m3u8': 'application/vnd.apple.mpegurl', '.ts': 'video/mp2t', '.mpd': 'application/dash+xml', '.m4s': 'video/iso.segment',
};

/**
 * A static origin on loopback, other than qoswatch's, serving `files` (path → content or file on disk) and, under
 * `/media/`, the files of `mediaDir`; `delayMs(path)` holds an answer back (throttled delivery).
 */
export async function serveStatic(files: Record<string, string | { file: string }>, mediaDir?: string, delayMs: (path: string) => number = () => 0): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const wait = delayMs((req.url ?? '/').split('?')[0]!);
    if (wait > 0) return void setTimeout(() => answer(req, res), wait);
    answer(req, res);
  });
  const answer = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    // the DASH clock (UTCTiming http-xsdate)
    if (path === '/time') return void res.writeHead(200, { 'content-type': 'text/plain' }).end(new Date().toISOString());
    let f = files[path];
    if (f === undefined && mediaDir && path.startsWith('/media/') && !path.includes('..')) {
      const file = join(mediaDir, path.slice('/media/'.length));
      if (existsSync(file)) f = { file };
    }
    if (f === undefined) return void res.writeHead(404).end();
    const body = typeof f === 'string' ? f : readFileSync(f.file);
    res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(body);
  };
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

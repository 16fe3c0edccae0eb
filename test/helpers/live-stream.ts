import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './tmp.js';

/**
 * A live stream for real players on loopback: a tiny source encoded once per test run with Debian's ffmpeg into
 * 1 s fMP4 segments (video and audio as separate tracks: the case where Chromium keeps playing audio after video runs
 * dry), served as a sliding live window that advances with the wall clock — HLS (a multivariant playlist with an
 * audio rendition) and a dynamic DASH MPD with a number template, both over the same segments — with a throttle that
 * holds or slows segment responses to make players stall on demand.
 */

export const SEGMENT_MS = 1000;
/** Small enough that a loaded 2-core machine does not starve a dozen players. */
const SIZE = '160x90';
const FPS = 15;

export interface LiveSource {
  dir: string;
  /** Segments per track (numbered 1..segments). */
  segments: number;
  /** RFC 6381 codecs of the video and audio tracks, as ffmpeg wrote them. */
  videoCodec: string;
  audioCodec: string;
}

const run = promisify(execFile);
let encoded: Promise<LiveSource> | undefined;

/**
 * Encodes `seconds` of testsrc + a sine tone (once per test run: the result is cached under the run's temp root and
 * in this process). Segment files: init-0.mp4 / seg-0-N.m4s (video), init-1.mp4 / seg-1-N.m4s (audio).
 */
export function liveSource(seconds = 360): Promise<LiveSource> {
  encoded ??= encode(seconds);
  return encoded;
}

async function encode(seconds: number): Promise<LiveSource> {
  const root = process.env.QOSWATCH_TEST_TMP;
  const dir = root ? join(root, `live-source-${seconds}s`) : tempDir('qoswatch-live');
  const mpd = join(dir, 'source.mpd');
  if (!existsSync(mpd)) {
    mkdirSync(dir, { recursive: true });
    // A key frame every second exactly, so every video segment is 1 s and starts with one.
    await run('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', `testsrc=size=${SIZE}:rate=${FPS}`,
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', String(seconds), '-map', '0:v', '-map', '1:a',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p',
      '-g', String(FPS), '-keyint_min', String(FPS), '-sc_threshold', '0', '-b:v', '60k',
      '-c:a', 'aac', '-b:a', '32k', '-ac', '1',
      '-f', 'dash', '-seg_duration', String(SEGMENT_MS / 1000), '-use_template', '1', '-use_timeline', '0',
      '-init_seg_name', 'init-$RepresentationID$.mp4', '-media_seg_name', 'seg-$RepresentationID$-$Number$.m4s',
      mpd,
    ], { cwd: dir, timeout: 300_000 }).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? new Error("ffmpeg is not installed: the real-player tests encode their live stream with Debian's ffmpeg (apt-get install ffmpeg; .ci/run does)") : err;
    });
  }
  const text = readFileSync(mpd, 'utf8');
  const codecs = [...text.matchAll(/codecs="([^"]+)"/g)].map((m) => m[1]!);
  const videoCodec = codecs.find((c) => c.startsWith('avc1'));
  const audioCodec = codecs.find((c) => c.startsWith('mp4a'));
  if (!videoCodec || !audioCodec) throw new Error(`ffmpeg wrote no avc1/mp4a codecs into ${mpd}`);
  return { dir, segments: Math.floor((seconds * 1000) / SEGMENT_MS), videoCodec, audioCodec };
}

/** How segment responses are throttled: held until released, or each answered `delayMs` late. */
export type Throttle = { hold: true } | { delayMs: number };

export interface LiveServerOptions {
  /** Segments already available when the server starts (so the first player can join at once). */
  prerollSegments?: number;
  /** Segments listed in the HLS playlists and kept in the DASH time-shift buffer. */
  windowSegments?: number;
  /** Extra static files: URL path → file on disk, or the content itself (the player libraries, the SDK, the page). */
  files?: Record<string, string | { text: string }>;
}

const TYPES: Record<string, string> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.mpd': 'application/dash+xml',
  '.mp4': 'video/mp4',
  '.m4s': 'video/iso.segment',
  '.js': 'text/javascript; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
};
const typeOf = (path: string) => TYPES[path.slice(path.lastIndexOf('.'))] ?? 'application/octet-stream';

/** The segment number of a media segment path (/seg-0-12.m4s → { track: 0, n: 12 }). */
const SEGMENT = /^\/seg-([01])-(\d+)\.m4s$/;

export class LiveStreamServer {
  /** Epoch ms of the live timeline's start: segment N (from 1) spans [start + (N-1) s, start + N s). */
  readonly availabilityStart: number;
  /** Media segment requests per track (0 video, 1 audio), answered or not. */
  readonly segmentRequests = [0, 0];
  private throttled: Throttle | undefined;
  private held: (() => void)[] = [];
  private server: Server | undefined;
  private port = 0;
  private readonly window: number;

  constructor(readonly source: LiveSource, private readonly o: LiveServerOptions = {}, private readonly clock: () => number = Date.now) {
    this.availabilityStart = clock() - (o.prerollSegments ?? 8) * SEGMENT_MS;
    this.window = o.windowSegments ?? 30;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(0, '127.0.0.1', () => ok());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.release();
    await new Promise<void>((ok) => {
      if (!this.server) return ok();
      this.server.close(() => ok());
      this.server.closeAllConnections();
    });
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  url(path: string): string {
    return `${this.origin}${path}`;
  }

  /** Throttles media segments from now on (init segments, playlists and the MPD keep flowing). */
  throttle(t: Throttle): void {
    this.throttled = t;
  }

  /** Ends the throttle and answers every held segment request. */
  release(): void {
    this.throttled = undefined;
    const held = this.held;
    this.held = [];
    for (const answer of held) answer();
  }

  /** Segment requests waiting for release(). */
  get holding(): number {
    return this.held.length;
  }

  /** The newest segment available now (0 before the first one is complete). */
  latest(now = this.clock()): number {
    return Math.min(this.source.segments, Math.floor((now - this.availabilityStart) / SEGMENT_MS));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]!;
    // Players and pages live on this origin, the qoswatch collector on another: only the media needs CORS here.
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('cache-control', 'no-store');
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.send(res, 405, 'text/plain', 'GET only');
    const now = this.clock();
    if (path === '/time') return this.send(res, 200, 'text/plain', new Date(now).toISOString());
    if (path === '/live.mpd') return this.send(res, 200, TYPES['.mpd']!, this.mpd(now));
    if (path === '/live.m3u8') return this.send(res, 200, TYPES['.m3u8']!, this.multivariant());
    if (path === '/video.m3u8' || path === '/audio.m3u8') return this.send(res, 200, TYPES['.m3u8']!, this.mediaPlaylist(path === '/video.m3u8' ? 0 : 1, now));
    if (path === '/init-0.mp4' || path === '/init-1.mp4') return this.file(res, join(this.source.dir, path));
    const seg = SEGMENT.exec(path);
    if (seg) {
      const track = Number(seg[1]), n = Number(seg[2]);
      this.segmentRequests[track]!++;
      const latest = this.latest(now);
      if (n < 1 || n > latest || n <= latest - this.window - 2) return this.send(res, 404, 'text/plain', `segment ${n} is not available (live window ends at ${latest})`);
      const answer = () => this.file(res, join(this.source.dir, path));
      const t = this.throttled;
      if (!t) return answer();
      if ('hold' in t) {
        this.held.push(answer);
        return;
      }
      setTimeout(answer, t.delayMs);
      return;
    }
    const file = this.o.files?.[path];
    if (typeof file === 'string') return this.file(res, file);
    if (file) return this.send(res, 200, typeOf(path), file.text);
    this.send(res, 404, 'text/plain', 'not found');
  }

  private send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
    if (res.destroyed) return;
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  private file(res: ServerResponse, path: string): void {
    let body: Buffer;
    try {
      body = readFileSync(path);
    } catch {
      return this.send(res, 404, 'text/plain', 'not found');
    }
    this.send(res, 200, typeOf(path), body);
  }

  private multivariant(): string {
    const { videoCodec, audioCodec } = this.source;
    return [
      '#EXTM3U',
      '#EXT-X-VERSION:7',
      '#EXT-X-INDEPENDENT-SEGMENTS',
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="tone",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="1",URI="audio.m3u8"',
      `#EXT-X-STREAM-INF:BANDWIDTH=120000,AVERAGE-BANDWIDTH=100000,RESOLUTION=${SIZE},FRAME-RATE=${FPS}.000,CODECS="${videoCodec},${audioCodec}",AUDIO="aud"`,
      'video.m3u8',
      '',
    ].join('\n');
  }

  /** A sliding live media playlist: the last `window` available segments, with their wall-clock dates. */
  private mediaPlaylist(track: 0 | 1, now: number): string {
    const latest = this.latest(now);
    const first = Math.max(1, latest - this.window + 1);
    const lines = ['#EXTM3U', '#EXT-X-VERSION:7', `#EXT-X-TARGETDURATION:${Math.ceil(SEGMENT_MS / 1000)}`, `#EXT-X-MEDIA-SEQUENCE:${first}`, `#EXT-X-MAP:URI="init-${track}.mp4"`];
    for (let n = first; n <= latest; n++) {
      if (n === first) lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(this.availabilityStart + (n - 1) * SEGMENT_MS).toISOString()}`);
      lines.push(`#EXTINF:${(SEGMENT_MS / 1000).toFixed(3)},`, `seg-${track}-${n}.m4s`);
    }
    return `${lines.join('\n')}\n`;
  }

  /** A dynamic MPD with a number template: players find the live edge from availabilityStartTime and the clock. */
  private mpd(now: number): string {
    const { videoCodec, audioCodec } = this.source;
    const iso = (ms: number) => new Date(ms).toISOString();
    const secs = (ms: number) => `PT${ms / 1000}S`;
    const template = (rep: number) =>
      `<SegmentTemplate timescale="1000" duration="${SEGMENT_MS}" startNumber="1" initialization="init-${rep}.mp4" media="seg-${rep}-$Number$.m4s"/>`;
    return `<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="dynamic"
  availabilityStartTime="${iso(this.availabilityStart)}" publishTime="${iso(now)}" minimumUpdatePeriod="PT30S"
  timeShiftBufferDepth="${secs(this.window * SEGMENT_MS)}" suggestedPresentationDelay="PT3S" maxSegmentDuration="${secs(SEGMENT_MS)}" minBufferTime="PT2S">
  <Period id="p0" start="PT0S">
    <AdaptationSet id="0" contentType="video" mimeType="video/mp4" segmentAlignment="true" startWithSAP="1">
      <Representation id="v" codecs="${videoCodec}" bandwidth="60000" width="160" height="90" frameRate="${FPS}">${template(0)}</Representation>
    </AdaptationSet>
    <AdaptationSet id="1" contentType="audio" mimeType="audio/mp4" lang="en" segmentAlignment="true" startWithSAP="1">
      <Representation id="a" codecs="${audioCodec}" bandwidth="32000" audioSamplingRate="48000">${template(1)}</Representation>
    </AdaptationSet>
  </Period>
  <UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014" value="${this.url('/time')}"/>
</MPD>
`;
  }
}

/** The repository's root, found from here (this file also runs compiled, from dist-bench/test/helpers). */
export const REPO_ROOT = ((): string => {
  for (let dir = import.meta.dirname; dir !== dirname(dir); dir = dirname(dir)) if (existsSync(join(dir, 'package-lock.json'))) return dir;
  throw new Error(`no repository root above ${import.meta.dirname}`);
})();

/** Where the player libraries are (the repository's own node_modules: never a CDN). */
const modules = join(REPO_ROOT, 'node_modules');
export const PLAYER_LIBRARIES: Record<string, string> = {
  '/lib/hls.js': join(modules, 'hls.js/dist/hls.min.js'),
  '/lib/dash.js': join(modules, 'dashjs/dist/modern/umd/dash.all.min.js'),
  '/lib/shaka.js': join(modules, 'shaka-player/dist/shaka-player.compiled.js'),
};

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeCmcd } from '@svta/cml-cmcd';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INGEST_KEY, appsClosedAfterEach } from '../helpers/app.js';
import { HAVE_CHROMIUM, NO_CHROMIUM_MESSAGE, launchBrowser } from '../helpers/browser.js';
import { waitFor } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';
import type { Sample } from '../../src/telemetry/sample-schema.js';

/**
 * Zero-code CMCD with dash.js 5 and Shaka 5 in Debian's Chromium on a live DASH stream (ffmpeg, 160×90 at 15 fps,
 * 1 s segments, served on loopback with its own UTC timing source): each player is configured only with a CMCD
 * event target pointing at POST /v1/cmcd. What each sends decides what qoswatch can derive — dash.js: player state,
 * live latency (`ltc`); Shaka 5.2: no player state at all, only `msd` — and the derived samples must match the
 * page's own figures. (These tests are what README's CMCD table rests on.)
 */

if (!HAVE_CHROMIUM) console.warn(NO_CHROMIUM_MESSAGE);
const start = appsClosedAfterEach();
const file = (p: string) => fileURLToPath(new URL(`../../node_modules/${p}`, import.meta.url));
const SCRIPTS: Record<string, string> = { '/dash.js': file('dashjs/dist/modern/umd/dash.all.min.js'), '/shaka.js': file('shaka-player/dist/shaka-player.compiled.js') };
/** Playback watched per player before the page closes it. */
const WATCH_MS = 8000;

const KEYS = ['sid', 'cid', 'sta', 'sf', 'st', 'ltc', 'msd', 'bg', 'br', 'bl', 'mtp', 'pr'];
const marksScript = `const video = document.getElementById('v');
  window.marks = { loadAt: Date.now(), playing: [], waiting: [], latency: [] };
  video.addEventListener('play', () => (window.marks.play ??= Date.now()), { once: true });
  video.addEventListener('playing', () => window.marks.playing.push(Date.now()));
  video.addEventListener('waiting', () => window.marks.waiting.push(Date.now()));`;
const PAGES: Record<string, (target: string) => string> = {
  dashjs: (target) => `<!doctype html><html><body><video id="v" muted playsinline></video><script src="/dash.js"></script><script>
  ${marksScript}
  const player = dashjs.MediaPlayer().create();
  // dash.js sends only the keys a target enables (its default is none: not even sid)
  player.updateSettings({ streaming: { cmcd: { enabled: true, version: 2, eventTargets: [{ url: ${JSON.stringify(target)}, events: ['ps', 't', 'e', 'rr'], interval: 2, batchSize: 1, enabledKeys: ${JSON.stringify(KEYS)} }] } } });
  player.initialize(video, '/live.mpd', true);
  setInterval(() => { const l = player.getCurrentLiveLatency(); if (l > 0) window.marks.latency.push(Math.round(l * 1000)); }, 250);
  window.stop = () => player.destroy();
</script></body></html>`,
  shaka: (target) => `<!doctype html><html><body><video id="v" muted playsinline></video><script src="/shaka.js"></script><script>
  ${marksScript}
  shaka.polyfill.installAll();
  const player = new shaka.Player();
  player.configure({ cmcd: { enabled: true, version: 2, eventTargets: [{ url: ${JSON.stringify(target)}, events: ['ps', 't', 'e'], interval: 2, batchSize: 1 }] } });
  // an absolute manifest URL: with CMCD on, Shaka 5.2 turns '/live.mpd' into http://live.mpd/
  player.attach(video).then(() => player.load(location.origin + '/live.mpd')).then(() => video.play()).catch((e) => console.error('shaka failed', e.code));
  window.stop = () => player.destroy();
</script></body></html>`,
};

/** The live stream: ffmpeg writing a sliding DASH window in real time, and a loopback origin serving it. */
let dir: string;
let ffmpeg: ChildProcess | undefined;
let server: Server;
let origin: string;
let collector = '';

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  dir = tempDir('qoswatch-cmcd-dash');
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const player = /^\/(dashjs|shaka)$/.exec(path)?.[1];
    if (player) return res.writeHead(200, { 'content-type': 'text/html' }).end(PAGES[player]!(collector));
    if (path === '/time') return res.writeHead(200, { 'content-type': 'text/plain', 'access-control-allow-origin': '*' }).end(new Date().toISOString());
    const script = SCRIPTS[path];
    if (script) return res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(script));
    const f = join(dir, path.slice(1));
    if (!/^\/[\w.-]+$/.test(path) || !existsSync(f)) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': path.endsWith('.mpd') ? 'application/dash+xml' : 'video/mp4' }).end(readFileSync(f));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  ffmpeg = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=15', '-t', '120',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '15', '-keyint_min', '15', '-sc_threshold', '0', '-pix_fmt', 'yuv420p',
    '-f', 'dash', '-seg_duration', '1', '-window_size', '10', '-extra_window_size', '5', '-use_template', '1', '-use_timeline', '0',
    '-utc_timing_url', `${origin}/time`, join(dir, 'live.mpd'),
  ], { stdio: 'ignore' });
  // a few segments in the window before the players join
  await waitFor('the live DASH window', () => existsSync(join(dir, 'chunk-stream0-00004.m4s')) || undefined, 20_000);
});

afterAll(async () => {
  ffmpeg?.kill('SIGKILL');
  if (server) {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

describe.skipIf(!HAVE_CHROMIUM)('POST /v1/cmcd with dash.js 5 and Shaka 5 in Chromium (live DASH)', () => {
  for (const player of ['dashjs', 'shaka'] as const) {
    const what = player === 'dashjs' ? 'play time, startup (s → p) and live latency (ltc) from what dash.js sends by itself' : 'only startup (msd): Shaka 5.2 reports no player state';
    it(`${player}: derives ${what}`, async () => {
      const t = await start();
      collector = `${t.url}/v1/cmcd?key=${INGEST_KEY}&region=eu-west`;
      const browser = await launchBrowser();
      try {
        const tab = await browser.newPage();
        const posts: { body: string; status?: number }[] = [];
        tab.on('requestfinished', async (r) => {
          if (r.url().includes('/v1/cmcd') && r.method() === 'POST') posts.push({ body: r.postData() ?? '', status: (await r.response())?.status() });
        });
        await tab.goto(`${origin}/${player}`);
        await tab.waitForFunction('window.marks.playing.length > 0', undefined, { timeout: 30_000 });
        await new Promise((r) => setTimeout(r, WATCH_MS));
        const marks = (await tab.evaluate('({ ...window.marks, stoppedAt: Date.now() })')) as { loadAt: number; play: number; playing: number[]; waiting: number[]; latency: number[]; stoppedAt: number };
        await tab.evaluate('window.stop()');
        await tab.close();
        await waitFor('the reports to be answered', () => (posts.length > 0 && posts.every((p) => p.status !== undefined)) || undefined, 10_000);

        expect(posts.map((p) => p.status)).toEqual(posts.map(() => 202));
        const reports = posts.flatMap((p) => p.body.split('\n').filter(Boolean).map((l) => decodeCmcd(l) as Record<string, unknown>));
        expect(reports.every((r) => typeof r.sid === 'string' && r.v === 2)).toBe(true);
        const samples = [...t.app.ingestLog.read(0)].flatMap((r) => JSON.parse(r.body.toString()).samples as Sample[]);
        const sum = (f: (s: Sample) => number | undefined) => samples.reduce((n, s) => n + (f(s) ?? 0), 0);
        const play = sum((s) => s.play_ms);
        const startup = samples.filter((s) => s.startup_ms !== undefined).map((s) => s.startup_ms!);
        const latency = samples.filter((s) => s.latency_ms !== undefined).map((s) => s.latency_ms!);
        const pageLatency = marks.latency.at(-1);

        expect(samples.every((s) => s.region === 'eu-west' && s.dims?.sdk === 'cmcd')).toBe(true);
        expect(samples.at(-1)!.dims?.protocol).toBe('dash');
        expect(startup).toHaveLength(1);
        if (player === 'dashjs') {
          // play state (s, p, r…) with ltc: play time from the first frame to the last report before the close
          expect(play).toBeGreaterThan(WATCH_MS * 0.8);
          expect(play).toBeLessThanOrEqual(marks.stoppedAt - marks.playing[0]!);
          // startup from s (dash.js: playback initialised) to p, within the page's load → first frame
          expect(startup[0]!).toBeGreaterThan(0);
          expect(startup[0]!).toBeLessThanOrEqual(marks.playing[0]! - marks.loadAt);
          expect(latency.length).toBeGreaterThan(0);
          expect(pageLatency).toBeDefined();
          expect(Math.abs(latency.at(-1)! - pageLatency!)).toBeLessThan(Math.max(1000, pageLatency! * 0.5));
        } else {
          // Shaka 5.2 sends time-interval reports without sta (no play state), and msd: load() to first frame
          expect(reports.some((r) => r.sta !== undefined)).toBe(false);
          expect(play).toBe(0);
          expect(startup[0]!).toBeLessThanOrEqual(marks.playing[0]! - marks.loadAt);
          expect(startup[0]!).toBeGreaterThan(marks.playing[0]! - marks.loadAt - 1000);
          expect(latency).toEqual([]);
        }
      } finally {
        await browser.close();
      }
    });
  }
});

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeCmcd } from '@svta/cml-cmcd';
import { describe, expect, it } from 'vitest';
import { INGEST_KEY, appsClosedAfterEach } from '../helpers/app.js';
import { HAVE_CHROMIUM, NO_CHROMIUM_MESSAGE, launchBrowser } from '../helpers/browser.js';
import { waitFor } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';
import type { Sample } from '../../src/telemetry/sample-schema.js';

/**
 * Zero-code CMCD with a real player: hls.js 1.7 in Debian's Chromium, configured only with a `cmcd.eventTargets`
 * entry pointing at POST /v1/cmcd (another origin: the browser's own CORS preflight). A tiny VOD made with ffmpeg
 * is served on loopback; its later segments are held back until the player has been rebuffering for a while, so
 * one real stall happens. The samples qoswatch derives must match what the page itself measured.
 */

if (!HAVE_CHROMIUM) console.warn(NO_CHROMIUM_MESSAGE);

const start = appsClosedAfterEach();
const HLS_JS = fileURLToPath(new URL('../../node_modules/hls.js/dist/hls.min.js', import.meta.url));
/** Segments from this one on are held until the test releases them. */
const HELD_FROM = 4;
const STALL_MS = 3000;

/** 10 s of 160×90 at 15 fps as 1 s HLS segments (small, so a loaded 2-core machine does not starve the player). */
function encodeVod(): string {
  const dir = tempDir('qoswatch-cmcd-vod');
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=15', '-t', '10',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '15', '-keyint_min', '15', '-sc_threshold', '0', '-pix_fmt', 'yuv420p',
    '-f', 'hls', '-hls_time', '1', '-hls_playlist_type', 'vod', '-hls_segment_filename', join(dir, 'seg%03d.ts'), join(dir, 'index.m3u8'),
  ]);
  return dir;
}

const page = (collector: string, src = '/index.m3u8') => `<!doctype html><html><body><video id="v" muted playsinline></video>
<script src="/hls.min.js"></script><script>
  const video = document.getElementById('v');
  window.marks = { waiting: [], playing: [] };
  video.addEventListener('waiting', () => window.marks.waiting.push(Date.now()));
  video.addEventListener('playing', () => window.marks.playing.push(Date.now()));
  video.addEventListener('ended', () => (window.marks.ended = Date.now()));
  video.addEventListener('play', () => (window.marks.play ??= Date.now()), { once: true });
  const hls = new Hls({ cmcd: { version: 2, contentId: 'vod-1', eventTargets: [{ url: ${JSON.stringify(collector)}, events: ['ps', 't', 'e'], interval: 2, batchSize: 1 }] } });
  window.hls = hls;
  hls.on(Hls.Events.ERROR, (_e, d) => { if (d.fatal) window.marks.fatal = d.details; });
  hls.loadSource(${JSON.stringify(src)});
  hls.attachMedia(video);
  hls.on(Hls.Events.MANIFEST_PARSED, () => video.play());
</script></body></html>`;

/** A loopback origin for the page, hls.js and the segments; segments ≥ HELD_FROM wait for `release`. */
async function origin(dir: string, collector: string): Promise<{ url: string; release: () => void; close: () => Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname; // hls.js appends ?CMCD=… to its requests
    const send = (type: string, data: Buffer | string) => res.writeHead(200, { 'content-type': type }).end(data);
    if (path === '/') return send('text/html', page(collector));
    if (path === '/broken') return send('text/html', page(collector, '/missing.m3u8'));
    if (path === '/hls.min.js') return send('text/javascript', readFileSync(HLS_JS));
    if (path === '/index.m3u8') return send('application/vnd.apple.mpegurl', readFileSync(join(dir, 'index.m3u8')));
    const seg = /^\/seg(\d{3})\.ts$/.exec(path);
    if (!seg) return res.writeHead(404).end();
    const data = readFileSync(join(dir, `seg${seg[1]}.ts`));
    if (Number(seg[1]) < HELD_FROM) return send('video/mp2t', data);
    void released.then(() => send('video/mp2t', data));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/`,
    release,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

describe.skipIf(!HAVE_CHROMIUM)('POST /v1/cmcd with hls.js 1.7 in Chromium', () => {
  it('turns the reports of a real hls.js session (cmcd.eventTargets only) into the stall and startup the page measured', async () => {
    const t = await start();
    const o = await origin(encodeVod(), `${t.url}/v1/cmcd?key=${INGEST_KEY}&region=eu-west`);
    const browser = await launchBrowser();
    try {
      const tab = await browser.newPage();
      const posts: { contentType: string | undefined; body: string; status?: number }[] = [];
      tab.on('requestfinished', async (r) => {
        if (!r.url().includes('/v1/cmcd') || r.method() !== 'POST') return;
        posts.push({ contentType: r.headers()['content-type'], body: r.postData() ?? '', status: (await r.response())?.status() });
      });
      await tab.goto(o.url);
      // the held segments make the player run dry: release them once it has been rebuffering for STALL_MS
      await tab.waitForFunction('window.marks.playing.length > 0 && window.marks.waiting.some((w) => w > window.marks.playing[0])', undefined, { timeout: 30_000 });
      await new Promise((r) => setTimeout(r, STALL_MS));
      o.release();
      await tab.waitForFunction('window.marks.ended !== undefined', undefined, { timeout: 30_000 });
      const marks = (await tab.evaluate('window.marks')) as { play: number; waiting: number[]; playing: number[]; ended: number };
      await tab.evaluate('window.hls.destroy()'); // flushes the reporter
      await waitFor('the report of the ended state', () => posts.some((p) => p.body.includes('sta=e')) || undefined, 10_000);

      // what hls.js sent: application/cmcd, one report per line, a trailing line feed, all accepted
      expect(posts.length).toBeGreaterThan(3);
      for (const p of posts) {
        expect(p.contentType).toBe('application/cmcd');
        expect(p.body.endsWith('\n')).toBe(true);
        expect(p.status).toBe(202);
      }
      const reports = posts.flatMap((p) => p.body.split('\n').filter(Boolean).map((l) => decodeCmcd(l) as Record<string, unknown>));
      expect(new Set(reports.map((r) => r.sta))).toEqual(expect.objectContaining(new Set(['s', 'p', 'r', 'e'])));

      const samples = [...t.app.ingestLog.read(0)].flatMap((r) => JSON.parse(r.body.toString()).samples as Sample[]);
      const sum = (f: (s: Sample) => number | undefined) => samples.reduce((n, s) => n + (f(s) ?? 0), 0);
      // the page's stall: the 'waiting' after the first 'playing' until the next 'playing'
      const firstPlaying = marks.playing[0]!;
      const stallStart = marks.waiting.find((w) => w > firstPlaying)!;
      const stallEnd = marks.playing.find((p) => p > stallStart)!;
      const pageStall = stallEnd - stallStart;
      expect(pageStall).toBeGreaterThanOrEqual(STALL_MS);
      expect(sum((s) => s.stall_count)).toBe(1);
      // hls.js stamps its reports with Date.now() in the same handlers: within 50 ms of the page's own marks
      expect(Math.abs(sum((s) => s.stall_ms) - pageStall)).toBeLessThanOrEqual(50);
      // startup: the 'play' event (hls.js reports sta=s there) to the first 'playing'
      const startup = samples.filter((s) => s.startup_ms !== undefined).map((s) => s.startup_ms!);
      expect(startup).toHaveLength(1);
      expect(Math.abs(startup[0]! - (firstPlaying - marks.play))).toBeLessThanOrEqual(50);
      // playing time: first frame to the end, minus the stall (10 s of media at rate 1)
      expect(Math.abs(sum((s) => s.play_ms) - (marks.ended - firstPlaying - pageStall))).toBeLessThanOrEqual(100);
      expect(samples.every((s) => s.region === 'eu-west' && s.dims?.sdk === 'cmcd')).toBe(true);
      expect(samples.at(-1)!.dims?.protocol).toBe('hls');
    } finally {
      await browser.close();
      await o.close();
    }
  });

  it('reports a manifest that cannot be loaded (a fatal hls.js error before the first frame) as startup_failed', async () => {
    const t = await start();
    const o = await origin(encodeVod(), `${t.url}/v1/cmcd?key=${INGEST_KEY}&region=eu-west`);
    const browser = await launchBrowser();
    try {
      const tab = await browser.newPage();
      const posts: string[] = [];
      tab.on('requestfinished', (r) => {
        if (r.url().includes('/v1/cmcd') && r.method() === 'POST') posts.push(r.postData() ?? '');
      });
      await tab.goto(`${o.url}broken`);
      await tab.waitForFunction('window.marks.fatal !== undefined', undefined, { timeout: 30_000 });
      expect(await tab.evaluate('window.marks.fatal')).toBe('manifestLoadError');
      await waitFor('the fatal-error report', () => posts.some((p) => p.includes('sta=f')) || undefined, 10_000);
      const samples = [...t.app.ingestLog.read(0)].flatMap((r) => JSON.parse(r.body.toString()).samples as Sample[]);
      expect(samples.filter((s) => s.error !== undefined).map((s) => s.error)).toEqual(['startup_failed']);
      expect(samples.some((s) => (s.play_ms ?? 0) > 0)).toBe(false);
    } finally {
      await browser.close();
      await o.close();
    }
  });
});

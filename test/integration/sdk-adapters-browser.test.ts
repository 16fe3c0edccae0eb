import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { INGEST_KEY, type TestApp, appsClosedAfterEach } from '../helpers/app.js';
import { HAVE_CHROMIUM, NO_CHROMIUM_MESSAGE, launchBrowser } from '../helpers/browser.js';
import { waitFor } from '../helpers/ports.js';
import { makeVodStreams, sdkIife, serveStatic, startLiveStreams } from '../helpers/sdk.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The adapters against the real players in Debian's Chromium — hls.js 1.7, dash.js 5 and Shaka 5, as shipped in
 * node_modules — on a tiny VOD stream (160×90): the APIs the adapters read exist and answer (protocol, rendition),
 * nothing is reported as an error, and qoswatch accepts every sample. Live latency and stalls under throttling are
 * the players' end-to-end test.
 */

if (!HAVE_CHROMIUM) console.warn(NO_CHROMIUM_MESSAGE);

/** A player's browser build, by its path in node_modules (their package exports do not all expose them). */
const dist = (path: string) => fileURLToPath(new URL(`../../node_modules/${path}`, import.meta.url));
const startClosed = appsClosedAfterEach();
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.allSettled(closers.splice(0).map((c) => c()));
});

/** Each player, its script, and how the page starts it on `video` (with the stream at `src`) and makes its adapter. */
const PLAYERS = {
  hls: { script: dist('hls.js/dist/hls.min.js'), start: (src: string) => `const p = new Hls(); p.attachMedia(video); p.loadSource('${src}'); const adapter = qoswatch.hls(p);` },
  dash: { script: dist('dashjs/dist/modern/umd/dash.all.min.js'), start: (src: string) => `const p = dashjs.MediaPlayer().create(); p.initialize(video, '${src}', true); const adapter = qoswatch.dash(p);` },
  shaka: { script: dist('shaka-player/dist/shaka-player.compiled.js'), start: (src: string) => `shaka.polyfill.installAll(); const p = new shaka.Player(); await p.attach(video); const adapter = qoswatch.shaka(p); p.load('${src}');` },
} as const;
type Player = keyof typeof PLAYERS;

interface Answer { page: string; status: number; body: any; sent: any }

/**
 * A frame-gap reference computed in the page as the stall contract says, beside the SDK: while playing and visible,
 * a gap of more than 500 ms between painted frames is a stall, whole. A seek from play is neither play nor stall (up
 * to the first frame after it); a seek during a stall does not end it; a pause or the end does, counted up to it.
 * Also what a reporter built on waiting/playing would count, for comparison.
 */
const REFERENCE = `
  window.reference = { stall_ms: 0, stalls: 0, waiting_ms: 0 };
  let last = null, seekFromPlay = false, waitingSince = null;
  const stall = (gap) => { if (gap > 500) { reference.stall_ms += gap; reference.stalls++; } };
  video.addEventListener('seeking', () => {
    if (last !== null && performance.now() - last > 500) return;
    seekFromPlay = true;
    last = null;
  });
  video.addEventListener('seeked', () => (seekFromPlay = false));
  for (const e of ['pause', 'ended']) video.addEventListener(e, () => { if (last !== null) stall(performance.now() - last); last = null; });
  video.requestVideoFrameCallback(function frame(now) {
    video.requestVideoFrameCallback(frame);
    if (video.paused || video.ended || seekFromPlay || document.visibilityState !== 'visible') return;
    if (video.seeking && last !== null) return; // a seek during a stall: its target frame does not end the stall
    if (last !== null) stall(now - last);
    last = now;
  });
  video.addEventListener('waiting', () => (waitingSince ??= performance.now()));
  video.addEventListener('playing', () => { if (waitingSince !== null) reference.waiting_ms += performance.now() - waitingSince; waitingSince = null; });`;

interface Opened {
  pages: Record<string, Page>;
  /** The samples qoswatch accepted from one page so far. */
  samples(name: string): any[];
  /** Every answer was a 202 accepting the whole batch. */
  assertAccepted(): void;
  summary(): string;
}

/**
 * Opens one page per entry (player and stream) on a static origin with the SDK bundle, each tracked with its adapter
 * (1 s intervals) beside the in-page frame-gap reference, and collects what qoswatch answered to each.
 */
async function openAll(t: TestApp, media: string, pages: Record<string, { player: Player; src: string }>, delayMs?: (path: string) => number): Promise<Opened> {
  const files: Record<string, string | { file: string }> = { '/qoswatch.iife.js': await sdkIife() };
  for (const [name, { player, src }] of Object.entries(pages)) {
    files[`/${player}.js`] = { file: PLAYERS[player].script };
    files[`/${name}`] = `<!doctype html><title>${name}</title>
<video id="v" muted playsinline></video>
<script src="/${player}.js"></script>
<script src="/qoswatch.iife.js"></script>
<script type="module">
  const video = document.getElementById('v');
  ${PLAYERS[player].start(src)}
  window.tracker = qoswatch.track(video, { endpoint: ${JSON.stringify(t.url)}, key: ${JSON.stringify(INGEST_KEY)}, region: 'eu-west', stream: '${name}', intervalMs: 1000, adapter });
  ${REFERENCE}
  video.play();
</script>`;
  }
  const site = await serveStatic(files, media, delayMs);
  closers.push(site.close);
  const browser: BrowserContext = await launchBrowser();
  closers.push(() => browser.close());

  const answers: Answer[] = [];
  const opened: Record<string, Page> = {};
  // One after the other: tabs opened concurrently in headless Chromium paint no frames (all but one), though
  // visible and playing — the playhead moves, the picture does not (what the SDK reports as stalls)
  for (const name of Object.keys(pages)) {
    const page: Page = await browser.newPage();
    page.on('pageerror', (e) => answers.push({ page: name, status: -1, body: String(e), sent: null }));
    page.on('response', async (r) => {
      if (!r.url().startsWith(`${t.url}/v1/telemetry`)) return;
      answers.push({ page: name, status: r.status(), body: await r.json().catch(() => undefined), sent: JSON.parse(r.request().postData() ?? 'null') });
    });
    await page.goto(`${site.url}/${name}`);
    opened[name] = page;
  }
  const samples = (n: string) => answers.filter((a) => a.page === n && a.status === 202).flatMap((a) => a.sent.samples);
  return {
    pages: opened,
    samples,
    summary: () => `${Object.keys(pages).map((n) => `${n}: ${JSON.stringify(samples(n).map((s) => [s.play_ms, s.stall_ms, s.startup_ms, s.latency_ms, s.dims, s.error]))}`).join('\n')}; page errors: ${JSON.stringify(answers.filter((a) => a.status === -1))}`,
    assertAccepted() {
      for (const a of answers) expect({ page: a.page, status: a.status, body: a.body }).toEqual({ page: a.page, status: 202, body: { accepted: a.sent.samples.length, rejected: [] } });
    },
  };
}

/** openAll, then `intervals` intervals of play accepted from every page; their samples. */
async function playAll(t: TestApp, media: string, pages: Record<string, { player: Player; src: string }>, intervals = 4): Promise<Record<string, any[]>> {
  const o = await openAll(t, media, pages);
  await waitFor(`${intervals} intervals of play from every page`, () => (Object.keys(pages).every((n) => o.samples(n).filter((s) => s.play_ms > 0).length >= intervals) ? true : undefined), 40_000).catch((e) => {
    throw new Error(`${e.message}; samples per page:\n${o.summary()}`);
  });
  o.assertAccepted();
  return Object.fromEntries(Object.keys(pages).map((n) => [n, o.samples(n)]));
}

describe.skipIf(!HAVE_CHROMIUM)('@qoswatch/web adapters with the real players (headless Chromium)', () => {
  it('hls.js, dash.js and Shaka on VOD: protocol and rendition from the player, startup, no error, samples accepted', async () => {
    const t = await startClosed();
    const media = tempDir('qoswatch-vod');
    makeVodStreams(media, 20);
    const got = await playAll(t, media, { hls: { player: 'hls', src: '/media/hls/index.m3u8' }, dash: { player: 'dash', src: '/media/dash/index.mpd' }, shaka: { player: 'shaka', src: '/media/dash/index.mpd' } });
    const expected = { hls: 'hls', dash: 'dash', shaka: 'dash' } as const;
    for (const [name, protocol] of Object.entries(expected)) {
      const samples = got[name]!;
      expect(samples.filter((s) => s.startup_ms !== undefined), name).toHaveLength(1);
      expect(samples.filter((s) => s.error !== undefined), name).toEqual([]);
      expect(samples.reduce((n, s) => n + s.play_ms, 0), name).toBeGreaterThan(1000);
      // the protocol once the player knows its manifest (Shaka knows nothing before it loads); the rendition once a
      // level plays (90 lines → the 144p bucket)
      expect(samples.filter((s) => s.play_ms > 0).every((s) => s.dims?.protocol === protocol), name).toBe(true);
      expect(samples.every((s) => s.dims?.protocol === undefined || s.dims.protocol === protocol), name).toBe(true);
      expect(samples.some((s) => s.dims?.rendition === '144p'), name).toBe(true);
      expect(samples.every((s) => s.dims?.rendition === undefined || s.dims.rendition === '144p'), name).toBe(true);
      expect(samples.every((s) => s.latency_ms === undefined), `${name}: VOD has no live latency`).toBe(true);
    }
  }, 120_000);

  it("live: latency from each player's API (hls.js on HLS, dash.js on DASH, Shaka on HLS)", async () => {
    const t = await startClosed();
    const media = tempDir('qoswatch-live');
    const ffmpeg = startLiveStreams(media);
    closers.push(async () => ffmpeg.kill('SIGKILL'));
    // a window of a few segments first
    await waitFor('the live window', () => (existsSync(join(media, 'hls', 'index3.ts')) && existsSync(join(media, 'dash', 'index.mpd')) ? true : undefined), 20_000);
    const got = await playAll(t, media, { hls: { player: 'hls', src: '/media/hls/index.m3u8' }, dash: { player: 'dash', src: '/media/dash/index.mpd' }, shaka: { player: 'shaka', src: '/media/hls/index.m3u8' } });
    const expected = { hls: 'hls', dash: 'dash', shaka: 'hls' } as const;
    for (const [name, protocol] of Object.entries(expected)) {
      const playing = got[name]!.filter((s) => s.play_ms > 0);
      expect(playing.every((s) => s.dims?.protocol === protocol), name).toBe(true);
      expect(got[name]!.filter((s) => s.error !== undefined), name).toEqual([]);
      // one-second segments, a six-segment window: the players sit a few seconds behind the live edge
      const latencies = playing.map((s) => s.latency_ms).filter((l) => l !== undefined);
      expect(latencies.length, `${name}: ${JSON.stringify(playing)}`).toBeGreaterThanOrEqual(playing.length - 1);
      for (const l of latencies) expect(l, name).toBeGreaterThan(300);
      for (const l of latencies) expect(l, name).toBeLessThan(15_000);
    }
  }, 120_000);

  it('stalls under throttled delivery: stall_ms and stall_count as the in-page frame-gap reference (hls.js)', async () => {
    const t = await startClosed();
    const media = tempDir('qoswatch-throttled');
    makeVodStreams(media, 12);
    // from the fourth segment on, each one-second segment takes 1.6 s to arrive: the buffer runs dry, again and again
    const delay = (path: string) => (/index([3-9]|1\d)\.ts$/.test(path) ? 1600 : 0);
    const o = await openAll(t, media, { hls: { player: 'hls', src: '/media/hls/index.m3u8' } }, delay);
    const page = o.pages.hls!;
    await waitFor('the end of the clip', async () => ((await page.evaluate('document.getElementById("v").ended')) ? true : undefined), 80_000).catch((e) => {
      throw new Error(`${e.message}; ${o.summary()}`);
    });
    const reference = (await page.evaluate('reference')) as { stall_ms: number; stalls: number };
    // every interval is sent within the next one (1 s intervals); then nothing is left to send
    await new Promise((ok) => setTimeout(ok, 2500));
    o.assertAccepted();
    const samples = o.samples('hls');
    const stall = samples.reduce((n, s) => n + s.stall_ms, 0);
    const stalls = samples.reduce((n, s) => n + s.stall_count, 0);
    expect(reference.stalls, 'the throttling made stalls').toBeGreaterThanOrEqual(3);
    expect(stalls, JSON.stringify({ reference, samples: o.summary() })).toBe(reference.stalls);
    expect(Math.abs(stall - reference.stall_ms), JSON.stringify({ reference, stall })).toBeLessThanOrEqual(reference.stall_ms * 0.05);
  }, 120_000);

  it('stalls while audio plays on (dash.js, separate audio and video): counted from frames, as the reference', async () => {
    const t = await startClosed();
    const media = tempDir('qoswatch-av');
    makeVodStreams(media, 12, { audio: true });
    // only video segments arrive late (1.6 s per 1 s from the fourth): audio keeps the playhead going while the
    // picture freezes
    const delay = (path: string) => (/chunk-stream0-000(0[4-9]|1\d)\.m4s$/.test(path) ? 1600 : 0);
    const o = await openAll(t, media, { dash: { player: 'dash', src: '/media/dash/index.mpd' } }, delay);
    const page = o.pages.dash!;
    await waitFor('the end of the clip', async () => ((await page.evaluate('document.getElementById("v").ended')) ? true : undefined), 80_000).catch((e) => {
      throw new Error(`${e.message}; ${o.summary()}`);
    });
    const reference = (await page.evaluate('reference')) as { stall_ms: number; stalls: number; waiting_ms: number };
    await new Promise((ok) => setTimeout(ok, 2500));
    o.assertAccepted();
    const samples = o.samples('dash');
    const stall = samples.reduce((n, s) => n + s.stall_ms, 0);
    const stalls = samples.reduce((n, s) => n + s.stall_count, 0);
    expect(reference.stalls, 'the throttling made stalls').toBeGreaterThanOrEqual(2);
    // the case itself: the picture froze while the playhead moved on (waiting/playing saw much less of it)
    expect(reference.waiting_ms, JSON.stringify(reference)).toBeLessThan(reference.stall_ms * 0.9);
    expect(stalls, JSON.stringify({ reference, samples: o.summary() })).toBe(reference.stalls);
    expect(Math.abs(stall - reference.stall_ms), JSON.stringify({ reference, stall })).toBeLessThanOrEqual(reference.stall_ms * 0.05);
  }, 120_000);
});

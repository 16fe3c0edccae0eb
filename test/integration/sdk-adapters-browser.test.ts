import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { INGEST_KEY, appsClosedAfterEach } from '../helpers/app.js';
import { HAVE_CHROMIUM, NO_CHROMIUM_MESSAGE, launchBrowser } from '../helpers/browser.js';
import { waitFor } from '../helpers/ports.js';
import { makeVodStreams, sdkIife, serveStatic } from '../helpers/sdk.js';
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

/** Each player, its script, and how the page starts it on `video` and hands its adapter to qoswatch.track. */
const PLAYERS = {
  hls: { script: dist('hls.js/dist/hls.min.js'), start: `const p = new Hls(); p.attachMedia(video); p.loadSource('/media/hls/index.m3u8'); const adapter = qoswatch.hls(p);` },
  dash: { script: dist('dashjs/dist/modern/umd/dash.all.min.js'), start: `const p = dashjs.MediaPlayer().create(); p.initialize(video, '/media/dash/index.mpd', true); const adapter = qoswatch.dash(p);` },
  shaka: { script: dist('shaka-player/dist/shaka-player.compiled.js'), start: `shaka.polyfill.installAll(); const p = new shaka.Player(); await p.attach(video); const adapter = qoswatch.shaka(p); p.load('/media/dash/index.mpd');` },
} as const;

describe.skipIf(!HAVE_CHROMIUM)('@qoswatch/web adapters with the real players (headless Chromium)', () => {
  it('hls.js, dash.js and Shaka: protocol and rendition from the player, startup, no error, samples accepted', async () => {
    const t = await startClosed();
    const media = tempDir('qoswatch-vod');
    makeVodStreams(media, 20);
    const files: Record<string, string | { file: string }> = { '/qoswatch.iife.js': await sdkIife() };
    for (const [name, p] of Object.entries(PLAYERS)) {
      files[`/${name}.js`] = { file: p.script };
      files[`/${name}`] = `<!doctype html><title>${name}</title>
<video id="v" muted playsinline></video>
<script src="/${name}.js"></script>
<script src="/qoswatch.iife.js"></script>
<script type="module">
  const video = document.getElementById('v');
  ${p.start}
  window.tracker = qoswatch.track(video, { endpoint: ${JSON.stringify(t.url)}, key: ${JSON.stringify(INGEST_KEY)}, region: 'eu-west', stream: '${name}', intervalMs: 1000, adapter });
  video.play();
</script>`;
    }
    const site = await serveStatic(files, media);
    closers.push(site.close);
    const browser: BrowserContext = await launchBrowser();
    closers.push(() => browser.close());

    const answers: { page: string; status: number; body: any; sent: any }[] = [];
    const open = async (name: string): Promise<Page> => {
      const page = await browser.newPage();
      page.on('pageerror', (e) => answers.push({ page: name, status: -1, body: String(e), sent: null }));
      page.on('response', async (r) => {
        if (!r.url().startsWith(`${t.url}/v1/telemetry`)) return;
        answers.push({ page: name, status: r.status(), body: await r.json().catch(() => undefined), sent: JSON.parse(r.request().postData() ?? 'null') });
      });
      await page.goto(`${site.url}/${name}`);
      return page;
    };
    // One after the other: tabs opened concurrently in headless Chromium paint no frames (all but one), though
    // visible and playing — the playhead moves, the picture does not (what the SDK reports as stalls)
    for (const name of Object.keys(PLAYERS)) await open(name);
    const played = (n: string) => answers.filter((a) => a.page === n && a.status === 202).flatMap((a) => a.sent.samples).filter((s) => s.play_ms > 0).length;
    await waitFor('four intervals of play from every player', () => (Object.keys(PLAYERS).every((n) => played(n) >= 4) ? true : undefined), 40_000);

    for (const a of answers) expect({ page: a.page, status: a.status, body: a.body }).toEqual({ page: a.page, status: 202, body: { accepted: a.sent.samples.length, rejected: [] } });
    const expected = { hls: 'hls', dash: 'dash', shaka: 'dash' } as const;
    for (const [name, protocol] of Object.entries(expected)) {
      const samples = answers.filter((a) => a.page === name).flatMap((a) => a.sent.samples);
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
  });
});

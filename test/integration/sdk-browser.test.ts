import type { BrowserContext } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { INGEST_KEY, appsClosedAfterEach } from '../helpers/app.js';
import { HAVE_CHROMIUM, NO_CHROMIUM_MESSAGE, launchBrowser } from '../helpers/browser.js';
import { waitFor } from '../helpers/ports.js';
import { makeClip, sdkIife, serveStatic } from '../helpers/sdk.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Smoke test of @qoswatch/web in Debian's Chromium: the IIFE bundle loads from a page on another origin, tracks a
 * <video> playing a tiny ffmpeg-made clip, and the real qoswatch app accepts what it posts (202, nothing rejected);
 * closing the tab sends one final beacon. The real-player, many-tab test is the players' end-to-end test.
 */

if (!HAVE_CHROMIUM) console.warn(NO_CHROMIUM_MESSAGE);

const startClosed = appsClosedAfterEach();
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.allSettled(closers.splice(0).map((c) => c()));
});

/** Telemetry requests the app answered, from its request log (debug level in tests). */
function telemetryAnswers(logs: string[]): { url: string; status: number }[] {
  return logs
    .map((l) => JSON.parse(l))
    .filter((l) => l.msg === 'request completed' && String(l.req?.url).startsWith('/v1/telemetry'))
    .map((l) => ({ url: l.req.url, status: l.res.statusCode }));
}

describe.skipIf(!HAVE_CHROMIUM)('@qoswatch/web in a real browser (headless Chromium)', () => {
  it('tracks a playing <video>: samples accepted by qoswatch, one beacon when the tab closes', async () => {
    const t = await startClosed();
    const page$ = `<!doctype html><title>sdk smoke</title>
<video id="v" muted autoplay loop playsinline src="/clip.webm"></video>
<script src="/qoswatch.iife.js"></script>
<script>
  window.tracker = qoswatch.track(document.getElementById('v'), {
    endpoint: ${JSON.stringify(t.url)}, key: ${JSON.stringify(INGEST_KEY)}, region: 'eu-west', stream: 'smoke',
    intervalMs: 1000, dims: { platform: 'web' },
  });
</script>`;
    const site = await serveStatic({ '/': page$, '/qoswatch.iife.js': await sdkIife(), '/clip.webm': { file: makeClip(tempDir('qoswatch-clip')) } });
    closers.push(site.close);
    const browser: BrowserContext = await launchBrowser();
    closers.push(() => browser.close());
    const page = await browser.newPage();
    const answers: { status: number; body: any; sent: any; cors: string | null }[] = [];
    page.on('response', async (r) => {
      if (!r.url().startsWith(`${t.url}/v1/telemetry`)) return;
      answers.push({ status: r.status(), body: await r.json().catch(() => undefined), sent: JSON.parse(r.request().postData() ?? 'null'), cors: r.headers()['access-control-allow-origin'] ?? null });
    });
    await page.goto(site.url);
    const session = (await page.evaluate('tracker.session')) as string;
    // a few intervals of play, each sent within the next interval
    await waitFor('three accepted batches', () => (answers.filter((a) => a.status === 202).length >= 3 ? true : undefined), 30_000);

    for (const a of answers) {
      expect(a.status).toBe(202);
      expect(a.cors).toBe(site.url);
      expect(a.body).toEqual({ accepted: a.sent.samples.length, rejected: [] });
    }
    const samples = answers.flatMap((a) => a.sent.samples);
    expect(new Set(samples.map((s) => s.session))).toEqual(new Set([session]));
    expect(samples.filter((s) => s.startup_ms !== undefined)).toHaveLength(1);
    expect(samples.reduce((n, s) => n + s.play_ms, 0)).toBeGreaterThan(1000);
    for (const s of samples) expect(s).toMatchObject({ region: 'eu-west', stream: 'smoke', dims: { platform: 'web' }, interval_ms: expect.any(Number) });

    const before = telemetryAnswers(t.logs).length;
    await page.close({ runBeforeUnload: true });
    await waitFor('the final beacon', () => (telemetryAnswers(t.logs).length > before ? true : undefined), 10_000);
    await new Promise((ok) => setTimeout(ok, 2500)); // anything else would arrive by now (sends are within 1 s)
    const after = telemetryAnswers(t.logs).slice(before);
    expect(after).toEqual([{ url: expect.stringMatching(/^\/v1\/telemetry\?key=/), status: 202 }]);
  });
});

describe.skipIf(!HAVE_CHROMIUM)('@qoswatch/web WebRTC adapter in a real browser (headless Chromium)', () => {
  it("reads Chromium's getStats(): packets, the selected pair's RTT, play from the receiver; samples accepted", async () => {
    const t = await startClosed();
    // Two peer connections in one page: a canvas stream sent over loopback, received into a <video>
    const page$ = `<!doctype html><title>webrtc</title>
<canvas id="c" width="160" height="90"></canvas><video id="v" muted autoplay playsinline></video>
<script src="/qoswatch.iife.js"></script>
<script type="module">
  const c = document.getElementById('c'), g = c.getContext('2d');
  let n = 0;
  setInterval(() => { g.fillStyle = 'hsl(' + (n++ * 7 % 360) + ',80%,50%)'; g.fillRect(0, 0, 160, 90); }, 66);
  const a = new RTCPeerConnection(), b = new RTCPeerConnection();
  a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
  b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
  const video = document.getElementById('v');
  b.ontrack = (e) => { video.srcObject = e.streams[0]; };
  for (const tr of c.captureStream(15).getTracks()) a.addTrack(tr, c.captureStream(15));
  await a.setLocalDescription(); await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(); await a.setRemoteDescription(b.localDescription);
  const o = { endpoint: ${JSON.stringify(t.url)}, key: ${JSON.stringify(INGEST_KEY)}, region: 'eu-west', intervalMs: 1000 };
  qoswatch.track(video, { ...o, stream: 'video', adapter: qoswatch.webrtc(b) });
  // no <video>: play and freezes from the receiver's stats
  qoswatch.track(null, { ...o, stream: 'stats', adapter: qoswatch.webrtc(b) });
</script>`;
    const site = await serveStatic({ '/': page$, '/qoswatch.iife.js': await sdkIife() });
    closers.push(site.close);
    const browser: BrowserContext = await launchBrowser();
    closers.push(() => browser.close());
    const page = await browser.newPage();
    const answers: { status: number; body: any; sent: any }[] = [];
    page.on('response', async (r) => {
      if (!r.url().startsWith(`${t.url}/v1/telemetry`)) return;
      answers.push({ status: r.status(), body: await r.json().catch(() => undefined), sent: JSON.parse(r.request().postData() ?? 'null') });
    });
    await page.goto(site.url);
    const samples = () => answers.flatMap((a) => a.sent.samples);
    await waitFor('three intervals with packets from each tracker', () => (['video', 'stats'].every((st) => samples().filter((s) => s.stream === st && s.packets_expected > 0).length >= 3) ? true : undefined), 30_000).catch((e) => {
      throw new Error(`${e.message}: ${JSON.stringify(samples())}`);
    });
    for (const a of answers) expect(a).toMatchObject({ status: 202, body: { accepted: a.sent.samples.length, rejected: [] } });
    const withPackets = samples().filter((s) => s.packets_expected > 0);
    for (const s of withPackets) {
      expect(s.dims.protocol).toBe('webrtc');
      expect(s.packets_lost).toBe(0); // loopback
      expect(s.rtt_ms).toBeGreaterThanOrEqual(0);
      expect(s.rtt_ms).toBeLessThan(1000);
    }
    const video = samples().filter((s) => s.stream === 'video');
    expect(video.filter((s) => s.startup_ms !== undefined)).toHaveLength(1);
    expect(video.reduce((n, s) => n + s.play_ms, 0)).toBeGreaterThan(1000);
    // stats only: the receiver decoded frames, so its intervals are play, and freezes (if a loaded machine made any)
    // are stalls
    const stats = samples().filter((s) => s.stream === 'stats' && s.play_ms !== undefined);
    expect(stats.length).toBeGreaterThanOrEqual(2);
    expect(stats.reduce((n, s) => n + s.play_ms, 0)).toBeGreaterThan(1000);
    for (const s of stats) expect(s).toMatchObject({ stall_ms: expect.any(Number), stall_count: expect.any(Number) });
  });
});

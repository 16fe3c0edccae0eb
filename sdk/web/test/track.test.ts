import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isValidSample } from '../../../src/telemetry/sample-schema.js';
import type { Adapter } from '../src/core/adapter.js';
import { SDK, type TrackOptions, track } from '../src/track.js';
import { FakeClock, settle } from './fakes.js';

/**
 * The DOM wrapper against a fake page: a fake <video> (an EventTarget whose requestVideoFrameCallback the test
 * paints), document visibility, pagehide, fetch and sendBeacon, all on a fake clock.
 */

const I = 10_000;
let clock: FakeClock;
let doc: EventTarget & { visibilityState: string };
let win: EventTarget;
let posts: { url: string; init: RequestInit; body: any }[];
let beacons: { url: string; body: any }[];
let random: number;

class FakeVideo extends EventTarget {
  paused = true;
  seeking = false;
  videoHeight = 0;
  readyState = 0;
  error: { code: number } | null = null;
  private cb: ((now: number) => void) | undefined;
  requestVideoFrameCallback(cb: (now: number) => void): number {
    this.cb = cb;
    return 1;
  }
  cancelVideoFrameCallback(): void {
    this.cb = undefined;
  }
  /** Paints frames every 40 ms from `from` to `to` (fake-clock ms since the test's T0). */
  async paint(from: number, to: number): Promise<void> {
    for (let t = from; t <= to; t += 40) {
      await clock.advance(T0 + t - clock.now);
      const cb = this.cb;
      this.cb = undefined;
      cb?.(clock.now);
    }
  }
  fire(type: string, t: number): Promise<void> {
    return clock.advance(T0 + t - clock.now).then(() => {
      if (type === 'play' || type === 'playing') this.paused = false;
      if (type === 'pause') this.paused = true;
      this.dispatchEvent(new Event(type));
    });
  }
}

let T0: number;
const options = (o: Partial<TrackOptions> = {}): TrackOptions => ({ endpoint: 'http://qos.example:8080/', key: 'ik_public key', region: 'eu-west', stream: 'ch1', ...o });
const allSamples = () => [...posts.map((p) => p.body), ...beacons.map((b) => b.body)].flatMap((b) => b.samples);

async function hide(): Promise<void> {
  doc.visibilityState = 'hidden';
  doc.dispatchEvent(new Event('visibilitychange'));
  await settle();
}

beforeEach(() => {
  clock = new FakeClock();
  T0 = clock.now + 1000; // 1 s into an interval
  doc = Object.assign(new EventTarget(), { visibilityState: 'visible' });
  win = new EventTarget();
  posts = [];
  beacons = [];
  random = 0.5;
  vi.stubGlobal('document', doc);
  vi.stubGlobal('window', win);
  vi.stubGlobal('performance', { timeOrigin: 0, now: () => clock.now });
  vi.stubGlobal('setTimeout', clock.setTimeout);
  vi.stubGlobal('clearTimeout', clock.clearTimeout);
  vi.spyOn(Math, 'random').mockImplementation(() => random);
  vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
    posts.push({ url, init, body: JSON.parse(String(init.body)) });
    return { status: 202, headers: new Headers() };
  });
  vi.stubGlobal('navigator', {
    sendBeacon(url: string, blob: Blob) {
      const entry = { url, body: undefined as any };
      beacons.push(entry);
      void blob.text().then((t) => (entry.body = JSON.parse(t)));
      return true;
    },
  });
});

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe('track', () => {
  it('posts valid samples: text/plain, the key in the query, no cookies, the session in every sample', async () => {
    const v = new FakeVideo();
    const t = track(v as unknown as HTMLVideoElement, options({ dims: { cdn: 'cdn-a', platform: 'web', bogus: 'x' } }));
    await v.fire('play', 0);
    await v.paint(400, 18_960);
    await clock.advance(2 * I);
    expect(posts.length).toBeGreaterThan(0);
    const p = posts[0]!;
    expect(p.url).toBe('http://qos.example:8080/v1/telemetry?key=ik_public%20key');
    expect(p.init).toMatchObject({ method: 'POST', keepalive: true, credentials: 'omit', headers: { 'content-type': 'text/plain' } });
    expect(p.body.sdk).toBe(SDK);
    const samples = allSamples();
    expect(samples.length).toBeGreaterThanOrEqual(2);
    for (const s of samples) {
      expect(isValidSample(s)).toBe(true);
      expect(s).toMatchObject({ region: 'eu-west', session: t.session, stream: 'ch1', dims: { cdn: 'cdn-a', platform: 'web' } });
      expect(s.dims.bogus).toBeUndefined();
    }
    expect(t.session).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(samples[0]).toMatchObject({ startup_ms: 400, stall_ms: 0, stall_count: 0 });
    t.stop();
  });

  it('flushes once when the page closes, though visibilitychange and pagehide both fire', async () => {
    const v = new FakeVideo();
    track(v as unknown as HTMLVideoElement, options());
    await v.fire('play', 0);
    await v.paint(300, 3980);
    // frozen from 3980: closing at 5200 ends a 1220 ms stall
    await clock.advance(T0 + 5200 - clock.now);
    await hide();
    win.dispatchEvent(new Event('pagehide'));
    await settle();
    expect(beacons).toHaveLength(1);
    expect(beacons[0]!.url).toBe('http://qos.example:8080/v1/telemetry?key=ik_public%20key');
    expect(beacons[0]!.body.samples).toEqual([expect.objectContaining({ startup_ms: 300, play_ms: 3680, stall_ms: 1220, stall_count: 1 })]);
    await clock.advance(3 * I);
    expect(posts).toHaveLength(0);
  });

  it('flushes once on pagehide alone, and reports a viewer who left before the first frame', async () => {
    const v = new FakeVideo();
    track(v as unknown as HTMLVideoElement, options());
    await v.fire('play', 0);
    await clock.advance(3000);
    win.dispatchEvent(new Event('pagehide'));
    await hide();
    await settle();
    expect(beacons).toHaveLength(1);
    expect(beacons[0]!.body.samples).toEqual([expect.objectContaining({ error: 'exit_before_start', play_ms: 0 })]);
  });

  it('goes on after the page comes back, and flushes again at the next hide', async () => {
    const v = new FakeVideo();
    track(v as unknown as HTMLVideoElement, options());
    await v.fire('play', 0);
    await v.paint(300, 1980);
    await hide();
    await clock.advance(T0 + 3960 - clock.now);
    doc.visibilityState = 'visible';
    doc.dispatchEvent(new Event('visibilitychange'));
    await v.paint(4000, 5980);
    await hide();
    await settle();
    expect(beacons).toHaveLength(2);
    const sums = allSamples().reduce((a, s) => ({ play: a.play + s.play_ms, stall: a.stall + s.stall_ms }), { play: 0, stall: 0 });
    // hidden from 1980 to 3960: neither play nor stall; visible again, play from 3960 to the last frame at 5960
    expect(sums).toEqual({ play: 1680 + 2000, stall: 0 });
  });

  it('tracks a video that started while the page was hidden, as a new playback without a startup', async () => {
    const v = new FakeVideo();
    const t = track(v as unknown as HTMLVideoElement, options());
    await v.fire('play', 0);
    const first = t.session;
    await hide(); // before the first frame: that start attempt is over (exit before start)
    await clock.advance(T0 + 5000 - clock.now);
    v.readyState = 4; // it started in the background
    doc.visibilityState = 'visible';
    doc.dispatchEvent(new Event('visibilitychange'));
    await v.paint(5040, 7000);
    t.stop();
    await settle();
    expect(t.session).not.toBe(first);
    const second = allSamples().filter((s) => s.session === t.session);
    expect(second).toEqual([expect.objectContaining({ play_ms: 2000, stall_ms: 0 })]);
    expect(second[0].startup_ms).toBeUndefined();
    expect(allSamples().filter((s) => s.session === first)).toEqual([expect.objectContaining({ error: 'exit_before_start' })]);
  });

  it('starts a new playback with a new session when the source changes', async () => {
    const v = new FakeVideo();
    const t = track(v as unknown as HTMLVideoElement, options());
    await v.fire('play', 0);
    await v.paint(300, 1980);
    const first = t.session;
    await v.fire('emptied', 2100);
    expect(t.session).not.toBe(first);
    await v.fire('play', 2200);
    await v.paint(2500, 2980);
    t.stop();
    await settle();
    const bySession = new Map<string, any[]>();
    for (const s of allSamples()) bySession.set(s.session, [...(bySession.get(s.session) ?? []), s]);
    expect([...bySession.keys()].sort()).toEqual([first, t.session].sort());
    expect(bySession.get(first)).toEqual([expect.objectContaining({ startup_ms: 300, play_ms: 1800 })]);
    expect(bySession.get(t.session)).toEqual([expect.objectContaining({ startup_ms: 300, play_ms: 480 })]);
  });

  it('decides sampling once per playback: a playback left out sends nothing', async () => {
    random = 0.9;
    const v = new FakeVideo();
    const t = track(v as unknown as HTMLVideoElement, options({ sampleRate: 0.5 }));
    await v.fire('play', 0);
    await v.paint(300, 15_000);
    random = 0.1; // later draws (send offsets) do not change the decision
    await clock.advance(2 * I);
    t.stop();
    await settle();
    expect(posts.length + beacons.length).toBe(0);
  });

  it('leaves stall fields out without requestVideoFrameCallback rather than guess them from the playhead', async () => {
    const v = new FakeVideo() as any;
    v.requestVideoFrameCallback = undefined;
    const t = track(v as HTMLVideoElement, options());
    await v.fire('play', 0);
    await v.fire('playing', 700);
    await clock.advance(I);
    t.stop();
    await settle();
    const samples = allSamples();
    expect(samples).toEqual([expect.objectContaining({ startup_ms: 700 })]);
    expect(samples[0].play_ms).toBeUndefined();
    expect(samples[0].stall_ms).toBeUndefined();
  });

  it('ends a stall through a seek at the first frame painted after it, even before `seeked` is dispatched', async () => {
    const v = new FakeVideo();
    const t = track(v as unknown as HTMLVideoElement, options());
    await v.fire('play', 0);
    await v.paint(300, 1980);
    v.seeking = true;
    await v.fire('seeking', 3000); // during a stall (frozen since 1980)
    await v.paint(3500, 3500); // the seek target, painted while seeking: the stall goes on
    v.seeking = false;
    await v.paint(4000, 5000); // painted before the seeked event
    await v.fire('seeked', 5000);
    t.stop();
    await settle();
    expect(allSamples()).toEqual([expect.objectContaining({ stall_ms: 2020, stall_count: 1, play_ms: 1680 + 1000 })]);
  });

  it('takes the rendition from the picture when no adapter names one', async () => {
    const v = new FakeVideo();
    const t = track(v as unknown as HTMLVideoElement, options());
    await v.fire('play', 0);
    v.videoHeight = 360;
    await v.paint(300, 2000);
    t.stop();
    await settle();
    expect(allSamples()).toEqual([expect.objectContaining({ dims: { rendition: '360p' } })]);
  });

  it('reports latency only for intervals the viewer watched (not while loading)', async () => {
    const adapter: Adapter = { name: 'fake', attach: () => undefined, detach: () => undefined, collect: () => ({ latency_ms: 3000 }) };
    const v = new FakeVideo();
    const t = track(v as unknown as HTMLVideoElement, options({ adapter }));
    await v.fire('play', 0);
    await clock.advance(I); // loading through the first boundary
    await v.paint(9500, 12_000);
    t.stop();
    await settle();
    expect(allSamples().map((s) => [s.play_ms > 0, s.latency_ms])).toEqual([[false, undefined], [true, 3000]]);
  });

  it('keeps reporting when the adapter throws (a player destroyed under it)', async () => {
    const adapter: Adapter = { name: 'broken', attach: () => undefined, detach: () => undefined, collect: () => { throw new Error('destroyed'); } };
    const v = new FakeVideo();
    const t = track(v as unknown as HTMLVideoElement, options({ adapter }));
    await v.fire('play', 0);
    await v.paint(300, 25_000);
    await clock.advance(I);
    t.stop();
    await settle();
    expect(allSamples().length).toBeGreaterThanOrEqual(3);
  });

  it('adds what the adapter reports, and its fatal errors as play failures', async () => {
    const ctx: { fatal?: (c: string | number) => void } = {};
    const adapter: Adapter = {
      name: 'fake',
      attach: (c) => void (ctx.fatal = c.fatal),
      detach: () => undefined,
      collect: () => ({ dims: { protocol: 'll-hls', rendition: '720p', evil: 'x' }, latency_ms: 3200 }),
    };
    const v = new FakeVideo();
    const t = track(v as unknown as HTMLVideoElement, options({ adapter }));
    await v.fire('play', 0);
    await v.paint(300, 2000);
    ctx.fatal!('bufferAppendError');
    t.stop();
    await settle();
    const [s] = allSamples();
    expect(isValidSample(s)).toBe(true);
    expect(s).toMatchObject({ dims: { protocol: 'll-hls', rendition: '720p' }, latency_ms: 3200, error: 'play_failed:bufferAppendError' });
    expect(s.dims.evil).toBeUndefined();
  });
});

describe('SDK', () => {
  it("names the package's version in every batch", () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(SDK).toBe(`qoswatch-web/${pkg.version}`);
  });
});

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LiveStreamServer, type LiveSource } from '../helpers/live-stream.js';
import { tempDir } from '../helpers/tmp.js';

/** The live-stream test server on a fake clock and fake segment files (no ffmpeg): the window slides, the throttle holds. */

const T0 = Date.UTC(2030, 0, 7, 12, 0, 0);
let now = T0;
let server: LiveStreamServer | undefined;

function source(segments = 100): LiveSource {
  const dir = tempDir('qoswatch-live-unit');
  for (const track of [0, 1]) {
    writeFileSync(join(dir, `init-${track}.mp4`), `init ${track}`);
    for (let n = 1; n <= segments; n++) writeFileSync(join(dir, `seg-${track}-${n}.m4s`), `segment ${track}-${n}`);
  }
  return { dir, segments, videoCodec: 'avc1.42c00b', audioCodec: 'mp4a.40.2' };
}

async function start(o: ConstructorParameters<typeof LiveStreamServer>[1] = {}): Promise<LiveStreamServer> {
  now = T0;
  server = new LiveStreamServer(source(), { prerollSegments: 8, windowSegments: 5, ...o }, () => now);
  await server.start();
  return server;
}

afterEach(async () => {
  await server?.stop();
  server = undefined;
});

const get = async (s: LiveStreamServer, path: string) => {
  const r = await fetch(s.url(path));
  return { status: r.status, text: await r.text() };
};

describe('LiveStreamServer', () => {
  it('slides its HLS window with the clock: the last segments available, dated on the wall clock', async () => {
    const s = await start();
    const first = (await get(s, '/video.m3u8')).text;
    expect(first).toContain('#EXT-X-MEDIA-SEQUENCE:4');
    expect(first.match(/seg-0-\d+\.m4s/g)).toEqual(['seg-0-4.m4s', 'seg-0-5.m4s', 'seg-0-6.m4s', 'seg-0-7.m4s', 'seg-0-8.m4s']);
    expect(first).toContain(`#EXT-X-PROGRAM-DATE-TIME:${new Date(T0 - 5000).toISOString()}`);
    now += 2500;
    const later = (await get(s, '/audio.m3u8')).text;
    expect(later).toContain('#EXT-X-MEDIA-SEQUENCE:6');
    expect(later.match(/seg-1-\d+\.m4s/g)?.at(-1)).toBe('seg-1-10.m4s');
    expect(later).toContain('#EXT-X-MAP:URI="init-1.mp4"');
  });

  it('serves a segment once it is complete and while in the window, never ahead of the live edge', async () => {
    const s = await start();
    expect(await get(s, '/seg-0-8.m4s')).toEqual({ status: 200, text: 'segment 0-8' });
    expect((await get(s, '/seg-0-9.m4s')).status).toBe(404);
    now += 1000;
    expect(await get(s, '/seg-1-9.m4s')).toEqual({ status: 200, text: 'segment 1-9' });
    now += 20_000;
    expect((await get(s, '/seg-1-9.m4s')).status, 'long out of the window').toBe(404);
    expect(s.segmentRequests).toEqual([2, 2]);
  });

  it('a dynamic MPD: availability start, time-shift depth, number template, the clock to sync with', async () => {
    const s = await start();
    const mpd = (await get(s, '/live.mpd')).text;
    expect(mpd).toContain('type="dynamic"');
    expect(mpd).toContain(`availabilityStartTime="${new Date(T0 - 8000).toISOString()}"`);
    expect(mpd).toContain('timeShiftBufferDepth="PT5S"');
    expect(mpd).toContain('media="seg-0-$Number$.m4s"');
    expect(mpd).toContain(`value="${s.url('/time')}"`);
    expect((await get(s, '/time')).text).toBe(new Date(T0).toISOString());
  });

  it('holds media segments (playlists still flow) until released', async () => {
    const s = await start();
    s.throttle({ hold: true });
    let answered = false;
    const held = get(s, '/seg-0-8.m4s').then((r) => ((answered = true), r));
    expect((await get(s, '/video.m3u8')).status).toBe(200);
    await expect.poll(() => s.holding).toBe(1);
    expect(answered).toBe(false);
    s.release();
    expect(await held).toEqual({ status: 200, text: 'segment 0-8' });
    expect((await get(s, '/seg-0-7.m4s')).status, 'no longer held').toBe(200);
  });

  it('serves extra files from disk or as given text, and the CORS header players on another origin need', async () => {
    const page = join(tempDir('qoswatch-live-unit'), 'p.html');
    writeFileSync(page, '<p>page</p>');
    const s = await start({ files: { '/player.html': page, '/lib/qoswatch.js': { text: 'window.qoswatch = {}' } } });
    const r = await fetch(s.url('/player.html'));
    expect(r.headers.get('content-type')).toContain('text/html');
    expect(r.headers.get('access-control-allow-origin')).toBe('*');
    expect(await r.text()).toBe('<p>page</p>');
    expect(await get(s, '/lib/qoswatch.js')).toEqual({ status: 200, text: 'window.qoswatch = {}' });
    expect((await get(s, '/nothing')).status).toBe(404);
  });
});

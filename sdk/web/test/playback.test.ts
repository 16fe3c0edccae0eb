import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EXIT_BEFORE_START, type IntervalReport, Playback, errorCode } from '../src/core/playback.js';

/**
 * The state machine with a fake clock and fake painted-frame callbacks: every input carries its time, so each case
 * below is an exact timeline (25 fps frames unless a gap is the point).
 */
const I = 10_000;
const T0 = 1_700_000_000_000; // on an interval boundary

/** Painted frames every `step` ms from `from` up to `to` (inclusive when on the grid). */
function frames(p: Playback, from: number, to: number, step = 40): void {
  for (let t = from; t <= to; t += step) p.frame(T0 + t);
}

function started(): Playback {
  const p = new Playback(T0, I);
  p.play(T0 + 100);
  frames(p, 600, 2000);
  return p;
}

const sum = (rs: IntervalReport[], k: 'play_ms' | 'stall_ms' | 'stall_count') => rs.reduce((a, r) => a + r[k], 0);

describe('Playback', () => {
  it('measures startup once, from the play request to the first painted frame, and play time between frames', () => {
    const p = new Playback(T0, I);
    p.play(T0 + 100);
    frames(p, 600, 19_960);
    p.play(T0 + 15_000); // a second play request is not a second startup
    p.tick(T0 + 20_000);
    const [a, b, ...rest] = p.take();
    expect(rest).toEqual([]);
    expect(a).toEqual({ ts: T0, interval_ms: I, play_ms: 9360, stall_ms: 0, stall_count: 0, startup_ms: 500 });
    // the 40 ms gap open at the boundary was carried: no time lost, none counted twice
    expect(b).toEqual({ ts: T0 + I, interval_ms: I, play_ms: 10_000, stall_ms: 0, stall_count: 0 });
  });

  it('counts a gap that straddles a boundary once and whole, in the interval where it is decided', () => {
    const p = started();
    frames(p, 2040, 9800);
    // 1200 ms without a painted frame across the boundary at 10 000: only 200 ms old at the boundary
    frames(p, 11_000, 19_960);
    p.tick(T0 + 20_000);
    const [a, b] = p.take();
    expect(a).toMatchObject({ play_ms: 9200, stall_ms: 0, stall_count: 0 });
    expect(b).toMatchObject({ stall_ms: 1200, stall_count: 1, play_ms: 8960 });
  });

  it('books a stall already longer than the threshold at the boundary up to it, and its rest (uncounted) after', () => {
    const p = started();
    frames(p, 2040, 9000);
    frames(p, 12_000, 19_960);
    p.tick(T0 + 20_000);
    const [a, b] = p.take();
    expect(a).toMatchObject({ play_ms: 8400, stall_ms: 1000, stall_count: 1 });
    expect(b).toMatchObject({ stall_ms: 2000, stall_count: 0, play_ms: 7960 });
  });

  it('does not count a gap of 500 ms or less as a stall', () => {
    const p = started();
    p.frame(T0 + 2500); // exactly 500 ms
    p.frame(T0 + 3001); // 501 ms
    p.end(T0 + 3001);
    expect(p.take()[0]).toMatchObject({ play_ms: 1400 + 500, stall_ms: 501, stall_count: 1 });
  });

  it('counts a stall through a seek that starts during it, once and whole (`waiting` fires again: not an input)', () => {
    const p = started();
    // frozen from 2000; a seek at 3500 (dash.js seeks by itself to escape a stall); `waiting` fires again; the seek
    // target painted at 3900 while still seeking; seeked at 4200; the next frame at 5000
    p.seeking(T0 + 3500);
    p.frame(T0 + 3900);
    p.seeked(T0 + 4200);
    frames(p, 5000, 6000);
    p.end(T0 + 6000);
    expect(p.take()[0]).toMatchObject({ stall_ms: 3000, stall_count: 1, play_ms: 1400 + 1000 });
  });

  it('counts a seek from play as neither play nor stall, up to the first frame after it', () => {
    const p = started();
    p.seeking(T0 + 2100); // 100 ms after the last frame: playing
    p.frame(T0 + 2300);
    p.seeked(T0 + 2500);
    frames(p, 3200, 4000); // the seek's own buffering, 2500 to 3200, is not a stall
    p.end(T0 + 4000);
    expect(p.take()[0]).toMatchObject({ stall_ms: 0, stall_count: 0, play_ms: 1400 + 100 + 800 });
  });

  it('ends a stall through a seek at a pause', () => {
    const p = started();
    p.seeking(T0 + 3000);
    p.pause(T0 + 3500);
    p.seeked(T0 + 3600);
    p.play(T0 + 4000);
    frames(p, 4100, 5000);
    p.end(T0 + 5000);
    expect(p.take()[0]).toMatchObject({ stall_ms: 1500, stall_count: 1, play_ms: 1400 + 1000 });
  });

  it('counts neither play nor stall while the page is hidden (no frames are painted there)', () => {
    const p = started();
    p.visibility(T0 + 2200, false);
    p.visibility(T0 + 8000, true);
    frames(p, 8040, 9000);
    p.end(T0 + 9000);
    expect(p.take()[0]).toMatchObject({ play_ms: 1400 + 200 + 1000, stall_ms: 0, stall_count: 0 });
  });

  it('counts the frozen picture while audio plays on (the playhead moves, `playing` fires, but no frame is painted)', () => {
    const p = started();
    // Chromium keeps audio going for seconds after video runs dry: currentTime moves, nothing is painted
    p.playing(T0 + 2600);
    p.playing(T0 + 4100);
    frames(p, 5000, 6000);
    p.end(T0 + 6000);
    expect(p.take()[0]).toMatchObject({ stall_ms: 3000, stall_count: 1, play_ms: 1400 + 1000 });
  });

  it('stops at a pause (a stall under way is counted up to it) and resumes at the next play request', () => {
    const p = started();
    p.pause(T0 + 3000); // frozen since 2000: a 1000 ms stall
    p.play(T0 + 7000);
    frames(p, 7100, 8000);
    p.end(T0 + 8000);
    expect(p.take()[0]).toMatchObject({ stall_ms: 1000, stall_count: 1, play_ms: 1400 + 1000 });
  });

  it('reports nothing for intervals spent paused or ended', () => {
    const p = started();
    p.ended(T0 + 2000);
    p.tick(T0 + 45_000);
    const rs = p.take();
    expect(rs.map((r) => r.ts)).toEqual([T0]);
  });

  it('tells an exit before the start from a start paused by the browser (autoplay refused)', () => {
    const left = new Playback(T0, I);
    left.play(T0 + 100);
    left.tick(T0 + 12_000); // still waiting: the viewer is counted, with no play
    left.end(T0 + 14_000);
    expect(left.take()).toEqual([
      { ts: T0, interval_ms: I, play_ms: 0, stall_ms: 0, stall_count: 0 },
      { ts: T0 + I, interval_ms: 4000, play_ms: 0, stall_ms: 0, stall_count: 0, error: EXIT_BEFORE_START },
    ]);

    const refused = new Playback(T0, I);
    refused.play(T0 + 100);
    refused.pause(T0 + 120);
    refused.end(T0 + 5000);
    expect(refused.take().every((r) => r.error === undefined)).toBe(true);
  });

  it('measures startup from the play request that started playback after a refused autoplay', () => {
    const p = new Playback(T0, I);
    p.play(T0 + 100);
    p.pause(T0 + 120);
    p.play(T0 + 5000);
    frames(p, 5300, 6000);
    p.end(T0 + 6000);
    expect(p.take()[0]).toMatchObject({ startup_ms: 300, play_ms: 700 });
  });

  it('tells a start failure from a playback failure, and counts no stall after a fatal error', () => {
    const s = new Playback(T0, I);
    s.play(T0 + 100);
    s.error(T0 + 3000, 'manifestLoadError');
    s.end(T0 + 9000);
    expect(s.take()).toEqual([{ ts: T0, interval_ms: 9000, play_ms: 0, stall_ms: 0, stall_count: 0, error: 'start_failed:manifestLoadError' }]);

    const p = started();
    p.error(T0 + 2100, 1003);
    p.error(T0 + 2200, 'again'); // once per playback
    p.end(T0 + 9000);
    expect(p.take()).toEqual([{ ts: T0, interval_ms: 9000, play_ms: 1500, stall_ms: 0, stall_count: 0, startup_ms: 500, error: 'play_failed:1003' }]);
  });

  it('resumes accounting when the player recovers from its error and frames are painted again', () => {
    const p = started();
    p.error(T0 + 2100, 'bufferStalledError');
    frames(p, 4000, 5000);
    p.end(T0 + 5000);
    expect(p.take()[0]).toMatchObject({ play_ms: 1500 + 1000, stall_ms: 0, error: 'play_failed:bufferStalledError' });
  });

  it('cuts an interval early (page hidden) and reports the rest of it later, the sums unchanged', () => {
    const p = started();
    p.visibility(T0 + 3000, false); // a 1000 ms stall under way ends here
    p.cut(T0 + 3000);
    p.visibility(T0 + 6000, true);
    frames(p, 6000, 9960);
    p.tick(T0 + 10_000);
    const [a, b] = p.take();
    expect(a).toEqual({ ts: T0, interval_ms: 3000, play_ms: 1400, stall_ms: 1000, stall_count: 1, startup_ms: 500 });
    expect(b).toEqual({ ts: T0, interval_ms: 7000, play_ms: 3960, stall_ms: 0, stall_count: 0 });
  });

  it('never goes back in time (an input stamped before the previous one is taken at the previous time)', () => {
    const p = started();
    p.frame(T0 + 1500);
    frames(p, 2040, 3000);
    p.end(T0 + 3000);
    expect(p.take()[0]).toMatchObject({ play_ms: 2400, stall_ms: 0 });
  });

  it('accounts every millisecond of a long random session exactly once: play + stall = time active', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const p = new Playback(T0, I);
    p.play(T0);
    let t = 300;
    let expectedStall = 0;
    let stalls = 0;
    const first = t;
    p.frame(T0 + t);
    while (t < 300_000) {
      const gap = rnd() < 0.02 ? 501 + Math.floor(rnd() * 4000) : 1 + Math.floor(rnd() * 60);
      t += gap;
      if (gap > 500) { expectedStall += gap; stalls++; }
      p.frame(T0 + t);
    }
    p.end(T0 + t);
    const rs = p.take();
    expect(sum(rs, 'stall_ms')).toBe(expectedStall);
    expect(sum(rs, 'stall_count')).toBe(stalls);
    expect(sum(rs, 'play_ms') + sum(rs, 'stall_ms')).toBe(t - first);
    expect(rs.every((r) => r.ts % I === 0)).toBe(true);
  });
});

describe('errorCode', () => {
  it('keeps error codes tag-safe and within 64 characters', () => {
    expect(errorCode('play_failed', 'a\\b\nc')).toBe('play_failed:abc');
    expect(errorCode('start_failed', 'x'.repeat(200))).toHaveLength(64);
    expect(errorCode('start_failed', '')).toBe('start_failed');
  });
});

describe('Playback under random inputs (property)', () => {
  type Input = { dt: number; kind: 'frame' | 'play' | 'playing' | 'pause' | 'seeking' | 'seeked' | 'ended' | 'hide' | 'show' | 'error' | 'tick' };
  const input = fc.record({
    dt: fc.oneof(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 30_000 })),
    kind: fc.oneof(
      { weight: 20, arbitrary: fc.constant('frame' as const) },
      { weight: 1, arbitrary: fc.constantFrom('play', 'playing', 'pause', 'seeking', 'seeked', 'ended', 'hide', 'show', 'error', 'tick') },
    ),
  }) as fc.Arbitrary<Input>;

  it('reports whole, aligned, non-negative intervals; startup and error at most once; no more time than went by', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: I - 1 }), fc.array(input, { maxLength: 300 }), (offset, inputs) => {
        const start = T0 + offset;
        const p = new Playback(start, I);
        let t = start;
        let interruptions = 0;
        const frameTimes: number[] = [];
        for (const { dt, kind } of inputs) {
          t += dt;
          switch (kind) {
            case 'frame': p.frame(t); frameTimes.push(t); break;
            case 'hide': p.visibility(t, false); interruptions++; break;
            case 'show': p.visibility(t, true); break;
            case 'error': p.error(t, 'e'); interruptions++; break;
            case 'ended': p.ended(t); interruptions++; break;
            case 'pause': case 'seeking': interruptions++; p[kind](t); break;
            default: p[kind](t);
          }
        }
        p.end(t + 1);
        const rs = p.take();
        for (const r of rs) {
          expect(r.ts % I).toBe(0);
          for (const k of ['play_ms', 'stall_ms', 'stall_count', 'interval_ms'] as const) expect(Number.isInteger(r[k]) && r[k] >= 0).toBe(true);
          expect(r.interval_ms).toBeLessThanOrEqual(I);
        }
        expect(rs.map((r) => r.ts)).toEqual([...rs.map((r) => r.ts)].sort((a, b) => a - b));
        expect(rs.filter((r) => r.startup_ms !== undefined).length).toBeLessThanOrEqual(1);
        expect(rs.filter((r) => r.error !== undefined).length).toBeLessThanOrEqual(1);
        // play and stall happen after the first painted frame, and a stall begins at a gap or an interruption
        const counted = sum(rs, 'play_ms') + sum(rs, 'stall_ms');
        expect(counted).toBeLessThanOrEqual(frameTimes.length ? t + 1 - frameTimes[0]! : 0);
        let longGaps = 0;
        for (let i = 1; i < frameTimes.length; i++) if (frameTimes[i]! - frameTimes[i - 1]! > 500) longGaps++;
        expect(sum(rs, 'stall_count')).toBeLessThanOrEqual(longGaps + interruptions + 1);
      }),
      { numRuns: 300 },
    );
  });
});

import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { type LiveStreamServer, PLAYER_LIBRARIES, REPO_ROOT } from './live-stream.js';
import { waitFor } from './ports.js';
import type { RecordingProxy, Relayed } from './recording-proxy.js';

/** Real players with the SDK in browser pages (test/helpers/player-page.html): joining, stalling, tallying. */

export type PlayerKind = 'hls' | 'dash' | 'shaka';

/** The SDK's IIFE bundle (global `qoswatch`) as its build script (npm run build) writes it. */
export const SDK_BUNDLE = join(REPO_ROOT, 'sdk/web/dist/qoswatch.iife.js');

/**
 * The files a LiveStreamServer serves for the player page: the page, the player libraries and the SDK bundle (a
 * path, or its text as test/helpers/sdk.ts sdkIife() builds it in memory).
 */
export const playerFiles = (sdk: string | { text: string } = SDK_BUNDLE): Record<string, string | { text: string }> => ({
  '/player.html': join(REPO_ROOT, 'test/helpers/player-page.html'),
  '/lib/qoswatch.js': sdk,
  ...PLAYER_LIBRARIES,
});

export interface Viewer {
  player: PlayerKind;
  page: Page;
  /** The SDK's session id ('' without the SDK). */
  session: string;
}

export interface JoinOptions {
  /** Where the SDK posts (qoswatch, or a proxy in front of it). */
  endpoint: string;
  key: string;
  intervalMs: number;
  region?: string;
  /** false: the player alone (CPU comparisons). */
  sdk?: boolean;
  /** false: no frame-gap reference in the page (CPU comparisons). */
  ref?: boolean;
}

/** The manifest each player plays: hls.js the HLS playlists, dash.js and Shaka the DASH MPD. */
const manifest = (live: LiveStreamServer, player: PlayerKind) => live.url(player === 'hls' ? '/live.m3u8' : '/live.mpd');

/** Opens a page playing the live stream with `player`; resolves once it paints frames (throws the page's error). */
export async function joinPlayer(browser: BrowserContext, live: LiveStreamServer, player: PlayerKind, o: JoinOptions): Promise<Viewer> {
  const page = await browser.newPage();
  const q = new URLSearchParams({ player, src: manifest(live, player), endpoint: o.endpoint, key: o.key, region: o.region ?? 'eu-west', interval: String(o.intervalMs) });
  if (o.sdk === false) q.set('sdk', '0');
  if (o.ref === false) q.set('ref', '0');
  await page.goto(live.url(`/player.html?${q}`));
  await page.waitForFunction(() => (globalThis as any).qw.error ?? (globalThis as any).qw.painting(), undefined, { timeout: 60_000, polling: 100 });
  const { error, session } = await page.evaluate(() => ({ error: (globalThis as any).qw.error, session: (globalThis as any).qw.session }));
  if (error) throw new Error(`the ${player} page failed: ${error}`);
  return { player, page, session: session ?? '' };
}

/** What a page's frame-gap reference measured so far. */
export interface Reference {
  stallMs: number;
  stalls: number;
  frames: number;
  gaps: number[];
  /** Gaps within 20 ms of the 500 ms threshold (stalls or not): either side of it is a fair reading. */
  borderline: number[];
  /** The gap open now: above 500 ms a stall is under way. */
  openGapMs: number;
  /** The picture frozen > 500 ms at a time while not paused, seeks included (what a viewer saw). */
  frozenMs: number;
  /** Time since the last painted frame. */
  sincePaintMs: number;
}

export const reference = (p: Page): Promise<Reference> =>
  p.evaluate(() => {
    const r = (globalThis as any).qw.ref;
    return { stallMs: r.stallMs, stalls: r.stalls, frames: r.frames, gaps: r.gaps, borderline: r.borderline, openGapMs: r.openGapMs(), frozenMs: r.frozenMs, sincePaintMs: r.sincePaintMs() };
  });

const references = (viewers: readonly Viewer[]) => Promise.all(viewers.map((v) => reference(v.page)));

/**
 * Waits until `ok` holds for every player's reference; on timeout the error names the players that never got there,
 * with what their pages measured and any player error.
 */
async function everyPlayer(what: string, viewers: readonly Viewer[], ok: (r: Reference, i: number) => boolean, timeoutMs: number): Promise<void> {
  await waitFor(what, async () => {
    const refs = await references(viewers);
    const behind = viewers.map((v, i) => ({ v, r: refs[i]!, i })).filter(({ r, i }) => !ok(r, i));
    if (!behind.length) return true;
    const errors = await Promise.all(behind.map(({ v }) => v.page.evaluate(() => (globalThis as any).qw.error as string | null)));
    throw new Error(behind.map(({ v, r, i }, k) => `#${i} ${v.player}: ${Math.round(r.sincePaintMs)} ms since a painted frame, open gap ${Math.round(r.openGapMs)} ms, ${r.stalls} stalls${errors[k] ? `, ${errors[k]}` : ''}`).join('; '));
  }, timeoutMs, 100);
}

/**
 * Holds every media segment until each player has painted no frame for `minMs` (all frozen at once; a player may
 * seek by itself meanwhile, so this is not the open gap), then releases them and waits until every player paints
 * again, out of its stall; returns the release time (epoch ms).
 */
export async function stallAll(live: LiveStreamServer, viewers: readonly Viewer[], minMs: number): Promise<number> {
  const before = (await references(viewers)).map((r) => r.frozenMs);
  live.throttle({ hold: true });
  try {
    await everyPlayer(`every player frozen for ${minMs} ms`, viewers, (r) => r.sincePaintMs >= minMs, 90_000);
  } finally {
    live.release();
  }
  const released = Date.now();
  await everyPlayer('every player painting frames again', viewers, (r, i) => r.frozenMs > before[i]! && r.sincePaintMs < 300 && r.openGapMs < 300, 60_000);
  return released;
}

/** A beacon (navigator.sendBeacon) as the browser marks it: a no-cors request; the SDK's fetches are cors ones. */
export const isBeacon = (r: Relayed) => r.headers['sec-fetch-mode'] === 'no-cors';

export interface Reported {
  samples: any[];
  /** Accepted beacons carrying this session. */
  beacons: number;
}

/** Per session: every sample of a telemetry post qoswatch accepted (202), and how many of those posts were beacons. */
export function reportedBySession(proxy: RecordingProxy): Map<string, Reported> {
  const out = new Map<string, Reported>();
  for (const r of proxy.relayed) {
    if (r.method !== 'POST' || !r.url.startsWith('/v1/telemetry') || r.status !== 202) continue;
    const inPost = new Set<string>();
    for (const s of JSON.parse(r.body).samples) {
      const e = out.get(s.session) ?? { samples: [], beacons: 0 };
      out.set(s.session, e);
      e.samples.push(s);
      if (isBeacon(r) && !inPost.has(s.session)) e.beacons++;
      inPost.add(s.session);
    }
  }
  return out;
}

/**
 * How far a reported stall total may be from the reference: 5 %, plus the gaps within 20 ms of the threshold (a
 * gap of 495 ms here may be 505 ms on the SDK's clock, and count whole).
 */
export const tolerance = (r: Reference): number => 0.05 * r.stallMs + r.borderline.reduce((a, g) => a + Math.max(g, 500), 0);

export const total = (samples: readonly any[], field: string): number => samples.reduce((a, s) => a + (s[field] ?? 0), 0);

import { join, resolve } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, incidents, stallRule, writeRules } from '../helpers/alerting.js';
import { INGEST_KEY, type TestApp, startApp } from '../helpers/app.js';
import { HAVE_CHROMIUM, NO_CHROMIUM_MESSAGE, launchBrowser } from '../helpers/browser.js';
import { LiveStreamServer, PLAYER_LIBRARIES, liveSource } from '../helpers/live-stream.js';
import { pagingOnCall, useLoopbackServers, writeOnCall } from '../helpers/paging.js';
import { waitFor } from '../helpers/ports.js';
import { type Relayed, RecordingProxy } from '../helpers/recording-proxy.js';

/**
 * Real players (hls.js, dash.js and Shaka in Debian's Chromium, through playwright-core) carrying the qoswatch web
 * SDK, watching a live stream on loopback (test/helpers/live-stream.ts) and reporting to a real qoswatch through a
 * recording proxy. A clean baseline first (no incident, nothing pages), then segment delivery is held until every
 * player stalls: the stall incident opens, each player's stall_ms as qoswatch received it matches the frame-gap
 * reference its page computed (within 5 %), and closing the tabs brings exactly one final beacon per player.
 */

if (!HAVE_CHROMIUM) console.warn(NO_CHROMIUM_MESSAGE);

const here = import.meta.dirname;
const PAGE = join(here, '../helpers/player-page.html');
const SDK = resolve(here, '../helpers/sdk-stand-in.js');
/** Short intervals keep the test bounded; the SDK aligns them to the wall clock. */
const INTERVAL_MS = 2000;
/** Mixed players, joining in this order: two thirds of them on separate audio/video DASH tracks. */
const PLAYERS = ['hls', 'dash', 'shaka', 'dash', 'hls', 'shaka', 'dash', 'hls', 'shaka', 'dash', 'shaka', 'hls'] as const;
/** Each player's stall under the throttle lasts at least this long (so 5 % is well above a frame's jitter). */
const STALL_MS = 2500;

interface Viewer {
  player: (typeof PLAYERS)[number];
  page: Page;
  session: string;
}

interface Reference {
  stallMs: number;
  stalls: number;
  frames: number;
  gaps: number[];
  openGapMs: number;
}

const reference = (p: Page): Promise<Reference> =>
  p.evaluate(() => {
    const r = (globalThis as any).qw.ref;
    return { stallMs: r.stallMs, stalls: r.stalls, frames: r.frames, gaps: r.gaps, openGapMs: r.openGapMs() };
  });

/** The telemetry posts qoswatch accepted, and the samples in them. */
const accepted = (proxy: RecordingProxy) => proxy.relayed.filter((r) => r.method === 'POST' && r.url.startsWith('/v1/telemetry') && r.status === 202);
const samplesOf = (r: Relayed): any[] => JSON.parse(r.body).samples;
/** A beacon (navigator.sendBeacon) as the browser marks it: a no-cors request; the SDK's fetches are cors ones. */
const isBeacon = (r: Relayed) => r.headers['sec-fetch-mode'] === 'no-cors';

function bySession(proxy: RecordingProxy): Map<string, { samples: any[]; beacons: number }> {
  const out = new Map<string, { samples: any[]; beacons: number }>();
  for (const r of accepted(proxy)) {
    const seen = new Set<string>();
    for (const s of samplesOf(r)) {
      const e = out.get(s.session) ?? { samples: [], beacons: 0 };
      out.set(s.session, e);
      e.samples.push(s);
      if (isBeacon(r) && !seen.has(s.session)) e.beacons++;
      seen.add(s.session);
    }
  }
  return out;
}

const sum = (xs: any[], field: string) => xs.reduce((a, s) => a + (s[field] ?? 0), 0);

describe.skipIf(!HAVE_CHROMIUM)('real players with the SDK in headless Chromium, on a live stream', () => {
  const { smtp, receiver } = useLoopbackServers();
  let live: LiveStreamServer;
  let app: TestApp;
  let proxy: RecordingProxy;
  let browser: BrowserContext;

  beforeAll(async () => {
    live = new LiveStreamServer(await liveSource(), { files: { '/player.html': PAGE, '/lib/qoswatch.js': SDK, ...PLAYER_LIBRARIES } });
    await live.start();
    // Any stall ratio above 5 % over 20 s across at least 10 viewers opens an incident at once (and pages alice).
    const rule = stallRule({ window: '20s', thresholds: { P1: '> 0.3', P2: '> 0.05' }, for: '0s', clear_for: '6h', min_sessions: 10 });
    app = await startApp({
      env: {
        QOSWATCH_RULES_DIR: writeRules([rule]),
        QOSWATCH_ONCALL: writeOnCall(pagingOnCall((p) => receiver.url(p))),
        SMTP_URL: smtp.url,
        QOSWATCH_LOG_LEVEL: 'info',
      },
    });
    proxy = new RecordingProxy(app.url);
    await proxy.start();
    browser = await launchBrowser();
  }, 300_000);

  afterAll(async () => {
    // The browser first: its open connections would hold the servers' close.
    await browser?.close();
    await live?.stop();
    await proxy?.stop();
    await app?.close();
  });

  it(`${PLAYERS.length} players join a clean baseline, stall under a throttle (incident, stall_ms within 5 % of the frame-gap reference), and send one final beacon each on close`, async () => {
    const viewers: Viewer[] = [];
    const src = { hls: live.url('/live.m3u8'), dash: live.url('/live.mpd'), shaka: live.url('/live.mpd') };
    // Staggered joins: each player starts once the previous one paints frames.
    for (const player of PLAYERS) {
      const page = await browser.newPage();
      const q = new URLSearchParams({ player, src: src[player], endpoint: proxy.url, key: INGEST_KEY, region: 'eu-west', interval: String(INTERVAL_MS) });
      await page.goto(live.url(`/player.html?${q}`));
      await page.waitForFunction(() => (globalThis as any).qw.error ?? ((globalThis as any).qw.ready && (globalThis as any).qw.ref.frames > 5), undefined, { timeout: 60_000, polling: 100 });
      const { error, session } = await page.evaluate(() => (globalThis as any).qw);
      expect(error, `${player} player #${viewers.length} failed`).toBeNull();
      viewers.push({ player, page, session });
    }
    const sessions = viewers.map((v) => v.session);
    expect(new Set(sessions).size).toBe(PLAYERS.length);

    // Baseline: every player has reported at least 8 s of play, with nothing stalling enough to alert or page.
    await waitFor('8 s of play reported by every player', () => {
      const got = bySession(proxy);
      return sessions.every((s) => sum(got.get(s)?.samples ?? [], 'play_ms') >= 8000) || undefined;
    }, 120_000, 250);
    expect(await incidents(app.url), 'no incident during the baseline').toEqual([]);
    expect(receiver.requests, 'no page during the baseline').toEqual([]);
    expect(smtp.mails, 'no page during the baseline').toEqual([]);

    // Hold every media segment until each player has been stalled (no painted frame) for STALL_MS.
    live.throttle({ hold: true });
    const stalledSince = new Map<Page, number>();
    await waitFor(`every player stalled for ${STALL_MS} ms`, async () => {
      const refs = await Promise.all(viewers.map((v) => reference(v.page)));
      return refs.every((r) => r.openGapMs >= STALL_MS) || undefined;
    }, 90_000, 250);
    live.release();
    const released = Date.now();
    await waitFor('every player painting frames again', async () => {
      const refs = await Promise.all(viewers.map((v) => reference(v.page)));
      return refs.every((r) => r.stalls >= 1 && r.openGapMs < 300) || undefined;
    }, 60_000, 250);

    const [inc] = await waitFor('the stall incident', async () => {
      const open = await incidents(app.url);
      return open.length ? open : undefined;
    }, 60_000, 250);
    expect(inc).toMatchObject({ state: 'open', region: 'eu-west' });
    expect((await api(app.url, 'GET', `/v1/incidents/${inc.id}`)).body.alerts).toEqual([expect.objectContaining({ rule: 'stall-ratio', firing: true })]);
    // The paging path is live (so "nothing paged during the baseline" could have failed): a P2 pages alice by email.
    await waitFor('the incident paged alice', () => smtp.mails.length + receiver.requests.length > 0 || undefined, 30_000);

    // Every player's stall has reached qoswatch: a sample of an interval starting after the release.
    await waitFor('samples after the release from every player', () => {
      const got = bySession(proxy);
      return sessions.every((s) => (got.get(s)?.samples ?? []).some((x) => x.ts >= released)) || undefined;
    }, 60_000, 250);

    const refs = new Map<string, Reference>();
    for (const v of viewers) refs.set(v.session, await reference(v.page));
    for (const v of viewers) await v.page.close({ runBeforeUnload: true });
    await waitFor('a final beacon from every player', () => {
      const got = bySession(proxy);
      return sessions.every((s) => (got.get(s)?.beacons ?? 0) >= 1) || undefined;
    }, 30_000, 100);

    const got = bySession(proxy);
    const rows = viewers.map((v) => {
      const e = got.get(v.session)!;
      const r = refs.get(v.session)!;
      return { player: v.player, reported: sum(e.samples, 'stall_ms'), reference: Math.round(r.stallMs), stalls: r.stalls, reportedStalls: sum(e.samples, 'stall_count'), beacons: e.beacons, openGapMs: Math.round(r.openGapMs) };
    });
    console.log(JSON.stringify(rows));
    for (const row of rows) {
      expect(row.openGapMs, `${row.player}: no stall under way when the tab closed`).toBeLessThan(500);
      expect(row.reference, `${row.player}: stalled under the throttle`).toBeGreaterThanOrEqual(STALL_MS);
      expect(Math.abs(row.reported - row.reference), `${row.player}: reported stall_ms ${row.reported} vs reference ${row.reference}`).toBeLessThanOrEqual(0.05 * row.reference);
      expect(row.beacons, `${row.player}: exactly one final beacon`).toBe(1);
    }
  }, 420_000);
});

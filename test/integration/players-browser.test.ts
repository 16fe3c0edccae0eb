import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, incidents, stallRule, writeRules } from '../helpers/alerting.js';
import { INGEST_KEY, type TestApp, startApp } from '../helpers/app.js';
import { HAVE_CHROMIUM, NO_CHROMIUM_MESSAGE, launchBrowser } from '../helpers/browser.js';
import { LiveStreamServer, liveSource } from '../helpers/live-stream.js';
import { pagingOnCall, useLoopbackServers, writeOnCall } from '../helpers/paging.js';
import { type PlayerKind, type Reference, type Viewer, joinPlayer, playerFiles, reference, reportedBySession, stallAll, tolerance, total } from '../helpers/players.js';
import { waitFor } from '../helpers/ports.js';
import { RecordingProxy } from '../helpers/recording-proxy.js';
import { sdkIife } from '../helpers/sdk.js';

/**
 * Real players (hls.js, dash.js and Shaka in Debian's Chromium, through playwright-core) carrying the qoswatch web
 * SDK, watching a live stream on loopback (test/helpers/live-stream.ts: separate audio and video tracks) and reporting
 * to a real qoswatch through a recording proxy. A clean baseline first (no incident, nothing pages), then segment
 * delivery is held until every player stalls: the stall incident opens, each player's stall_ms as qoswatch received
 * it matches the frame-gap reference its page computed (within 5 %), and closing the tabs brings exactly one final
 * beacon per player.
 */

if (!HAVE_CHROMIUM) console.warn(NO_CHROMIUM_MESSAGE);

/** Short intervals keep the test bounded; the SDK aligns them to the wall clock. */
const INTERVAL_MS = 2000;
/** Mixed players, joining in this order; dash.js and Shaka play DASH, hls.js HLS (both with separate tracks). */
const PLAYERS: PlayerKind[] = ['hls', 'dash', 'shaka', 'dash', 'hls', 'shaka', 'dash', 'hls', 'shaka', 'dash', 'shaka', 'hls'];
/** Each player's picture stays frozen under the throttle at least this long (5 % of it is well above a frame's jitter). */
const STALL_MS = 2500;

describe.skipIf(!HAVE_CHROMIUM)('real players with the SDK in headless Chromium, on a live stream', () => {
  const { smtp, receiver } = useLoopbackServers();
  let live: LiveStreamServer;
  let app: TestApp;
  let proxy: RecordingProxy;
  let browser: BrowserContext;

  beforeAll(async () => {
    // The SDK built from its sources in memory (npm run build writes the same bundle to sdk/web/dist).
    live = new LiveStreamServer(await liveSource(), { files: playerFiles({ text: await sdkIife() }) });
    await live.start();
    // A stall ratio above 5 % over 20 s across at least 10 viewers opens an incident at once, and pages alice.
    const rule = stallRule({ window: '20s', thresholds: { P1: '> 0.3', P2: '> 0.05' }, for: '0s', clear_for: '6h', min_sessions: 10 });
    app = await startApp({
      env: { QOSWATCH_RULES_DIR: writeRules([rule]), QOSWATCH_ONCALL: writeOnCall(pagingOnCall((p) => receiver.url(p))), SMTP_URL: smtp.url, QOSWATCH_LOG_LEVEL: 'info' },
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

  it(`${PLAYERS.length} players join a clean baseline, stall under a throttle (incident, stall_ms within 5 % of the frame-gap reference, gaps at the threshold aside), and send one final beacon each on close`, async () => {
    // Staggered joins: each player starts once the previous one paints frames.
    const viewers: Viewer[] = [];
    for (const player of PLAYERS) viewers.push(await joinPlayer(browser, live, player, { endpoint: proxy.url, key: INGEST_KEY, intervalMs: INTERVAL_MS }));
    const sessions = viewers.map((v) => v.session);
    expect(new Set(sessions).size, 'one session id per playback').toBe(PLAYERS.length);

    // Baseline: every player has reported at least 8 s of play, none stalling enough to alert or page.
    await waitFor('8 s of play reported by every player', () => {
      const got = reportedBySession(proxy);
      return sessions.every((s) => total(got.get(s)?.samples ?? [], 'play_ms') >= 8000) || undefined;
    }, 120_000, 250);
    expect(await incidents(app.url), 'no incident during the baseline').toEqual([]);
    expect(receiver.requests, 'no page during the baseline').toEqual([]);
    expect(smtp.mails, 'no page during the baseline').toEqual([]);

    const released = await stallAll(live, viewers, STALL_MS);

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
      const got = reportedBySession(proxy);
      return sessions.every((s) => (got.get(s)?.samples ?? []).some((x) => x.ts >= released)) || undefined;
    }, 60_000, 250);

    const refs = new Map<string, Reference>();
    for (const v of viewers) refs.set(v.session, await reference(v.page));
    for (const v of viewers) await v.page.close({ runBeforeUnload: true });
    await waitFor('a final beacon from every player', () => {
      const got = reportedBySession(proxy);
      return sessions.every((s) => (got.get(s)?.beacons ?? 0) >= 1) || undefined;
    }, 30_000, 100);
    // Anything else the closing pages sent (a second beacon) reaches qoswatch before the count.
    await browser.close();
    await waitFor('the proxy idle', () => proxy.inflight === 0 || undefined);

    const got = reportedBySession(proxy);
    const rows = viewers.map((v) => {
      const e = got.get(v.session)!;
      const r = refs.get(v.session)!;
      return { player: v.player, reported: total(e.samples, 'stall_ms'), reference: Math.round(r.stallMs), tolerance: Math.round(tolerance(r)), borderline: r.borderline, frozen: Math.round(r.frozenMs), stalls: r.stalls, reportedStalls: total(e.samples, 'stall_count'), beacons: e.beacons, openGapMs: Math.round(r.openGapMs) };
    });
    console.log(JSON.stringify(rows));
    for (const row of rows) {
      expect(row.openGapMs, `${row.player}: no stall under way when the tab closed`).toBeLessThan(500);
      expect(row.frozen, `${row.player}: frozen under the throttle`).toBeGreaterThanOrEqual(STALL_MS);
      expect(row.reference, `${row.player}: a stall by the definition`).toBeGreaterThan(1000);
      expect(Math.abs(row.reported - row.reference), `${row.player}: reported stall_ms ${row.reported} vs reference ${row.reference} (gaps at the threshold: ${row.borderline.join(', ') || 'none'})`).toBeLessThanOrEqual(row.tolerance);
      expect(row.beacons, `${row.player}: exactly one final beacon`).toBe(1);
    }
  }, 420_000);
});

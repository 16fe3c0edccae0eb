import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, CDPSession } from 'playwright-core';
import { INGEST_KEY, startApp } from '../test/helpers/app.js';
import { HAVE_CHROMIUM, NO_CHROMIUM_MESSAGE, launchBrowser } from '../test/helpers/browser.js';
import { LiveStreamServer, REPO_ROOT, liveSource } from '../test/helpers/live-stream.js';
import { type PlayerKind, type Viewer, joinPlayer, playerFiles, reference, reportedBySession, stallAll, total } from '../test/helpers/players.js';
import { waitFor } from '../test/helpers/ports.js';
import { RecordingProxy } from '../test/helpers/recording-proxy.js';
import { machineLine } from './machine.js';

/**
 * The SDK with real players (not part of npm test or npm run bench; prints Markdown for BENCHMARKS.md):
 *   npx tsc -p tsconfig.bench.json && node dist-bench/bench/players.js [accuracy] [cpu] [--write]
 * (--write: into BENCHMARKS.md's "## Player SDK" section, replacing the parts measured again; npm run bench keeps it)
 * accuracy: PLAYERS players (hls.js, dash.js, Shaka in turn) on the loopback live stream, every one stalled by held
 *   segments once per entry of STALLS (ms each player stays frozen at least); each player's stall_ms as a real qoswatch
 *   accepted it (recording proxy), final beacon included, against the frame-gap reference its page computed.
 * cpu: one page at a time, per player, with and without the SDK (default 10 s intervals; no reference loop): main
 *   thread time of the page (CDP Performance.getMetrics TaskDuration / ScriptDuration) per second of playback,
 *   after WARMUP_S, over MEASURE_S, REPS rounds alternating.
 */

const NOTE_ACCURACY =
  'Error: |reported − reference| / reference per player, the final beacon included. The reference is the page\'s own frame-gap loop (test/helpers/player-page.html); ' +
  'a gap within 20 ms of 500 ms may count on one side and not the other (the SDK times events and frames on one monotonic clock), one such gap is a whole stall of about 500 ms.';
const NOTE_CPU =
  'Most of what the SDK adds is the painted-frame callback itself: with requestVideoFrameCallback pending, the renderer runs its frame pipeline on the main thread for every video frame (15 fps here); ' +
  'the SDK\'s own script is the script column\'s difference. Measured on the shared 2-core machine under other work, so absolute figures are high and noisy; the with/without pairs alternate.';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const KINDS: PlayerKind[] = ['hls', 'dash', 'shaka'];

async function accuracy(browser: BrowserContext, live: LiveStreamServer, endpoint: string, proxy: RecordingProxy): Promise<string[]> {
  const players = env('PLAYERS', 12);
  const stalls = (process.env.STALLS ?? '1000,2500,4000').split(',').map(Number);
  const viewers: Viewer[] = [];
  for (let i = 0; i < players; i++) viewers.push(await joinPlayer(browser, live, KINDS[i % KINDS.length]!, { endpoint, key: INGEST_KEY, intervalMs: 2000 }));
  for (const ms of stalls) {
    await stallAll(live, viewers, ms);
    // Frames flowing for two intervals between stalls.
    await new Promise((r) => setTimeout(r, 4000));
  }
  const refs = await Promise.all(viewers.map((v) => reference(v.page)));
  const playerErrors = await Promise.all(viewers.map((v) => v.page.evaluate(() => (globalThis as any).qw.errors as string[])));
  for (const v of viewers) await v.page.close({ runBeforeUnload: true });
  await waitFor('a final beacon from every player', () => viewers.every((v) => (reportedBySession(proxy).get(v.session)?.beacons ?? 0) >= 1) || undefined, 60_000);
  const got = reportedBySession(proxy);
  const rows = viewers.map((v, i) => {
    const e = got.get(v.session)!;
    const ref = refs[i]!;
    const reported = total(e.samples, 'stall_ms');
    const errors = [...new Set([...e.samples.filter((x) => x.error !== undefined).map((x) => `SDK ${x.error}`), ...playerErrors[i]!])].join(', ');
    return { player: v.player, errors, borderline: ref.borderline, reported, ref: ref.stallMs, frozen: ref.frozenMs, err: Math.abs(reported - ref.stallMs) / ref.stallMs, stalls: ref.stalls, counted: total(e.samples, 'stall_count'), beacons: e.beacons };
  });
  const lines = [
    '### Stall accuracy with real players (bench/players.ts accuracy)',
    '',
    `${machineLine()}: ${players} players (hls.js HLS, dash.js DASH, Shaka DASH in turn; separate audio/video tracks), ${stalls.length} throttled stalls each (every player frozen ≥ ${stalls.join(' / ')} ms), 2 s intervals.`,
    '',
    '| player | reported stall_ms | reference (frame gaps) | error | stalls (reference / stall_count) | final beacons | picture frozen, seeks included | gaps within 20 ms of 500 ms (reference) | errors (SDK samples; player events) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.player} | ${r.reported} | ${Math.round(r.ref)} | ${(100 * r.err).toFixed(2)} % | ${r.stalls} / ${r.counted} | ${r.beacons} | ${Math.round(r.frozen)} | ${r.borderline.join(', ') || '—'} | ${r.errors || '—'} |`),
    '',
    `Max error ${(100 * Math.max(...rows.map((r) => r.err))).toFixed(2)} %, mean ${((100 * rows.reduce((a, r) => a + r.err, 0)) / rows.length).toFixed(2)} %; stalls counted ${rows.reduce((a, r) => a + r.counted, 0)} of ${rows.reduce((a, r) => a + r.stalls, 0)}; final beacons ${rows.reduce((a, r) => a + r.beacons, 0)} for ${rows.length} players.`,
    '',
    NOTE_ACCURACY,
  ];
  return lines;
}

/** The page's main-thread time so far, in seconds (CDP counts from Performance.enable on this session). */
async function mainThread(cdp: CDPSession): Promise<{ task: number; script: number }> {
  const { metrics } = await cdp.send('Performance.getMetrics');
  const m = (name: string) => metrics.find((x) => x.name === name)?.value ?? 0;
  return { task: m('TaskDuration'), script: m('ScriptDuration') };
}

/**
 * CPU seconds (user + system, from /proc) of every Chromium process: the browser this process launched and its
 * children (renderers, GPU, network, audio). With one player page open at a time, its change is that page's cost.
 */
function chromiumCpuSeconds(): number {
  const procs = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return [{ pid: Number(pid), ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) }];
    } catch {
      return []; // gone meanwhile
    }
  });
  const tree = new Set([process.pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) {
      if (tree.has(p.ppid) && !tree.has(p.pid)) {
        tree.add(p.pid);
        grew = true;
      }
    }
  }
  return procs.filter((p) => p.pid !== process.pid && tree.has(p.pid)).reduce((a, p) => a + p.ticks, 0) / 100;
}

async function cpu(browser: BrowserContext, live: LiveStreamServer, endpoint: string): Promise<string[]> {
  const warmup = env('WARMUP_S', 5) * 1000, measure = env('MEASURE_S', 20) * 1000, reps = env('REPS', 2);
  const acc = new Map<string, { task: number; script: number; proc: number; n: number }>();
  for (let rep = 0; rep < reps; rep++) {
    for (const player of KINDS) {
      for (const sdk of rep % 2 ? [false, true] : [true, false]) {
        const v = await joinPlayer(browser, live, player, { endpoint, key: INGEST_KEY, intervalMs: 10_000, sdk, ref: false });
        const cdp = await v.page.context().newCDPSession(v.page);
        await cdp.send('Performance.enable');
        await new Promise((r) => setTimeout(r, warmup));
        const a = await mainThread(cdp);
        const procA = chromiumCpuSeconds();
        await new Promise((r) => setTimeout(r, measure));
        const b = await mainThread(cdp);
        const procB = chromiumCpuSeconds();
        await cdp.detach();
        await v.page.close();
        const key = `${player} ${sdk ? 'sdk' : 'bare'}`;
        const e = acc.get(key) ?? { task: 0, script: 0, proc: 0, n: 0 };
        const s = measure / 1000;
        acc.set(key, { task: e.task + (b.task - a.task) / s, script: e.script + (b.script - a.script) / s, proc: e.proc + (procB - procA) / s, n: e.n + 1 });
      }
    }
  }
  const per = (k: string) => {
    const e = acc.get(k)!;
    return { task: (1000 * e.task) / e.n, script: (1000 * e.script) / e.n, proc: (1000 * e.proc) / e.n };
  };
  return [
    '### CPU per player page (bench/players.ts cpu)',
    '',
    `${machineLine()}: per second of playback, one page at a time, ${reps} × ${measure / 1000} s per cell after ${warmup / 1000} s warm-up, SDK with 10 s intervals: CPU of all Chromium processes (/proc, user + system), and the page's main-thread task and script time (CDP Performance.getMetrics; wall time of tasks, so inflated on a busy machine).`,
    '',
    '| player | Chromium CPU ms/s without SDK | with SDK | SDK adds | main-thread task ms/s without | with | SDK adds | script ms/s without | with | SDK adds |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...KINDS.map((p) => {
      const bare = per(`${p} bare`), sdk = per(`${p} sdk`);
      return `| ${p} | ${bare.proc.toFixed(1)} | ${sdk.proc.toFixed(1)} | ${(sdk.proc - bare.proc).toFixed(1)} | ${bare.task.toFixed(1)} | ${sdk.task.toFixed(1)} | ${(sdk.task - bare.task).toFixed(1)} | ${bare.script.toFixed(1)} | ${sdk.script.toFixed(1)} | ${(sdk.script - bare.script).toFixed(1)} |`;
    }),
    '',
    NOTE_CPU,
  ];
}

/** Puts each "### …" part of `body` into BENCHMARKS.md's "## Player SDK" section, replacing the part of that name. */
function writePlayerSdk(body: string): void {
  const file = join(REPO_ROOT, 'BENCHMARKS.md');
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf('\n## Player SDK\n');
  if (start < 0) throw new Error('BENCHMARKS.md has no "## Player SDK" section');
  const next = text.indexOf('\n## ', start + 1);
  const end = next < 0 ? text.length : next;
  let section = text.slice(start, end).trimEnd();
  for (const part of body.trim().split(/\n(?=### )/).filter((p) => p.startsWith('### '))) {
    const heading = part.split('\n')[0]!;
    const at = section.indexOf(`\n${heading}\n`);
    if (at < 0) section = `${section}\n\n${part.trim()}`;
    else {
      const after = section.indexOf('\n### ', at + 1);
      section = `${section.slice(0, at)}\n${part.trim()}${after < 0 ? '' : `\n${section.slice(after)}`}`;
    }
  }
  writeFileSync(file, `${text.slice(0, start)}${section}\n${text.slice(end)}`);
}

async function main(): Promise<void> {
  if (!HAVE_CHROMIUM) throw new Error(NO_CHROMIUM_MESSAGE);
  const args = process.argv.slice(2);
  const parts = args.some((a) => !a.startsWith('--')) ? args : ['accuracy', 'cpu'];
  // The bundle as the sources build it now (npm run build does the same).
  execFileSync(process.execPath, [join(REPO_ROOT, 'sdk/web/build.mjs')]);
  const root = mkdtempSync(join(tmpdir(), 'qoswatch-bench-players-'));
  process.env.QOSWATCH_TEST_TMP = root;
  const live = new LiveStreamServer(await liveSource(900), { files: playerFiles() });
  await live.start();
  const app = await startApp({ env: { QOSWATCH_LOG_LEVEL: 'warn' } });
  const proxy = new RecordingProxy(app.url);
  await proxy.start();
  const browser = await launchBrowser();
  try {
    const out: string[] = [];
    if (parts.includes('accuracy')) out.push(...(await accuracy(browser, live, proxy.url, proxy)), '');
    if (parts.includes('cpu')) out.push(...(await cpu(browser, live, app.url)), '');
    console.log(out.join('\n'));
    if (args.includes('--write')) writePlayerSdk(out.join('\n'));
  } finally {
    await browser.close();
    await live.stop();
    await proxy.stop();
    await app.close();
    rmSync(root, { recursive: true, force: true });
  }
}

await main();

import { HAVE_INFLUXD, InfluxServer, NO_INFLUXD_MESSAGE } from '../test/helpers/influxd.js';
import { CLI, ServiceProcess } from '../test/helpers/service.js';
import { buildRevision } from './baseline.js';
import { CeilingServer } from './ceiling.js';
import { type IngestResult, type LoadOptions, type Target, httpLoad, lineTarget, parseRate, telemetryTarget, writerProbe, wsLoad } from './ingest.js';
import { fmt } from './machine.js';
import { REALISTIC, type StampedPool, linePool, realisticState, smallState } from './pools.js';
import { stateEnv } from './scale.js';
import { HAVE_VICTORIA, NO_VICTORIA_MESSAGE, VictoriaServer } from './victoria.js';

/**
 * The ingest section of `npm run bench`: steady-state ingest of the built service (fresh timestamps, windows closing
 * and written to a real influxd, journal pruned) at a small and at a realistic state, beside the peers, the bare
 * stack's ceiling and JSON.parse, in interleaved rounds (every system a fresh process per round), then open loop at
 * shares of the closed-loop medians. BENCH_ROUNDS (3), BENCH_SECONDS (20: each measured qoswatch load),
 * BENCH_PEER_SECONDS (8: peers, ceiling and open loop), BENCH_WARMUP (35 s before a qoswatch process is measured),
 * BENCH_BASELINE=<git rev> (adds that build, measured the same way in every round).
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const PEER_SECONDS = Number(process.env.BENCH_PEER_SECONDS ?? 8);
/** 10 s windows + 15 s grace: the first window closes 25 s in; 35 s also sees it written and its journal rows pruned. */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 35);
const BASELINE = process.env.BENCH_BASELINE;

/** Non-default settings of every qoswatch process (the realistic state adds stateEnv's caps and budgets). */
const SERVICE_ENV = { QOSWATCH_LOG_LEVEL: 'warn', QOSWATCH_RATE_LIMIT: '1000000/1s' };

type State = 'small' | 'realistic';
interface Row {
  system: string;
  load: string;
  state: State;
  kind: 'qoswatch' | 'peer' | 'ceiling' | 'parse';
  /** Per round (undefined: not measured in that round). */
  runs: (IngestResult | undefined)[];
}
interface Build {
  name: string;
  cli: string;
}

const LOAD = {
  b1000: 'HTTP, batches of 1000, 8 in flight',
  b100: 'HTTP, batches of 100, 16 in flight',
  ws100: 'WebSocket, frames of 100, 4 connections × 16 in flight',
  best: 'HTTP, batches of 5000 (its best batch), 8 in flight',
  parse: 'JSON.parse of the bodies of 1000, one core, in process',
};

export async function ingestSection(): Promise<{ md: string; headline: string; peers: string }> {
  const builds: Build[] = [{ name: 'qoswatch', cli: CLI }];
  if (BASELINE) {
    const b = buildRevision(BASELINE);
    builds.push({ name: `qoswatch @${b.commit}`, cli: b.cli });
  }
  const pools = {
    small1000: smallState(1000), small100: smallState(100), real1000: realisticState(1000),
    influx: { 1000: linePool(1000, true), 5000: linePool(5000, true) }, vm: { 1000: linePool(1000, false), 5000: linePool(5000, false) },
  };
  const rows = new Map<string, Row>();
  const record = (round: number, row: Omit<Row, 'runs'>, r: IngestResult) => {
    const key = `${row.system}|${row.load}|${row.state}`;
    const entry = rows.get(key) ?? { ...row, runs: [] };
    rows.set(key, entry);
    entry.runs[round] = r;
    console.log(`  ${row.system}, ${row.load}, ${row.state} state: ${fmt(r.samplesPerSec)} samples/s, ${fmt(r.cpuMsPer100k)} ms CPU per 100 k${r.writer ? `, ${fmt(r.writer.pointsWritten)} points written, ${r.writer.influxWrites} InfluxDB writes` : ''}`);
  };

  let influx: InfluxServer | undefined;
  let dbs = 0;
  if (HAVE_INFLUXD) influx = await InfluxServer.launch();
  else console.warn(NO_INFLUXD_MESSAGE);
  /** A qoswatch process writing to its own database of the section's influxd. */
  const startService = async (build: Build, env: Record<string, string>) => {
    const writer: Record<string, string> = {};
    if (influx) {
      const db = `qoswatch${++dbs}`;
      await influx.createDb(db);
      Object.assign(writer, { INFLUX_URL: influx.url, INFLUX_API: 'v1', INFLUX_DB: db });
    }
    const svc = new ServiceProcess({ ...env, ...writer }, undefined, build.cli);
    await svc.start();
    const target = telemetryTarget(svc.url, svc.proc!.pid!);
    const probe = writerProbe(svc);
    const closed = (pool: StampedPool, opts: LoadOptions) => httpLoad(target, pool, SECONDS, { ...opts, probe });
    return { svc, target, probe, closed };
  };
  const stopService = async (svc: ServiceProcess) => {
    await svc.stop('SIGTERM');
    svc.cleanup();
  };

  /** One warmed-up process for the three loads at the small state (they differ in batch and transport only). */
  const small = (build: Build) => async (round: number) => {
    const s = await startService(build, SERVICE_ENV);
    try {
      await httpLoad(s.target, pools.small1000, WARMUP, { concurrency: 8, warmupMs: 0 });
      const row = (load: string) => ({ system: build.name, load, state: 'small' as const, kind: 'qoswatch' as const });
      record(round, row(LOAD.b1000), await s.closed(pools.small1000, { concurrency: 8 }));
      record(round, row(LOAD.b100), await s.closed(pools.small100, { concurrency: 16 }));
      record(round, row(LOAD.ws100), await wsLoad(s.svc, pools.small100, SECONDS, { connections: 4, window: 16, probe: s.probe }));
    } finally {
      await stopService(s.svc);
    }
  };
  /** The realistic state in its own process: its caps and budgets differ, and its state must not mix with the small one. */
  const realistic = (build: Build) => async (round: number) => {
    const s = await startService(build, { ...SERVICE_ENV, ...stateEnv(REALISTIC.series, REALISTIC.sessions) });
    try {
      await httpLoad(s.target, pools.real1000, WARMUP, { concurrency: 8, warmupMs: 0 });
      record(round, { system: build.name, load: LOAD.b1000, state: 'realistic', kind: 'qoswatch' }, await s.closed(pools.real1000, { concurrency: 8 }));
    } finally {
      await stopService(s.svc);
    }
  };
  /** A peer in its own process per round, at batches of 1000 (the compared load) and 5000 (its best). */
  const linePeer = <P extends { destroy(): Promise<void> }>(system: string, launch: () => Promise<P>, target: (peer: P, batch: 1000 | 5000) => Promise<Target>, pool: Record<1000 | 5000, StampedPool>) =>
    async (round: number) => {
      const peer = await launch();
      try {
        for (const batch of [1000, 5000] as const) {
          record(round, { system, load: batch === 1000 ? LOAD.b1000 : LOAD.best, state: 'small', kind: 'peer' }, await httpLoad(await target(peer, batch), pool[batch], PEER_SECONDS, { concurrency: 8 }));
        }
      } finally {
        await peer.destroy();
      }
    };
  const influxPeer = linePeer('peer: InfluxDB 1.x /write, line protocol', () => InfluxServer.launch(), async (peer, batch) => {
    await peer.createDb(`peer${batch}`);
    return lineTarget(new URL(`/write?db=peer${batch}&precision=ns`, peer.url), peer.pid!);
  }, pools.influx);
  const victoriaPeer = linePeer('peer: VictoriaMetrics /write, line protocol', () => VictoriaServer.launch(), async (vm) => lineTarget(new URL('/write?precision=ns', vm.url), vm.pid), pools.vm);
  const ceiling = async (round: number) => {
    const c = await CeilingServer.launch();
    try {
      const target = telemetryTarget(c.url, c.pid);
      const row = (load: string, state: State) => ({ system: 'ceiling: bare fastify route', load, state, kind: 'ceiling' as const });
      record(round, row(LOAD.b1000, 'small'), await httpLoad(target, pools.small1000, PEER_SECONDS, { concurrency: 8 }));
      record(round, row(LOAD.b100, 'small'), await httpLoad(target, pools.small100, PEER_SECONDS, { concurrency: 16 }));
      record(round, row(LOAD.b1000, 'realistic'), await httpLoad(target, pools.real1000, PEER_SECONDS, { concurrency: 8 }));
    } finally {
      await c.destroy();
    }
  };
  const parse = async (round: number) => {
    for (const [state, pool] of [['small', pools.small1000], ['realistic', pools.real1000]] as const) {
      record(round, { system: 'ceiling: JSON.parse alone', load: LOAD.parse, state, kind: 'parse' }, parseRate(pool, 3));
    }
  };

  // Groups run in an order rotated every round and reversed every other round (the builds of a group then swap
  // places: A/B, B/A), so drift on the shared machine spreads over all systems instead of hitting the last ones.
  type Unit = { name: string; run: (round: number) => Promise<void> };
  const groups: Unit[][] = [
    builds.map((b) => ({ name: `${b.name}, small state`, run: small(b) })),
    ...(influx ? [[{ name: 'peer InfluxDB', run: influxPeer }]] : []),
    builds.map((b) => ({ name: `${b.name}, realistic state`, run: realistic(b) })),
    ...(HAVE_VICTORIA ? [[{ name: 'peer VictoriaMetrics', run: victoriaPeer }]] : []),
    [{ name: 'ceiling (bare fastify)', run: ceiling }],
    [{ name: 'JSON.parse', run: parse }],
  ];
  if (!HAVE_VICTORIA) console.warn(NO_VICTORIA_MESSAGE);
  const started = performance.now();
  const open: { build: string; load: string; share: number; targetRps: number; r: IngestResult }[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const k = round % groups.length;
      const rotated = [...groups.slice(k), ...groups.slice(0, k)].flat();
      const order = round % 2 ? rotated.reverse() : rotated;
      console.log(`ingest round ${round + 1}/${ROUNDS}: ${order.map((u) => u.name).join(' → ')}`);
      for (const u of order) await u.run(round);
    }
    // Open loop, after the rounds: its target rates are the medians of the closed-loop rounds of the same row.
    for (const build of builds) {
      const s = await startService(build, SERVICE_ENV);
      try {
        console.log(`ingest open loop: ${build.name}…`);
        await httpLoad(s.target, pools.small1000, WARMUP, { concurrency: 8, warmupMs: 0 });
        for (const [load, pool] of [[LOAD.b1000, pools.small1000], [LOAD.b100, pools.small100]] as const) {
          const closed = rows.get(`${build.name}|${load}|small`)!;
          const base = median(closed.runs.map((r) => r?.requestsPerSec));
          for (const share of [0.5, 0.9]) {
            const targetRps = base * share;
            const r = await httpLoad(s.target, pool, PEER_SECONDS, { concurrency: 64, targetRps });
            console.log(`  ${build.name}, ${load} at ${share * 100} %: p50 ${fmt(r.p50ms, 1)} ms, p99 ${fmt(r.p99ms, 1)} ms`);
            open.push({ build: build.name, load, share, targetRps, r });
          }
        }
      } finally {
        await stopService(s.svc);
      }
    }
  } finally {
    await influx?.destroy();
  }
  const minutes = (performance.now() - started) / 60_000;
  console.log(`ingest section: ${fmt(minutes, 1)} min`);
  return report([...rows.values()], open, builds, minutes, Boolean(influx));
}

// ---------------------------------------------------------------------------------------------------------------
// Figures over rounds.

function median(xs: readonly (number | undefined)[]): number {
  const v = xs.filter((x): x is number => x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

/** "median (min–max)" over rounds; one figure when every round gave the same. */
function spread(xs: readonly (number | undefined)[], digits = 0, unit = ''): string {
  const v = xs.filter((x): x is number => x !== undefined && Number.isFinite(x));
  if (!v.length) return '—';
  const f = (x: number) => fmt(x, digits);
  const [lo, hi] = [Math.min(...v), Math.max(...v)];
  return f(lo) === f(hi) ? `${f(lo)}${unit}` : `${f(median(v))}${unit} (${f(lo)}–${f(hi)})`;
}

/** The ratio a / b of each round in which both ran, as "× median (min–max)". */
function ratio(a: Row | undefined, b: Row | undefined, pick: (r: IngestResult) => number): string {
  if (!a || !b) return '—';
  const per = a.runs.map((r, i) => (r && b.runs[i] ? pick(r) / pick(b.runs[i]!) : undefined));
  const s = spread(per, 2);
  return s === '—' ? s : `× ${s}`;
}

const col = (row: Row, pick: (r: IngestResult) => number, digits = 0, unit = '') => spread(row.runs.map((r) => (r ? pick(r) : undefined)), digits, unit);

function report(rows: Row[], open: { build: string; load: string; share: number; targetRps: number; r: IngestResult }[], builds: Build[], minutes: number, writerOn: boolean) {
  const find = (system: string, load: string, state: State) => rows.find((r) => r.system === system && r.load === load && r.state === state);
  const ceilingOf = (row: Row) => find('ceiling: bare fastify route', row.load === LOAD.ws100 ? LOAD.b100 : row.load, row.state);
  const parseOf = (row: Row) => find('ceiling: JSON.parse alone', LOAD.parse, row.state);
  const sps = (r: IngestResult) => r.samplesPerSec;
  const spc = (r: IngestResult) => r.samplesPerCpuSec;
  const order = { qoswatch: 0, ceiling: 1, parse: 2, peer: 3 };
  const byState = (state: State) => rows.filter((r) => r.state === state).sort((a, b) => order[a.kind] - order[b.kind]);

  const main = (state: State) => [
    '| system | load | samples/s | samples per CPU-second | CPU per 100 k samples | server CPU | latency p50 / p99 (closed loop) | 429/s | server peak RSS | samples/s ÷ ceiling (bare fastify) | samples/s ÷ JSON.parse |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...byState(state).map((row) => {
      const q = row.kind === 'qoswatch';
      const lat = row.kind === 'parse' ? '—' : `${fmt(median(row.runs.map((r) => r?.p50ms)), 1)} / ${fmt(median(row.runs.map((r) => r?.p99ms)), 1)} ms`;
      return `| ${row.system} | ${row.load} | ${col(row, sps)} | ${col(row, spc)} | ${col(row, (r) => r.cpuMsPer100k, 0, ' ms')} | ${col(row, (r) => r.serverCpuPercent, 0, ' %')} | ${lat} | ${row.kind === 'parse' ? '—' : fmt(median(row.runs.map((r) => r?.refusedPerSec)))} | ${row.kind === 'parse' ? '—' : `${fmt(Math.max(...row.runs.map((r) => r?.peakRssMiB ?? 0)))} MiB`} | ${q ? ratio(row, ceilingOf(row), sps) : '—'} | ${q ? ratio(row, parseOf(row), sps) : '—'} |`;
    }),
  ].join('\n');

  const qoswatchRows = rows.filter((r) => r.kind === 'qoswatch');
  const writer = [
    '| system | state | load | series / live sessions at end | InfluxDB writes | points written to InfluxDB | InfluxDB write errors | spool points at end | journal: SQLite rows committed / deleted / held at end, or segment files / MiB held at end | data dir at end |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...qoswatchRows.map((row) => {
      const w = (pick: (f: NonNullable<IngestResult['writer']>) => number | undefined, digits = 0, unit = '') => col(row, (r) => (r.writer ? (pick(r.writer) ?? NaN) : NaN), digits, unit);
      const j = row.runs.some((r) => r?.writer?.journal)
        ? `${w((f) => f.journal?.appended)} rows / ${w((f) => f.journal?.pruned)} / ${w((f) => f.journal?.heldAtEnd)}`
        : row.runs.some((r) => r?.writer?.segments)
          ? `${w((f) => f.segments?.files)} segments / ${w((f) => f.segments?.mib, 1, ' MiB')}`
          : '—';
      return `| ${row.system} | ${row.state} | ${row.load} | ${w((f) => f.seriesAtEnd)} / ${w((f) => f.liveSessionsAtEnd)} | ${w((f) => f.influxWrites)} | ${w((f) => f.pointsWritten)} | ${w((f) => f.writeErrors)} | ${w((f) => f.spoolPointsAtEnd)} | ${j} | ${w((f) => f.dataDirMiB, 1, ' MiB')} |`;
    }),
  ].join('\n');

  const q1000 = find('qoswatch', LOAD.b1000, 'small');
  const peers = rows.filter((r) => r.kind === 'peer');
  const vsPeers = [
    '| qoswatch (HTTP, batches of 1000, 8 in flight, small state) ÷ peer | samples/s | samples per CPU-second |',
    '| --- | ---: | ---: |',
    ...peers.map((p) => `| ÷ ${p.system.replace('peer: ', '')}, ${p.load} | ${ratio(q1000, p, sps)} | ${ratio(q1000, p, spc)} |`),
  ].join('\n');

  const base = builds[1];
  const ab = base
    ? [
        `| load | state | samples per CPU-second: qoswatch ÷ ${base.name} | samples/s: qoswatch ÷ ${base.name} | CPU per 100 k samples: qoswatch · ${base.name} |`,
        '| --- | --- | ---: | ---: | ---: |',
        ...qoswatchRows.filter((r) => r.system === 'qoswatch').map((row) => {
          const b = find(base.name, row.load, row.state);
          return `| ${row.load} | ${row.state} | ${ratio(row, b, spc)} | ${ratio(row, b, sps)} | ${col(row, (r) => r.cpuMsPer100k, 0, ' ms')} · ${b ? col(b, (r) => r.cpuMsPer100k, 0, ' ms') : '—'} |`;
        }),
      ].join('\n')
    : '';

  const openTable = [
    '| system | load | target rate (share of the closed-loop median) | requests/s achieved | samples/s | latency p50 | p99 | 429/s | server CPU |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...open.map((o) => `| ${o.build} | ${o.load} | ${fmt(o.targetRps)} req/s (${o.share * 100} %) | ${fmt(o.r.requestsPerSec)} | ${fmt(o.r.samplesPerSec)} | ${fmt(o.r.p50ms, 1)} ms | ${fmt(o.r.p99ms, 1)} ms | ${fmt(o.r.refusedPerSec)} | ${fmt(o.r.serverCpuPercent)} % |`),
  ].join('\n');

  const md = [
    `### Ingest throughput (steady state, InfluxDB writer ${writerOn ? 'on (real influxd 1.x)' : 'OFF: influxd not installed'}; ${ROUNDS} interleaved round${ROUNDS === 1 ? '' : 's'}${base ? `, A/B against ${base.name}` : ''}; ${fmt(minutes, 1)} min)`,
    `Every figure is the median over ${ROUNDS} round${ROUNDS === 1 ? '' : 's'} with the range (min–max) in parentheses; ratios are taken per round (both systems of the same round) and then summarised the same way. In every round each system runs once as a fresh process, in an order rotated every round and reversed every other round (the builds of each state next to each other, swapping places every round: A/B, B/A; the peers and the ceiling between), so drift on the shared machine spreads over all systems. Loopback; the service is one Node.js process (one core for its JavaScript). "Server CPU" is the process under test only (qoswatch, influxd, victoria-metrics or the ceiling app; above 100 % means several threads): the influxd that qoswatch writes to is not counted. Samples per CPU-second = samples accepted ÷ the server's CPU seconds (user + system).`,
    `**Steady state.** Request bodies are pooled as string parts around their timestamps and restamped with the current second when sent, so windows keep closing. Each qoswatch process is first loaded for ${WARMUP} s (closed loop, batches of 1000; 10 s windows + 15 s grace: the first window closes 25 s in), so windows have closed, been written to a real influxd (its own database per process) and their journal rows pruned before anything is measured; each load then runs 2 s unmeasured and ${SECONDS} s measured, across ${Math.floor(SECONDS / 10)} or more window closes (one every 10 s). The writer table below shows what the InfluxDB writer, the spool and the journal did during each measure. At the small state one process (per build and round) serves its three loads in turn; the realistic state has its own process. Peers and the ceiling: 2 s + ${PEER_SECONDS} s.`,
    `**State.** Small: the beacons of bench/samples.ts (8 regions × 5 ISPs × 3 CDNs × 3 platforms: 96 series; up to 32 k sessions in the pool of batches of 1000, 3.2 k in that of 100). Realistic: the memory row's generator (bench/scale.ts): ≈ ${fmt(REALISTIC.series)} series (100 regions × (1 + 5 dimensions × 20 values)) and ${fmt(REALISTIC.sessions)} sessions, every one of them live in each pass over the pool.`,
    `**Settings.** Every qoswatch process: the shipped rules (\`alert-rules/\`) evaluated on the stream, ${Object.entries(SERVICE_ENV).map(([k, v]) => `\`${k}=${v}\``).join(', ')} (the default rate limit of 2000 requests/s per key would cap the load, and info logs one line per request), \`INFLUX_API=v1\`. The realistic state adds the caps and budgets of the memory row, each at twice the state so that none sheds: ${Object.entries(stateEnv(REALISTIC.series, REALISTIC.sessions)).filter(([k]) => !(k in SERVICE_ENV)).map(([k, v]) => `\`${k}=${v}\``).join(', ')}. Every other setting is the default.`,
    `**The same work.** The compared rows use the same batch size and concurrency for every system: HTTP batches of 1000 samples (or points), 8 requests in flight. qoswatch also runs batches of 100 with 16 in flight and WebSocket frames of 100 (4 connections × 16 frames in flight); each peer also at batches of 5000, its best batch, labelled so. Peers get the same beacons as line protocol, one point per sample, each with its own timestamp (InfluxDB with the session id as a string field; VictoriaMetrics numeric fields only) and store raw points: no validation, no aggregation, no journal, no rules.`,
    `**Ceiling.** "bare fastify route" is bench/ceiling-server.ts as its own process: the same fastify version, \`POST /v1/telemetry\` parsing the same JSON with fastify's default parser and answering 202 {accepted: n} — what this stack could do with no work per sample; "JSON.parse alone" parses the same bodies in the benchmark process on one core. Every qoswatch row shows its samples/s as a share of both (the WebSocket row against the HTTP route with batches of 100).`,
    '#### Small state\n\n' + main('small'),
    '#### Realistic state (≈ 10 k series, 100 k live sessions)\n\n' + main('realistic'),
    '#### The writer ran: InfluxDB writes, spool and journal during each measure\n\n' + writer +
      '\n\nSeries and live sessions = `qoswatch_window_series` and `qoswatch_live_sessions` at the end; InfluxDB writes = write requests (`qoswatch_influx_write_duration_seconds_count`) during the measure; points written = `qoswatch_influx_points_written_total` during the measure; spool = `qoswatch_spool_depth_points` at its end; journal: for a build with the SQLite journal (before issue 16), its rows (one per accepted batch) read from `ingest.db` read-only beside the service, committed and deleted during the measure and held at its end; for a build with segment files, `qoswatch_journal_segments` and `qoswatch_journal_bytes` at the end (a segment is deleted whole once its window is stored); data dir = everything on disk under QOSWATCH_DATA_DIR at the end.',
    '#### qoswatch ÷ peers (per round)\n\n' + vsPeers,
    ...(base
      ? [`#### A/B: this build ÷ ${base.name} (per round, the same loads in the same rounds)\n\n${ab}\n\n${base.name} was built from \`git archive\` of that revision with this checkout's node_modules (\`tsc -p tsconfig.build.json\`) and runs from its own directory (its own \`alert-rules/\`).`]
      : []),
    `#### Open loop (latency from each request's scheduled send time)\n\n${openTable}\n\nAfter the rounds, one process per build (warmed up for ${WARMUP} s as above) takes requests on a fixed schedule at 50 % and 90 % of the median closed-loop request rate of the same row in this run, up to 64 in flight, ${PEER_SECONDS} s each; latency runs from the time a request was due, not the time it left, so a stall counts for every request queued behind it (no coordinated omission).`,
  ].join('\n\n');

  const med = (row: Row | undefined) => (row ? `${fmt(median(row.runs.map((r) => r?.samplesPerSec)) / 1000)} k` : '—');
  const q = (load: string, state: State = 'small') => find('qoswatch', load, state);
  const headline = `${[q(LOAD.b100), q(LOAD.b1000), q(LOAD.ws100), q(LOAD.b1000, 'realistic')].map(med).join(' · ')} (${q1000 ? fmt(median(q1000.runs.map((r) => r?.cpuMsPer100k))) : '—'} ms)`;
  const peerHead = ['peer: InfluxDB 1.x /write, line protocol', 'peer: VictoriaMetrics /write, line protocol'].map((s) => med(find(s, LOAD.best, 'small'))).join(' · ');
  return { md, headline, peers: peerHead };
}

import { join } from 'node:path';
import pino from 'pino';
import { afterEach } from 'vitest';
import type { FastifyBaseLogger } from 'fastify';
import { Metrics } from '../../src/metrics.js';
import type { InfluxSink } from '../../src/storage/influx/sink.js';
import { openIngestDb } from '../../src/storage/ingest-db.js';
import { openLocalIngestLog } from '../../src/storage/ingest-log/local.js';
import type { SegmentLog } from '../../src/storage/ingest-log/segment-log.js';
import { PointsOutbox } from '../../src/storage/points-outbox.js';
import type { Db } from '../../src/storage/sqlite.js';
import { openStateDb } from '../../src/storage/state-db.js';
import { stateOn } from './state.js';
import type { DimValueRecord } from '../../src/storage/state/dim-values.js';
import { IngestPipeline, type PipelineDeps, type PipelineOptions } from '../../src/telemetry/pipeline.js';
import { tempDir } from './tmp.js';

export const PIPELINE_DEFAULTS: PipelineOptions = {
  windowMs: 10_000,
  graceMs: 15_000,
  horizonMs: 60_000,
  maxSampleAgeMs: 86_400_000,
  flushIntervalMs: 1000,
  spoolMaxBytes: 1024 ** 3,
  batchLines: 5000,
  rawSamples: false,
  capOf: () => 100,
  tenantLimits: () => ({ series: 12_000, points: 24_000, sessions: 120_000 }),
  globalLimits: { series: 22_000, sessions: 268_000 },
  dimTtlMs: 6 * 3_600_000,
  maxLiveMs: 300_000,
};

/** A sink that is never called: the pipeline is not started, so points stay in the spool for inspection. */
export const idleSink: InfluxSink = {
  target: 'idle',
  write: () => Promise.reject(new Error('idleSink must not be written')),
};

/** A pipeline over SQLite files in `dir`; opening it again on the same dir is a restart. */
export class PipelineHarness {
  now: number;
  readonly dir: string;
  /** Metrics, log lines and points outbox of the pipeline opened last. */
  metrics = new Metrics();
  points = new PointsOutbox(true);
  logs: { level: number; msg: string; [k: string]: unknown }[] = [];
  private dbs: Db[] = [];
  private ingestLogs: SegmentLog[] = [];

  constructor(start: number, dir = tempDir('qoswatch-pipe')) {
    this.now = start;
    this.dir = dir;
  }

  open(opts: Partial<PipelineOptions> = {}, sink: InfluxSink | undefined = idleSink, enrich?: PipelineDeps['enrich']): IngestPipeline {
    const ingestDb = openIngestDb(join(this.dir, 'ingest.db'));
    const stateDb = openStateDb(join(this.dir, 'state.db'));
    const ingestLog = openLocalIngestLog(this.logDir, ingestDb);
    this.dbs.push(ingestDb, stateDb);
    this.ingestLogs.push(ingestLog);
    this.metrics = new Metrics();
    this.points = new PointsOutbox(sink !== undefined);
    this.logs = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void this.logs.push(JSON.parse(line)) }) as unknown as FastifyBaseLogger;
    return new IngestPipeline(
      { ingestDb, ingestLog, dimValues: stateOn(stateDb).dimValues, admittedDims: stateDb.prepare('SELECT tenant, dim, value, last_seen AS lastSeen FROM dim_values').all() as DimValueRecord[], sink, points: this.points, metrics: this.metrics, log, clock: () => this.now, enrich },
      { ...PIPELINE_DEFAULTS, ...opts },
    );
  }

  /** Every line ever committed to the spool and still there (the pipeline is never started). */
  spoolLines(): string[] {
    const db = openIngestDb(join(this.dir, 'ingest.db'));
    try {
      return (db.prepare('SELECT body FROM spool ORDER BY seq').all() as { body: string }[]).flatMap((r) => r.body.split('\n'));
    } finally {
      db.close();
    }
  }

  /** The journal's segment files. */
  get logDir(): string {
    return join(this.dir, 'ingest-log');
  }

  /** Like a kill -9: files closed, nothing flushed (what an append wrote is in the files already). */
  closeAll(): void {
    for (const log of this.ingestLogs) log.close();
    this.ingestLogs = [];
    for (const db of this.dbs) if (db.open) db.close();
    this.dbs = [];
  }
}

export interface ParsedLine {
  measurement: string;
  tags: Record<string, string>;
  fields: Record<string, number>;
  time: bigint;
  identity: string;
}

/** Parses the rollup lines qoswatch writes (no escaped characters in the test data). */
export function parseLine(l: string): ParsedLine {
  const [head, fieldText, time] = l.split(' ') as [string, string, string];
  const [measurement, ...tagParts] = head.split(',');
  const tags = Object.fromEntries(tagParts.map((t) => t.split('=') as [string, string]));
  const fields = Object.fromEntries(
    fieldText.split(',').map((f) => {
      const [k, v] = f.split('=') as [string, string];
      return [k, Number(v.endsWith('i') ? v.slice(0, -1) : v)];
    }),
  );
  return { measurement: measurement!, tags, fields, time: BigInt(time), identity: `${head} ${time}` };
}

/** What InfluxDB holds after these writes in order: one point per identity, later fields overwrite. */
export function influxState(lines: readonly string[]): Map<string, ParsedLine> {
  const state = new Map<string, ParsedLine>();
  for (const l of lines) {
    const p = parseLine(l);
    const prev = state.get(p.identity);
    state.set(p.identity, prev ? { ...p, fields: { ...prev.fields, ...p.fields } } : p);
  }
  return state;
}

/** Sums a counter field per (measurement, tags without `late`, window start), adding late points to their window. */
export function windowTotals(state: Map<string, ParsedLine>, field: string, windowMs: number): Map<string, number> {
  const out = new Map<string, number>();
  const windowNs = BigInt(windowMs) * 1_000_000n;
  for (const p of state.values()) {
    const { late: _late, ...tags } = p.tags;
    const start = (p.time / windowNs) * windowNs;
    const k = `${p.measurement},${Object.entries(tags).map(([a, b]) => `${a}=${b}`).join(',')} ${start}`;
    out.set(k, (out.get(k) ?? 0) + (p.fields[field] ?? 0));
  }
  return out;
}

/** Harnesses for a test file, started at `start` (default T0); each test's are closed after it. */
export function harnessesClosedAfterEach(T0: number): (start?: number) => PipelineHarness {
  let open: PipelineHarness[] = [];
  afterEach(() => {
    for (const h of open) h.closeAll();
    open = [];
  });
  return (start = T0) => {
    const h = new PipelineHarness(start);
    open.push(h);
    return h;
  };
}

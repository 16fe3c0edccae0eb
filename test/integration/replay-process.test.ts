import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openIngestDb } from '../../src/storage/ingest-db.js';
import { postTelemetry } from '../helpers/app.js';
import { useInfluxServer } from '../helpers/influx-suite.js';
import { HAVE_INFLUXD, NO_INFLUXD_MESSAGE, rows } from '../helpers/influxd.js';
import { metric } from '../helpers/metrics.js';
import { CLI, ServiceProcess, runCli, servicesKilledAfterEach } from '../helpers/service.js';
import { tempDir } from '../helpers/tmp.js';

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);
if (!HAVE_INFLUXD) console.warn(NO_INFLUXD_MESSAGE);

/**
 * A heap small enough that a few hundred MB of sketch bins end the process at once (the service idles at ~26 MB of
 * heap), and large enough for everything it does legitimately.
 */
const SMALL_HEAP = { NODE_OPTIONS: '--max-old-space-size=96' };

/** The exact q-quantile with DDSketch's rank rule: the value at rank floor(q·(n−1)) of the sorted data. */
function exactQuantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}

const REGIONS = 100;
const PER_REGION = 20;
const TINY = 2.3e-308;
const HUGE = 600_000;

/** Region r's values: one just above the smallest normal double, one at the field's maximum, 18 ordinary ones. */
const valuesOf = (r: number) => Array.from({ length: PER_REGION }, (_, k) => (k === 0 ? TINY : k === 1 ? HUGE : 100 + r + k * 10));

/**
 * The batch of issue 14 item 1: 2 000 valid samples, and in every series (100 regions, each with 5 dimension
 * series) a value of 2.3e-308 beside one of 600 000 — each sketch spanning ~36 k bins before the fix.
 */
function hostileBatch(ts: number) {
  const samples = [];
  for (let r = 0; r < REGIONS; r++) {
    for (const [k, v] of valuesOf(r).entries()) {
      samples.push({
        ts,
        region: `r${r}`,
        session: `s${r}-${k}`,
        dims: { isp: `isp${r}`, cdn: `cdn${r}`, platform: `p${r}`, country: `c${r}`, sdk: `sdk${r}` },
        latency_ms: v,
        rtt_ms: Math.min(v, 60_000),
        startup_ms: v,
      });
    }
  }
  return { samples };
}

/**
 * Journal rows written into a data dir's ingest.db as the version before the segment files left them (its INSERT):
 * the first start moves them into the segment files (an upgrade) and replays them.
 */
function writeJournal(dataDir: string, bodies: readonly string[], receivedAt = Date.now()): void {
  const db = openIngestDb(join(dataDir, 'ingest.db'));
  try {
    const insert = db.prepare("INSERT INTO journal (tenant, received_at, body, max_window, dims) VALUES ('default', ?, ?, ?, ?)");
    for (const body of bodies) insert.run(receivedAt, body, Math.floor(receivedAt / 10_000), null);
  } finally {
    db.close();
  }
}

/** Rows still in the old SQLite journal table. */
function oldJournalRows(dataDir: string): number {
  const db = openIngestDb(join(dataDir, 'ingest.db'));
  try {
    return db.prepare('SELECT count(*) FROM journal').pluck().get() as number;
  } finally {
    db.close();
  }
}

function quarantined(dataDir: string): { seq: number; tenant: string; body: string; reason: string }[] {
  const db = openIngestDb(join(dataDir, 'ingest.db'));
  try {
    return db.prepare('SELECT seq, tenant, body, reason FROM journal_quarantine ORDER BY seq').all() as never;
  } finally {
    db.close();
  }
}

/** Parsed JSON log lines of a process's output. */
const logLines = (output: string) =>
  output.split('\n').flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });

const healthyBody = (ts: number, sessions: string[]) => JSON.stringify({ samples: sessions.map((session) => ({ ts, region: 'eu', session, latency_ms: 40 })) });

describe('journal replay at start (the built service as a process)', () => {
  const start = servicesKilledAfterEach();

  it('a journal row whose replay throws is quarantined (kept, counted, logged) and the service serves', async () => {
    const dataDir = tempDir('qoswatch-quarantine');
    const now = Date.now();
    writeJournal(dataDir, [healthyBody(now, ['a', 'b']), '{"samples": [not json', healthyBody(now, ['c'])], now);
    const svc = await start({}, dataDir);
    expect(await metric(svc.url, 'qoswatch_journal_quarantined_total')).toBe(1);
    expect(await metric(svc.url, 'qoswatch_journal_quarantine_rows')).toBe(1);
    // The healthy rows on both sides were replayed.
    expect(await metric(svc.url, 'qoswatch_samples_aggregated_total')).toBe(3);
    const line = logLines(svc.output).find((l) => String(l.msg).includes('quarantined'));
    expect(line).toMatchObject({ seq: 2, tenant: 'default' });
    expect(svc.output).not.toContain('not json');
    // Upgraded: the rows are in the segment files now, and gone from ingest.db.
    expect(oldJournalRows(dataDir)).toBe(0);
    expect(readdirSync(join(dataDir, 'ingest-log')).filter((f) => f.endsWith('.log'))).toEqual([`w${Math.floor(now / 10_000)}.log`]);
    expect((await postTelemetry(svc.url, { samples: [{ ts: Date.now(), region: 'eu', latency_ms: 1 }] })).status).toBe(202);
    expect(await svc.stop('SIGTERM')).toBe(0);
    expect(quarantined(dataDir)).toEqual([{ seq: 2, tenant: 'default', body: '{"samples": [not json', reason: expect.stringContaining('JSON') }]);
    // The next start replays nothing twice and quarantines nothing more.
    const again = await start({}, dataDir);
    expect(await metric(again.url, 'qoswatch_journal_quarantined_total')).toBe(0);
    expect(await metric(again.url, 'qoswatch_journal_quarantine_rows')).toBe(1);
    // Requeue writes the journal: refused while the service has it open (two writers would interleave records).
    const busy = await runCli(['journal', 'requeue', '2'], { QOSWATCH_DATA_DIR: dataDir });
    expect(busy).toEqual({ code: 1, output: expect.stringContaining(`open by process ${again.proc!.pid}`) });
    expect(await again.stop('SIGTERM')).toBe(0);

    // The operator's view: the row, its reason, never its body; requeued, the next start replays it (and, still
    // not JSON, it is quarantined again under its new seq: 5, after the batch posted above).
    const env = { QOSWATCH_DATA_DIR: dataDir };
    const list = await runCli(['journal', 'quarantined'], env);
    expect(list.code).toBe(0);
    expect(list.output).toMatch(/^seq 2\ttenant default\treceived .*\t21 bytes\tError: body is not valid JSON\n$/);
    const requeue = await runCli(['journal', 'requeue', '2'], env);
    expect(requeue).toEqual({ code: 0, output: 'requeued seq 2 as seq 5: the next start replays it\n' });
    expect((await runCli(['journal', 'quarantined'], env)).output).toBe('no quarantined journal rows\n');
    const third = await start({}, dataDir);
    expect(logLines(third.output).find((l) => String(l.msg).includes('quarantined'))).toMatchObject({ seq: 5, tenant: 'default', cause: 'error' });
  });

  it('a journal row that kills the process while it is replayed is quarantined by a later start: no crash loop', { timeout: 120_000 }, async () => {
    const dataDir = tempDir('qoswatch-deadly');
    const now = Date.now();
    // Parsing this row needs ~15 M array slots (well over the heap): the process dies with out-of-memory, which no
    // try/catch sees. Healthy rows come before and after it.
    const deadly = `{"samples":[${'0,'.repeat(15_000_000)}0]}`;
    writeJournal(dataDir, [healthyBody(now, ['a']), deadly, healthyBody(now, ['b', 'c'])], now);
    const deaths: string[] = [];
    let svc: ServiceProcess | undefined;
    for (let attempt = 0; attempt < 5 && !svc; attempt++) {
      const s = new ServiceProcess(SMALL_HEAP, dataDir);
      try {
        await s.start();
        svc = s;
      } catch (err) {
        deaths.push(String(err).slice(0, 200));
        await s.stop('SIGKILL');
      }
    }
    expect(svc, `still dying after ${deaths.length} starts: ${deaths.join(' | ')}`).toBeDefined();
    try {
      // One death in a chunk of rows, one while replaying the rows of that chunk one by one; then it is known.
      expect(deaths.length).toBeLessThanOrEqual(2);
      expect(await metric(svc!.url, 'qoswatch_journal_quarantined_total')).toBe(1);
      expect(await metric(svc!.url, 'qoswatch_samples_aggregated_total')).toBe(3);
      const line = logLines(svc!.output).find((l) => String(l.msg).includes('quarantined'));
      expect(line).toMatchObject({ seq: 2, tenant: 'default' });
      expect(await svc!.stop('SIGTERM')).toBe(0);
      const q = quarantined(dataDir);
      expect(q.map((r) => [r.seq, r.body.length, r.reason])).toEqual([[2, deadly.length, expect.stringContaining('died')]]);
    } finally {
      if (svc?.proc) await svc.stop('SIGKILL');
    }
  });
});

describe('kill -9 under load (the built service as a process)', () => {
  const start = servicesKilledAfterEach();

  /**
   * Posts batches of `size` samples from `loops` concurrent clients until the process is killed after `killAfterMs`:
   * how many samples were acknowledged (202) and how many were in flight when it died (their fate is unknown).
   */
  async function loadThenKill(svc: ServiceProcess, round: number, killAfterMs: number, loops = 8, size = 50): Promise<{ acked: number; inDoubt: number }> {
    let acked = 0, inDoubt = 0, n = 0, dead = false;
    const loop = async (k: number) => {
      while (!dead) {
        const ts = Date.now();
        const body = { samples: Array.from({ length: size }, (_, i) => ({ ts, region: 'eu', session: `r${round}-${k}-${n}-${i}`, latency_ms: 40 })) };
        n++;
        try {
          const res = await postTelemetry(svc.url, body);
          // Shed (429: the per-key rate or the loop's budget) is refused and never journaled: sent again later.
          if (res.status === 429) await new Promise((r) => setTimeout(r, 50));
          else if (res.status === 202) acked += size;
          else throw new Error(`HTTP ${res.status}`);
        } catch (err) {
          if (!dead) throw err;
          inDoubt += size;
        }
      }
    };
    const loops_ = Array.from({ length: loops }, (_, k) => loop(k));
    await new Promise((r) => setTimeout(r, killAfterMs));
    dead = true;
    expect(await svc.stop('SIGKILL')).toBe('SIGKILL');
    await Promise.all(loops_);
    return { acked, inDoubt };
  }

  it('every acknowledged sample is replayed once after each kill, seqs go on, nothing is damaged', { timeout: 120_000 }, async () => {
    const first = await start({});
    const a = await loadThenKill(first, 1, 1500);
    expect(a.acked).toBeGreaterThan(1000);
    const second = await start({}, first.dataDir);
    const replayed = await metric(second.url, 'qoswatch_samples_aggregated_total');
    expect(replayed).toBeGreaterThanOrEqual(a.acked);
    expect(replayed).toBeLessThanOrEqual(a.acked + a.inDoubt);
    expect(await metric(second.url, 'qoswatch_journal_damaged_records_total')).toBe(0);
    expect(await metric(second.url, 'qoswatch_journal_segments')).toBeGreaterThan(0);
    // Killed again under load, after the replay: both rounds come back, none twice (a reused seq would collide).
    const b = await loadThenKill(second, 2, 1500);
    const third = await start({}, first.dataDir);
    const all = await metric(third.url, 'qoswatch_samples_aggregated_total');
    expect(all).toBeGreaterThanOrEqual(replayed + b.acked);
    expect(all).toBeLessThanOrEqual(replayed + b.acked + b.inDoubt);
    expect(await metric(third.url, 'qoswatch_journal_quarantined_total')).toBe(0);
    expect(await third.stop('SIGTERM')).toBe(0);
  });
});

describe.skipIf(!HAVE_INFLUXD)('hostile numbers (the built service as a process, real InfluxDB)', () => {
  const influx = useInfluxServer();
  const start = servicesKilledAfterEach();

  it('subnormal beside huge values in every series: 202, memory bounded, sane percentiles, clean restart', async () => {
    await influx().createDb('hostile');
    const env = { ...SMALL_HEAP, INFLUX_URL: influx().url, INFLUX_API: 'v1', INFLUX_DB: 'hostile' };
    const svc = await start(env);
    const rssBefore = await metric(svc.url, 'process_resident_memory_bytes');
    const ts = Date.now();
    const batch = hostileBatch(ts);
    expect(JSON.stringify(batch).length).toBeGreaterThan(350_000);
    const res = await postTelemetry(svc.url, batch);
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(REGIONS * PER_REGION);
    // 600 series × 3 sketches: each at most a few KiB now (~290 KB each before, ~520 MB in all).
    const grown = (await metric(svc.url, 'process_resident_memory_bytes')) - rssBefore;
    expect(grown).toBeLessThan(64 * 1024 ** 2);

    // kill -9 with the batch only in the journal: the restart replays it.
    expect(await svc.stop('SIGKILL')).toBe('SIGKILL');
    const again = await start(env, svc.dataDir);
    expect(await metric(again.url, 'qoswatch_journal_quarantined_total')).toBe(0);
    expect(await metric(again.url, 'qoswatch_samples_aggregated_total')).toBe(REGIONS * PER_REGION);
    expect(await again.stop('SIGTERM')).toBe(0);

    const stored = rows(await influx().query('SELECT latency_count, latency_p50, latency_p95, latency_p99, rtt_p95, startup_p50, startup_p95 FROM qos_region GROUP BY region', 'hostile'));
    expect(stored).toHaveLength(REGIONS);
    for (const p of stored) {
      const r = Number(String(p.region).slice(1));
      const latency = valuesOf(r);
      const rtt = latency.map((v) => Math.min(v, 60_000));
      expect(p.latency_count).toBe(PER_REGION);
      for (const [field, values, q] of [
        ['latency_p50', latency, 0.5], ['latency_p95', latency, 0.95], ['latency_p99', latency, 0.99],
        ['rtt_p95', rtt, 0.95], ['startup_p50', latency, 0.5], ['startup_p95', latency, 0.95],
      ] as const) {
        const exact = exactQuantile(values, q);
        expect(Math.abs((p[field] as number) - exact) / exact, `${p.region} ${field}`).toBeLessThanOrEqual(0.01);
      }
    }
  });
});

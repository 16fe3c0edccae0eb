import { describe, expect, it } from 'vitest';
import { partitionOf } from '../../src/cluster/partitions.js';
import { Metrics } from '../../src/metrics.js';
import { Budgets } from '../../src/telemetry/budgets.js';
import { ClusterIntake, decodeRawBatch, encodeRawBatch } from '../../src/telemetry/cluster-intake.js';
import { metricValue } from '../helpers/metrics.js';
import { PIPELINE_DEFAULTS } from '../helpers/pipeline.js';

const NOW = Date.UTC(2026, 11, 5, 12, 0, 0);
const PARTITIONS = 8;

/** A raw log that keeps what is published, deduplicating message ids as JetStream does within its window. */
function memoryLog() {
  const stored: { p: number; data: Uint8Array; msgId: string }[] = [];
  const ids = new Set<string>();
  let fail: Error | undefined;
  return {
    stored,
    failWith: (e: Error | undefined) => (fail = e),
    async publish(p: number, data: Uint8Array, msgId: string) {
      if (fail) throw fail;
      if (ids.has(msgId)) return { seq: 0, duplicate: true };
      ids.add(msgId);
      stored.push({ p, data, msgId });
      return { seq: stored.length, duplicate: false };
    },
  };
}

function intake() {
  const log = memoryLog();
  const metrics = new Metrics();
  const budgets = new Budgets(PIPELINE_DEFAULTS.tenantLimits, PIPELINE_DEFAULTS.globalLimits, 10_000);
  const i = new ClusterIntake({ log, partitions: PARTITIONS, budgets, metrics, clock: () => NOW, enrich: () => ({ isp: 'Example ISP' }) }, PIPELINE_DEFAULTS.maxSampleAgeMs);
  const ingest = (samples: unknown[], key?: string) => i.ingest('acme', Buffer.from(JSON.stringify({ samples })), samples, 'http', '192.0.2.1', key);
  return { log, metrics, ingest, intake: i };
}

const s = (region: string, session: string, over: Record<string, unknown> = {}) => ({ ts: NOW - 1000, region, session, play_ms: 10_000, ...over });

describe('a cluster collector', () => {
  it('splits a batch by (tenant, region) partition, each share as the client sent it with its arrival time and derived dims', async () => {
    const t = intake();
    const regions = ['eu-west', 'us-east', 'ap-south', 'sa-east', 'eu-north'];
    const samples = regions.flatMap((r) => [s(r, `${r}-1`), s(r, `${r}-2`)]);
    const bad = { region: 'eu-west', latency_ms: -1 };
    const r = await t.ingest([...samples, bad]);
    expect(r.accepted).toBe(10);
    expect(r.rejected.map((x) => x.index)).toEqual([10]);
    const byPartition = new Map<number, unknown[]>();
    for (const x of samples) {
      const p = partitionOf('acme', x.region, PARTITIONS);
      byPartition.set(p, [...(byPartition.get(p) ?? []), x]);
    }
    expect(t.log.stored.map((m) => m.p).sort()).toEqual([...byPartition.keys()].sort());
    for (const m of t.log.stored) {
      const b = decodeRawBatch(m.data);
      expect(b).toEqual({ tenant: 'acme', receivedAt: NOW, dims: JSON.stringify({ isp: 'Example ISP' }), samples: byPartition.get(m.p) });
    }
    const text = await t.metrics.registry.metrics();
    expect(metricValue(text, 'qoswatch_samples_accepted_total{transport="http"}')).toBe(10);
    expect(metricValue(text, 'qoswatch_batches_total{transport="http",outcome="partial"}')).toBe(1);
  });

  it('stores a batch whose valid samples are in one partition as its body was received (not encoded again)', async () => {
    const t = intake();
    const samples = [s('eu-west', 'a'), s('eu-west', 'b'), { region: 'elsewhere', latency_ms: -1 }];
    const body = Buffer.from(JSON.stringify({ sdk: 'web/1', samples }));
    await t.intake.ingest('acme', body, samples, 'http', '192.0.2.1');
    expect(t.log.stored).toHaveLength(1);
    const m = t.log.stored[0]!;
    expect(m.p).toBe(partitionOf('acme', 'eu-west', PARTITIONS));
    expect(Buffer.from(m.data).subarray(-body.length).equals(body), 'the body, byte for byte').toBe(true);
    // The owner reads every sample back and validates them again: the invalid one is refused again there.
    expect(decodeRawBatch(m.data)).toEqual({ tenant: 'acme', receivedAt: NOW, dims: JSON.stringify({ isp: 'Example ISP' }), samples: JSON.parse(String(body)).samples });
  });

  it('stores a batch resent with the same Idempotency-Key once (the same message ids), and one without a key each time', async () => {
    const t = intake();
    const batch = [s('eu-west', 'a'), s('us-east', 'b')];
    await t.ingest(batch, 'k-1');
    await t.ingest(batch, 'k-1');
    expect(t.log.stored).toHaveLength(2);
    await t.ingest(batch, 'k-2');
    await t.ingest(batch);
    await t.ingest(batch);
    expect(t.log.stored).toHaveLength(8);
    expect(new Set(t.log.stored.map((m) => m.msgId)).size).toBe(8);
  });

  it('publishes nothing for a batch with no valid sample, and fails (for a 503) when NATS does not store it', async () => {
    const t = intake();
    expect((await t.ingest([{ region: 'x' }])).accepted).toBe(0);
    expect(t.log.stored).toHaveLength(0);
    t.log.failWith(new Error('TIMEOUT'));
    await expect(t.ingest([s('eu-west', 'a')])).rejects.toThrow('TIMEOUT');
    expect(t.intake.pendingBytes, 'nothing left counted as pending').toBe(0);
  });

  it('refuses a message that is not a raw batch', () => {
    const ok = encodeRawBatch({ tenant: 't', receivedAt: 1, dims: undefined, samples: [] });
    expect(decodeRawBatch(ok)).toEqual({ tenant: 't', receivedAt: 1, dims: undefined, samples: [] });
    for (const bad of ['{}', 'null', '[1]', '{"t":"x","r":"1","s":[]}', '{"t":"x","r":1,"s":{}}', 'not json', '{"t":"x","r":1,"d":null}\n{"samples":{}}', '{"t":"x","r":1,"d":null}\nnot json']) {
      expect(() => decodeRawBatch(Buffer.from(bad)), bad).toThrow();
    }
  });
});

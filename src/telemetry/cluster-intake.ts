import { createHash, randomUUID } from 'node:crypto';
import { partitionOf } from '../cluster/partitions.js';
import type { RawLog } from '../cluster/raw-log.js';
import type { Metrics } from '../metrics.js';
import type { Budgets } from './budgets.js';
import { type BudgetRefusal, type IngestResult, type Intake, type ScreenDeps, type Transport, screen } from './intake.js';

/** A partition's share of an accepted batch, as the cluster's raw log keeps it (one JSON message). */
export interface RawBatch {
  tenant: string;
  receivedAt: number;
  /** The dimensions derived from the client's address (geoip/records.ts encodeDerived), if any. */
  dims: string | undefined;
  /** The samples as the client sent them: the partition owner validates them again at `receivedAt`. */
  samples: unknown[];
}

export function encodeRawBatch(b: RawBatch): Uint8Array {
  return Buffer.from(JSON.stringify({ t: b.tenant, r: b.receivedAt, d: b.dims ?? null, s: b.samples }));
}

/** A raw-log message read back; throws on anything a collector cannot have written. */
export function decodeRawBatch(data: Uint8Array): RawBatch {
  const o = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')) as { t?: unknown; r?: unknown; d?: unknown; s?: unknown } | null;
  if (typeof o?.t !== 'string' || typeof o.r !== 'number' || !Array.isArray(o.s) || (o.d !== null && typeof o.d !== 'string')) throw new Error('not a raw batch');
  return { tenant: o.t, receivedAt: o.r, dims: o.d ?? undefined, samples: o.s as unknown[] };
}

export interface ClusterIntakeDeps extends ScreenDeps {
  log: Pick<RawLog, 'publish'>;
  partitions: number;
  budgets: Budgets;
  metrics: Metrics;
  clock: () => number;
}

/**
 * A cluster collector (SCALE-OUT.md §4.2): validates a batch as the embedded pipeline does, splits its valid samples
 * by partition — (tenant, region), the unit rules group by — and stores each share in the raw log. It answers only
 * once JetStream has stored every share, so an acknowledged sample survives the loss of any qoswatch node.
 *
 * A batch's shares are published with message ids that JetStream deduplicates for two minutes: derived from the
 * client's Idempotency-Key when it sent one (its resend after a lost answer is stored once), else random.
 */
export class ClusterIntake implements Intake {
  private pending = 0;

  constructor(
    private readonly deps: ClusterIntakeDeps,
    private readonly maxSampleAgeMs: number,
  ) {}

  get budgets(): Budgets {
    return this.deps.budgets;
  }

  get pendingBytes(): number {
    return this.pending;
  }

  /** The points budget is spent where windows close, on the partition owners: a collector refuses nothing for it. */
  budgetRefusal(): BudgetRefusal | undefined {
    return undefined;
  }

  async ingest(tenant: string, body: Buffer, samples: readonly unknown[], transport: Transport, clientAddress: string | undefined, idempotencyKey?: string): Promise<IngestResult> {
    const { metrics, partitions } = this.deps;
    const receivedAt = this.deps.clock();
    const { batch, outcome, dims } = screen(this.deps, samples, receivedAt, this.maxSampleAgeMs, clientAddress);
    if (batch.accepted.length === 0) {
      metrics.batches.inc({ transport, outcome });
      return { accepted: 0, rejected: batch.rejected };
    }
    const shares = new Map<number, unknown[]>();
    for (const { index, sample } of batch.accepted) {
      const p = partitionOf(tenant, sample.region, partitions);
      let share = shares.get(p);
      if (!share) shares.set(p, (share = []));
      share.push(samples[index]);
    }
    const batchId = idempotencyKey === undefined ? randomUUID() : createHash('sha256').update(`${tenant}\u0000${idempotencyKey}`).digest('base64url');
    this.pending += body.length;
    try {
      await Promise.all([...shares].map(([p, share]) => this.deps.log.publish(p, encodeRawBatch({ tenant, receivedAt, dims, samples: share }), `${batchId}.${p}`)));
    } finally {
      this.pending -= body.length;
    }
    metrics.samplesAccepted.inc({ transport }, batch.accepted.length);
    metrics.batches.inc({ transport, outcome });
    return { accepted: batch.accepted.length, rejected: batch.rejected };
  }
}

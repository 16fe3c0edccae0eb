import { createHash, randomUUID } from 'node:crypto';
import { partitionOf } from '../cluster/partitions.js';
import type { RawLog } from '../cluster/raw-log.js';
import type { Metrics } from '../metrics.js';
import { parseBody } from './body-json.js';
import type { Budgets } from './budgets.js';
import { type BudgetRefusal, type IngestResult, type Intake, type ScreenDeps, type Transport, screen } from './intake.js';

/** A partition's share of an accepted batch, as the cluster's raw log keeps it. */
export interface RawBatch {
  tenant: string;
  receivedAt: number;
  /** The dimensions derived from the client's address (geoip/records.ts encodeDerived), if any. */
  dims: string | undefined;
  /** The samples as the client sent them: the partition owner validates them again at `receivedAt`. */
  samples: unknown[];
}

type Header = Omit<RawBatch, 'samples'>;
const header = (b: Header) => JSON.stringify({ t: b.tenant, r: b.receivedAt, d: b.dims ?? null });

/** A share of a batch that spans partitions: one JSON message with its samples re-encoded. */
export function encodeRawBatch(b: RawBatch): Uint8Array {
  return Buffer.from(`${header(b).slice(0, -1)},"s":${JSON.stringify(b.samples)}}`);
}

/**
 * A batch whose valid samples are all in one partition (a player's batch: its session is in one region): the header,
 * a newline, then the body as received — not parsed again to encode it, as the embedded journal keeps it too.
 */
export function encodeRawBody(h: Header, body: Buffer): Uint8Array {
  return Buffer.concat([Buffer.from(`${header(h)}\n`), body]);
}

/** A raw-log message read back (either form); throws on anything a collector cannot have written. */
export function decodeRawBatch(data: Uint8Array): RawBatch {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  // JSON.stringify never writes a raw newline: one there ends the header of a body as received.
  const nl = bytes.indexOf(0x0a);
  const o = JSON.parse(bytes.toString('utf8', 0, nl < 0 ? bytes.length : nl)) as { t?: unknown; r?: unknown; d?: unknown; s?: unknown } | null;
  const samples = nl < 0 ? o?.s : (parseBody(bytes.subarray(nl + 1)) as { samples?: unknown } | null)?.samples;
  if (typeof o?.t !== 'string' || typeof o.r !== 'number' || !Array.isArray(samples) || (o.d !== null && typeof o.d !== 'string')) throw new Error('not a raw batch');
  return { tenant: o.t, receivedAt: o.r, dims: o.d ?? undefined, samples: samples as unknown[] };
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
 * by partition — (tenant, region), the unit rules group by — and stores each share in the raw log (the body as
 * received when they are all in one partition: its owner validates it again and finds the same samples valid). It
 * answers only once JetStream has stored every share, so an acknowledged sample survives the loss of any node.
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
    const h = { tenant, receivedAt, dims };
    this.pending += body.length;
    try {
      await Promise.all(
        [...shares].map(([p, share]) => this.deps.log.publish(p, shares.size === 1 ? encodeRawBody(h, body) : encodeRawBatch({ ...h, samples: share }), `${batchId}.${p}`)),
      );
    } finally {
      this.pending -= body.length;
    }
    metrics.samplesAccepted.inc({ transport }, batch.accepted.length);
    metrics.batches.inc({ transport, outcome });
    return { accepted: batch.accepted.length, rejected: batch.rejected };
  }
}

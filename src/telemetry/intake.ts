import { type DerivedDims, decodeDerived, encodeDerived, fillDerived } from '../geoip/records.js';
import type { Metrics } from '../metrics.js';
import type { Budgets } from './budgets.js';
import { type Rejection, type ValidatedBatch, validateSamples } from './validate.js';

export const TRANSPORTS = ['http', 'ws', 'cmcd'] as const;
export type Transport = (typeof TRANSPORTS)[number];

export interface IngestResult {
  accepted: number;
  rejected: Rejection[];
}

/** A batch refused before it is stored because its tenant has spent a budget (answered 429). */
export interface BudgetRefusal {
  message: string;
  retryAfterMs: number;
}

/**
 * Where the collectors (HTTP, WebSocket, CMCD) hand accepted telemetry: the embedded pipeline (journal, windows,
 * rules in this process), or a cluster collector, which stores each batch in its partitions' raw log for the
 * partition owners (cluster-intake.ts). Either resolves only once the batch is durable.
 */
export interface Intake {
  /**
   * Validates `samples` (the items of `body`'s `samples` array, parsed) and stores the valid ones. `idempotencyKey`,
   * when the client sent one, makes a resend of the same batch (after a lost answer) count once.
   */
  ingest(tenant: string, body: Buffer, samples: readonly unknown[], transport: Transport, clientAddress: string | undefined, idempotencyKey?: string): Promise<IngestResult>;
  /** Why a batch of `samples` from this tenant is refused before it is stored, if it is (counted). */
  budgetRefusal(tenant: string, samples: number): BudgetRefusal | undefined;
  /** Bytes accepted but not yet durable; over the limit, collectors answer 429 / pause. */
  readonly pendingBytes: number;
  readonly budgets: Budgets;
}

/** What every intake needs of the metrics and the GeoIP enrichment to screen a batch. */
export interface ScreenDeps {
  metrics: Metrics;
  /** The dimensions derived from a client address (geoip/), when enrichment is configured. */
  enrich?: (clientAddress: string) => DerivedDims | undefined;
}

/** A batch screened at its arrival: its valid samples (derived dimensions filled in) and those refused. */
export interface Screened {
  batch: ValidatedBatch;
  outcome: 'accepted' | 'partial' | 'rejected';
  /** The derived dimensions, journaled beside the body (a replay applies them whatever GeoIP holds by then). */
  dims: string | undefined;
}

/** Validates a batch at `now`, counts its refusals, and fills the dimensions derived from the client's address. */
export function screen(deps: ScreenDeps, samples: readonly unknown[], now: number, maxAgeMs: number, clientAddress: string | undefined): Screened {
  const batch = validateSamples(samples, now, maxAgeMs);
  for (const reason of batch.reasons) deps.metrics.samplesRejected.inc({ reason });
  const outcome = batch.accepted.length === 0 ? 'rejected' : batch.rejected.length ? 'partial' : 'accepted';
  if (batch.accepted.length === 0) return { batch, outcome, dims: undefined };
  const derived = deriveDims(deps, clientAddress);
  fillDerived(batch.accepted, derived);
  return { batch, outcome, dims: encodeDerived(derived) };
}

/** The dimensions derived from the client's address, counted by outcome when enrichment is configured. */
function deriveDims({ enrich, metrics }: ScreenDeps, clientAddress: string | undefined): DerivedDims | undefined {
  if (!enrich) return undefined;
  const derived = clientAddress === undefined ? undefined : enrich(clientAddress);
  metrics.geoipLookups.inc({ result: clientAddress === undefined ? 'no_address' : derived ? 'found' : 'not_found' });
  return derived;
}

/**
 * A stored batch's samples validated again at its arrival time, with the dimensions derived then: what a replay or a
 * partition owner aggregates (the same samples the collector accepted).
 */
export function revalidate(samples: readonly unknown[], receivedAt: number, maxAgeMs: number, dims: string | null | undefined): ValidatedBatch['accepted'] {
  const v = validateSamples(samples, receivedAt, maxAgeMs);
  fillDerived(v.accepted, decodeDerived(dims));
  return v.accepted;
}

import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Metrics } from '../metrics.js';
import { AppError, unavailable } from '../shared/http-errors.js';
import type { IngestResult, Transport } from './intake.js';

/** The two steps every HTTP collector route shares around its own parsing: the tenant's budget, then the journal. */
export function httpIngest(app: FastifyInstance, metrics: Metrics, transport: Exclude<Transport, 'ws'>) {
  return {
    /** 429 over_budget (with Retry-After) when `count` more samples would exceed the tenant's points budget. */
    checkBudget(tenant: string, count: number): void {
      const refusal = app.intake.budgetRefusal(tenant, count);
      if (!refusal) return;
      metrics.refused.inc({ transport, reason: 'over_budget' });
      throw new AppError(429, 'over_budget', refusal.message, { 'retry-after': String(Math.ceil(refusal.retryAfterMs / 1000)) });
    },
    /** Journals a batch; a journal that cannot write answers 503 (the client retries: nothing acknowledged is lost). */
    async journal(req: FastifyRequest, tenant: string, body: Buffer, samples: readonly unknown[], idempotencyKey?: string): Promise<IngestResult> {
      try {
        return await app.intake.ingest(tenant, body, samples, transport, app.clientAddress(req), idempotencyKey);
      } catch (err) {
        req.log.error({ err }, `cannot journal ${transport === 'cmcd' ? 'CMCD samples' : 'telemetry'}`);
        metrics.batches.inc({ transport, outcome: 'error' });
        throw unavailable('cannot store telemetry right now; retry');
      }
    },
  };
}

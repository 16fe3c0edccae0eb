import { isUtf8 } from 'node:buffer';
import { CMCD_MIME_TYPE } from '@svta/cml-cmcd';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Env } from '../../config/env.js';
import type { Metrics } from '../../metrics.js';
import { badRequest } from '../../shared/http-errors.js';
import { httpIngest } from '../http-ingest.js';
import { SECURITY, jsonResponse } from '../../shared/openapi.js';
import { COLLECTOR_ERRORS, contentEncodingSchema, fieldErrorSchema, keyQuerySchema } from '../schemas.js';
import { MAX_REPORTS, parseCmcdLines, reportLines } from './parse.js';
import { CmcdSessions } from './sessions.js';

export interface CmcdCollectorOptions {
  env: Env;
  metrics: Metrics;
  clock: () => number;
}

const regionSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[^\x00-\x1f\x7f\\]+$/, 'must not contain control characters or backslashes')
  .refine((s) => s.isWellFormed(), 'must be well-formed Unicode')
  .describe("region of the derived samples (default: the ingest key's region in the config file)");

const cmcdResultSchema = z
  .object({
    accepted: z.number().int().describe('reports (lines) accepted'),
    rejected: z.array(z.object({ index: z.number().int().describe('position among the report lines, from 0'), errors: z.array(fieldErrorSchema) })),
    samples: z.number().int().describe('samples derived from the reports and stored'),
  })
  .meta({ id: 'CmcdResult' });

/**
 * POST /v1/cmcd: CMCD v2 event-mode reports (`application/cmcd`, one report per line) as players send them to an
 * event target (hls.js `cmcd.eventTargets`, dash.js, Shaka), turned into samples by per-session player state
 * (cmcd/sessions.ts) and journaled like /v1/telemetry. Registered inside the collectors' context, so the ingest
 * key (header or ?key=), rate limit, overload shedding, CORS, gzip and the body limit are theirs.
 */
export const cmcdCollector: FastifyPluginAsyncZod<CmcdCollectorOptions> = async (app, { env, metrics, clock }) => {
  const ingest = httpIngest(app, metrics, 'cmcd');
  const sessions = new CmcdSessions({
    windowMs: env.QOSWATCH_WINDOW,
    ttlMs: env.QOSWATCH_MAX_LIVE,
    maxPerTenant: (tenant) => app.intake.budgets.of(tenant).limits.sessions,
    maxTotal: app.intake.budgets.global.sessions,
  });
  // read on scrape, expiring first: between requests nothing else would
  (metrics.cmcdSessions as unknown as { collect: () => void }).collect = () => {
    sessions.expire(clock());
    metrics.cmcdSessions.set(sessions.size);
  };

  // Only CMCD bodies here (the collectors' JSON parser would answer a CMCD line "not valid JSON").
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(CMCD_MIME_TYPE, { parseAs: 'buffer', bodyLimit: env.QOSWATCH_MAX_BODY }, (_req, body, done) => {
    const bytes = body as Buffer;
    if (!isUtf8(bytes)) done(badRequest('body is not valid UTF-8'), undefined);
    else done(null, bytes.toString('utf8'));
  });

  app.post(
    '/v1/cmcd',
    {
      bodyLimit: env.QOSWATCH_MAX_BODY,
      schema: {
        operationId: 'ingestCmcd',
        summary: 'Post CMCD v2 event reports (zero-code player integration)',
        description:
          'Bearer ingest key or ?key=. Content-Type application/cmcd: one CMCD v2 event report per line (RFC 8941 dictionary), as hls.js, dash.js and Shaka send to a CMCD event target. Player states become play/stall/startup/error samples per session. Valid reports are kept even when others are rejected.',
        tags: ['telemetry'],
        security: SECURITY.ingest,
        consumes: [CMCD_MIME_TYPE],
        headers: z.object({ 'content-encoding': contentEncodingSchema }),
        querystring: keyQuerySchema.extend({ region: regionSchema.optional() }),
        body: z.string().describe('one CMCD v2 event report per line'),
        response: { 202: jsonResponse(cmcdResultSchema, 'Accepted: the valid reports are applied; `rejected` names each refused one and why'), ...COLLECTOR_ERRORS },
      },
    },
    async (req, reply) => {
      const key = req.ingestKey!;
      const region = req.query.region ?? key.region;
      if (region === undefined) throw badRequest('region: is required: add ?region=<region> to the event target URL, or set region on the ingest key in the config file');
      const lines = reportLines(req.body);
      if (lines.length === 0) throw badRequest('body holds no report: send one CMCD v2 event report per line');
      if (lines.length > MAX_REPORTS) throw badRequest(`body holds ${lines.length} reports; at most ${MAX_REPORTS}`);
      const now = clock();
      const parsed = parseCmcdLines(lines, now, env.QOSWATCH_MAX_SAMPLE_AGE);
      metrics.cmcdReports.inc({ outcome: 'rejected' }, parsed.rejected.length);
      if (parsed.reports.length === 0) {
        const first = parsed.rejected[0]!;
        const e = first.errors[0]!;
        const more = lines.length > 1 ? ` (and ${lines.length - 1} other report${lines.length > 2 ? 's' : ''})` : '';
        throw badRequest(`report ${first.index}: ${e.path ? `${e.path}: ` : ''}${e.message}${more}`);
      }
      ingest.checkBudget(key.tenant, parsed.reports.length);
      const applied = sessions.apply(key.tenant, region, parsed.reports, now);
      metrics.cmcdReports.inc({ outcome: 'untracked' }, applied.untracked);
      metrics.cmcdReports.inc({ outcome: 'late' }, applied.late);
      metrics.cmcdReports.inc({ outcome: 'accepted' }, parsed.reports.length - applied.untracked - applied.late);
      // The derived samples are what is journaled (a replay rebuilds the windows from them, not from the reports).
      const stored = applied.samples.length > 0 ? (await ingest.journal(req, key.tenant, Buffer.from(JSON.stringify({ sdk: 'cmcd', samples: applied.samples })), applied.samples)).accepted : 0;
      return reply.code(202).send({ accepted: parsed.reports.length, rejected: parsed.rejected, samples: stored });
    },
  );
};

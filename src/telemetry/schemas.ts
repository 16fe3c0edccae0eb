import { z } from 'zod';
import { errorResponses } from '../shared/openapi.js';
import { MAX_SAMPLES_PER_BATCH, sdkSchema } from './sample-schema.js';

export const fieldErrorSchema = z.object({ path: z.string(), message: z.string() });

export const ingestResultSchema = z
  .object({
    accepted: z.number().int().describe('samples accepted'),
    rejected: z.array(z.object({ index: z.number().int().describe('position in samples'), errors: z.array(fieldErrorSchema) })),
  })
  .meta({ id: 'IngestResult' });

/**
 * How a collector request fails: a malformed body or envelope, no or an unknown ingest key, a body over the limit, a
 * content type or encoding it does not take, the key's rate limit or an overload (429), a node without the collector
 * role (503).
 */
export const COLLECTOR_ERRORS = errorResponses(400, 401, 413, 415, 429, 503);

export const keyQuerySchema = z.object({
  key: z.string().optional().describe('ingest key, for clients that cannot set headers (sendBeacon, browser WebSocket)'),
});

/**
 * The Content-Encoding of a telemetry body, decoded by the collectors (anything else is 415). Its values are listed
 * for the document only: content codings are case-insensitive, and the collectors' own hook checks them.
 */
export const contentEncodingSchema = z
  .string()
  .optional()
  .meta({ enum: ['gzip', 'x-gzip', 'deflate', 'identity'], description: 'gzip or deflate to send the body compressed (the body limit applies to the decompressed bytes)' });

/** The optional header that makes a resent batch count once (JetStream deduplicates on it in a cluster). */
export const idempotencyHeaderSchema = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,200}$/, 'Idempotency-Key: 1 to 200 visible ASCII characters (e.g. a UUID)')
    .optional()
    .describe('send the same value with a resend of the same batch (after a timeout or a lost answer): it is counted once if the first arrived within 2 minutes'),
});

/** A WebSocket client frame; the server answers each with `{seq, accepted, rejected}` or `{seq, error, message}`. */
export const wsFrameSchema = z.strictObject({
  seq: z.number().int().nonnegative(),
  sdk: sdkSchema.optional(),
  samples: z.array(z.unknown()).min(1, 'must hold at least one sample').max(MAX_SAMPLES_PER_BATCH, `must hold at most ${MAX_SAMPLES_PER_BATCH} samples`),
});

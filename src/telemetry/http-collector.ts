import { isUtf8 } from 'node:buffer';
import type { Readable } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Env } from '../config/env.js';
import type { Metrics, RefusalReason } from '../metrics.js';
import { AppError, badRequest, describeZodError, tooManyRequests, unauthorized, unavailable, unsupportedMediaType } from '../shared/http-errors.js';
import { AUTH_MESSAGES, authenticateIngest } from '../tenants/auth.js';
import { cmcdCollector } from './cmcd/collector.js';
import { parseBody } from './body-json.js';
import { httpIngest } from './http-ingest.js';
import { batchSchema, envelopeSchema, isEnvelope } from './sample-schema.js';
import { SECURITY, jsonResponse } from '../shared/openapi.js';
import { COLLECTOR_ERRORS, contentEncodingSchema, idempotencyHeaderSchema, ingestResultSchema, keyQuerySchema } from './schemas.js';
import { wsCollector } from './ws-collector.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The telemetry body as received (decompressed): journaled as it is. */
    bodyBytes?: Buffer;
  }
}

export interface CollectorOptions {
  env: Env;
  metrics: Metrics;
  clock: () => number;
}

/** CORS origins: "*" or a comma-separated list. */
export function corsOrigin(value: string): boolean | string[] {
  const list = value.split(',').map((s) => s.trim()).filter(Boolean);
  return list.includes('*') ? true : list;
}

/** POST /v1/cmcd's refusals are counted as their own transport; the other HTTP collector requests as `http`. */
const transportOf = (req: FastifyRequest) => (req.routeOptions.url === '/v1/cmcd' ? 'cmcd' : 'http');

/**
 * POST /v1/telemetry, GET /v1/telemetry/ws and POST /v1/cmcd (PRODUCT.md §6), in their own encapsulated context:
 * JSON and text/plain bodies (sendBeacon), gzip/deflate, CORS for browser SDKs and players, per-key rate limits, a
 * global in-flight cap.
 */
export const collectors: FastifyPluginAsyncZod<CollectorOptions> = async (app, { env, metrics, clock }) => {
  let inflight = 0;

  await app.register(cors, {
    origin: corsOrigin(env.QOSWATCH_CORS_ORIGINS),
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: ['authorization', 'content-type', 'content-encoding'],
    exposedHeaders: ['retry-after'],
    maxAge: 86_400,
  });

  const isCollectorRequest = (req: FastifyRequest) => req.method !== 'OPTIONS' && req.routeOptions.url !== '/v1/telemetry/ws';
  const refuseOverloaded = (req: FastifyRequest, why: string) => {
    metrics.refused.inc({ transport: transportOf(req), reason: 'overloaded' });
    return tooManyRequests(`qoswatch is overloaded (${why}); retry after the Retry-After delay`, 1);
  };
  // Queued work: requests whose body has arrived, and accepted bytes the journal has not committed yet.
  const refuseIfFull = (req: FastifyRequest) => {
    const cause = inflight >= env.QOSWATCH_MAX_INFLIGHT ? 'inflight' : app.intake.pendingBytes >= env.QOSWATCH_MAX_PENDING_BYTES ? 'pending_bytes' : undefined;
    if (!cause) return;
    metrics.shed.inc({ cause });
    throw refuseOverloaded(req, cause === 'inflight' ? 'too many requests in process' : 'journal backlog');
  };

  // Refuse before reading a byte of the body: overload first (cheapest), then authentication; the per-key rate limit
  // hook is appended after these by @fastify/rate-limit. A saturated event loop leaves requests queued in the kernel,
  // unseen by the in-flight cap, and accepts new connections only between turns: the loop probe (api/loop-busy.ts)
  // refuses the rest of a long turn in a loop that has been busy all along, so that an overload is shed instead of
  // queued and turns stay short.
  // A cluster node without the collector role is not where telemetry goes (a load balancer sends it elsewhere).
  if (!app.roles.includes('collector')) {
    app.addHook('onRequest', async (req) => {
      if (req.method !== 'OPTIONS') throw unavailable('this node does not take telemetry (QOSWATCH_ROLES has no collector): send it to a collector of the cluster', 5);
    });
  }
  app.addHook('onRequest', async (req) => {
    if (!isCollectorRequest(req)) return;
    const busy = app.loopBusy();
    if (busy) throw refuseOverloaded(req, busy);
    refuseIfFull(req);
    const key = authenticateIngest(app.keys, req);
    if (typeof key === 'string') {
      metrics.refused.inc({ transport: transportOf(req), reason: 'unauthorized' });
      throw unauthorized(AUTH_MESSAGES[key]);
    }
    req.ingestKey = key;
  });

  // The in-flight slot is taken once the body has arrived: a client dribbling its body holds no slot (the request
  // timeout ends it), so slow clients cannot lock the others out.
  app.addHook('preValidation', async (req, reply) => {
    if (!isCollectorRequest(req)) return;
    refuseIfFull(req);
    inflight++;
    reply.raw.once('close', () => inflight--);
  });

  // Status and time of every request, what a log line per request would tell (those are off: one per beacon).
  app.addHook('onResponse', async (req, reply) => {
    if (req.routeOptions.url === '/v1/telemetry' && req.method === 'POST') metrics.telemetryRequestDuration.observe({ code: reply.statusCode }, reply.elapsedTime / 1000);
  });

  // Refusals found while reading the body (size, encoding, envelope) are counted here.
  const REFUSALS: Record<number, RefusalReason> = { 400: 'bad_request', 413: 'too_large', 415: 'unsupported_media_type' };
  app.addHook('onError', async (req, _reply, err) => {
    // onError runs before the error handler maps the error, so read the status from the error itself.
    const e = err as { statusCode?: number; status?: number };
    const reason = REFUSALS[e.status ?? e.statusCode ?? 500];
    if (reason && (req.routeOptions.url === '/v1/telemetry' || req.routeOptions.url === '/v1/cmcd')) metrics.refused.inc({ transport: transportOf(req), reason });
  });

  await app.register(rateLimit, {
    global: true,
    hook: 'onRequest',
    max: (req: FastifyRequest) => req.ingestKey?.rateLimit?.max ?? env.QOSWATCH_RATE_LIMIT.max,
    timeWindow: (req: FastifyRequest) => req.ingestKey?.rateLimit?.windowMs ?? env.QOSWATCH_RATE_LIMIT.windowMs,
    keyGenerator: (req: FastifyRequest) => (req.ingestKey ? `${req.ingestKey.tenant}/${req.ingestKey.id}` : req.ip),
    // WebSocket upgrades carry no key yet (it is checked after the upgrade, to close with 1008): their frames are
    // limited per key instead, and limiting upgrades per IP would starve viewers behind one NAT.
    allowList: (req: FastifyRequest) => req.method === 'OPTIONS' || req.routeOptions.url === '/v1/telemetry/ws',
    onExceeded: (req: FastifyRequest) => metrics.refused.inc({ transport: transportOf(req), reason: 'rate_limited' }),
    errorResponseBuilder: (_req, ctx) =>
      Object.assign(new AppError(429, 'too_many_requests', `rate limit of ${ctx.max} requests per ${ctx.after} for this ingest key exceeded; retry later`), { statusCode: 429 }),
  });

  app.addHook('preParsing', async (req, _reply, payload) => {
    const encoding = req.headers['content-encoding']?.toLowerCase().trim();
    if (!encoding || encoding === 'identity') return payload;
    const inflate = encoding === 'gzip' || encoding === 'x-gzip' ? createGunzip() : encoding === 'deflate' ? createInflate() : undefined;
    if (!inflate) throw unsupportedMediaType(`Content-Encoding "${encoding}" is not supported; use gzip or deflate`);
    // fastify applies the body limit to the decompressed bytes; it reads the compressed size from here.
    const out = inflate as unknown as Readable & { receivedEncodedLength: number };
    out.receivedEncodedLength = 0;
    payload.on('data', (chunk: Buffer) => (out.receivedEncodedLength += chunk.length));
    payload.on('error', (err) => inflate.destroy(err));
    return payload.pipe(inflate);
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'buffer', bodyLimit: env.QOSWATCH_MAX_BODY }, (req, body, done) => {
    const bytes = body as Buffer;
    // Decoding would turn bad bytes into U+FFFD and store region names like "eu\uFFFDwest": refuse instead.
    if (!isUtf8(bytes)) {
      done(badRequest('body is not valid UTF-8'), undefined);
      return;
    }
    try {
      const parsed = parseBody(bytes);
      req.bodyBytes = bytes;
      done(null, parsed);
    } catch {
      done(badRequest('body is not valid JSON'), undefined);
    }
  });

  const ingest = httpIngest(app, metrics, 'http');
  app.post(
    '/v1/telemetry',
    {
      bodyLimit: env.QOSWATCH_MAX_BODY,
      schema: {
        operationId: 'ingestTelemetry',
        summary: 'Post a batch of QoS samples',
        description: 'Bearer ingest key or ?key=. JSON or text/plain (sendBeacon), optionally gzip. Valid samples are kept even when others are rejected.',
        tags: ['telemetry'],
        security: SECURITY.ingest,
        querystring: keyQuerySchema,
        headers: idempotencyHeaderSchema.extend({ 'content-encoding': contentEncodingSchema }),
        // text/plain: navigator.sendBeacon cannot send application/json without a CORS preflight.
        consumes: ['application/json', 'text/plain'],
        body: batchSchema,
        response: { 202: jsonResponse(ingestResultSchema, 'Accepted: the valid samples are kept; `rejected` names each refused one and why'), ...COLLECTOR_ERRORS },
      },
      // The full batch schema documents the route; the hot path checks only the envelope here and each sample
      // with the fast validator (telemetry/sample-schema.ts).
      validatorCompiler: ({ httpPart }) => (data) => {
        if (httpPart !== 'body' || isEnvelope(data)) return { value: data };
        const r = envelopeSchema.safeParse(data);
        return r.success ? { value: data } : { error: r.error };
      },
    },
    async (req, reply) => {
      const key = req.ingestKey!;
      const { samples } = req.body as unknown as { samples: unknown[] };
      const idempotency = idempotencyHeaderSchema.safeParse(req.headers);
      if (!idempotency.success) throw badRequest(describeZodError(idempotency.error));
      ingest.checkBudget(key.tenant, samples.length);
      return reply.code(202).send(await ingest.journal(req, key.tenant, req.bodyBytes!, samples, idempotency.data['idempotency-key']));
    },
  );

  await app.register(wsCollector, { env, metrics });
  await app.register(cmcdCollector, { env, metrics, clock });
};

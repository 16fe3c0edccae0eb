import { isUtf8 } from 'node:buffer';
import websocket from '@fastify/websocket';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { WebSocket } from 'ws';
import type { z } from 'zod';
import type { Env } from '../config/env.js';
import type { Metrics, RefusalReason } from '../metrics.js';
import { describeZodError } from '../shared/http-errors.js';
import { AUTH_MESSAGES, authenticateIngest } from '../tenants/auth.js';
import type { IngestKey } from '../tenants/keys.js';
import { parseBody } from './body-json.js';
import { isEnvelope } from './sample-schema.js';
import type { Intake } from './intake.js';
import { SECURITY, errorResponses, noContent } from '../shared/openapi.js';
import { keyQuerySchema, wsFrameSchema } from './schemas.js';
import { TokenBucket } from './token-bucket.js';

/** Close codes of PRODUCT.md §6 (RFC 6455 §7.4.1). */
export const CLOSE = { normal: 1000, goingAway: 1001, policy: 1008, tooBig: 1009, tryAgainLater: 1013 } as const;

export interface WsOptions {
  env: Env;
  metrics: Metrics;
}

/**
 * GET /v1/telemetry/ws: one ack per frame with the client's seq. Backpressure: a connection with too many frames
 * in the journal, or whose acks the client does not read, stops being read; a server that stays overloaded closes
 * with 1013 rather than buffering without bound.
 */
export const wsCollector: FastifyPluginAsyncZod<WsOptions> = async (app, { env, metrics }) => {
  await app.register(websocket, {
    options: { maxPayload: env.QOSWATCH_WS_MAX_FRAME, perMessageDeflate: false },
    errorHandler: (err, socket, req) => {
      // ws has already sent the matching close frame (1009 for an oversized frame); let it finish.
      if ((err as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') metrics.wsCloses.inc({ code: String(CLOSE.tooBig) });
      req.log.debug({ err: err.message }, 'telemetry websocket error');
      if (socket.readyState === socket.OPEN) socket.terminate();
    },
    preClose(done) {
      for (const client of this.websocketServer.clients) {
        client.close(CLOSE.goingAway, 'server shutting down');
        // A paused (backpressured) socket would not read the client's close frame, and the handshake would hang
        // until ws's 30 s close timer; frames still arriving are ignored by WsSession once it is CLOSING.
        client.resume();
        metrics.wsCloses.inc({ code: String(CLOSE.goingAway) });
      }
      this.websocketServer.close(() => done());
    },
  });

  const idOf = (key: IngestKey) => `${key.tenant}/${key.id}`;
  const buckets = new Map<string, TokenBucket>();
  const bucketFor = (key: IngestKey) => {
    const id = idOf(key);
    let b = buckets.get(id);
    if (!b) {
      const rate = key.rateLimit ?? env.QOSWATCH_RATE_LIMIT;
      buckets.set(id, (b = new TokenBucket(rate.max, rate.windowMs)));
    }
    return b;
  };
  // Open sessions per key: capped (a public key must not hold every socket), and closed when the key is revoked.
  const sessions = new Map<string, Set<WsSession>>();
  app.keys.ingest.onRevoke((key) => {
    const id = idOf(key);
    for (const session of sessions.get(id) ?? []) session.close(CLOSE.policy, 'ingest key revoked');
    buckets.delete(id);
  });

  // Declared with wsHandler (not `websocket: true`, which hides the route) so that /docs lists it.
  app.route({
    method: 'GET',
    url: '/v1/telemetry/ws',
    schema: {
      operationId: 'streamTelemetry',
      summary: 'Stream QoS samples over a WebSocket',
      description:
        'Upgrade to a WebSocket (same auth: Bearer header or ?key=). Client frames {seq, samples}; each is answered with {seq, accepted, rejected} or {seq, error, message}. Close 1008 on auth failure, a revoked key or too many open WebSockets for the key, 1009 on an oversized frame, 1013 when overloaded.',
      tags: ['telemetry'],
      security: SECURITY.ingest,
      querystring: keyQuerySchema,
      // Authentication is checked after the upgrade: a refused key closes the socket with 1008, not an HTTP status.
      response: { 101: noContent('Switching Protocols: the WebSocket is open'), ...errorResponses(426) },
    },
    handler: async (_req, reply) =>
      reply.code(426).header('upgrade', 'websocket').send({ error: 'upgrade_required', message: 'this endpoint speaks WebSocket: send an Upgrade: websocket request' }),
    wsHandler: (socket, req) => {
      const refuse = (reason: RefusalReason, message: string) => {
        metrics.refused.inc({ transport: 'ws', reason });
        metrics.wsCloses.inc({ code: String(CLOSE.policy) });
        socket.close(CLOSE.policy, message);
      };
      const key = authenticateIngest(app.keys, req);
      if (typeof key === 'string') return refuse('unauthorized', AUTH_MESSAGES[key]);
      const id = idOf(key);
      const open = sessions.get(id) ?? new Set<WsSession>();
      const max = env.QOSWATCH_WS_MAX_PER_KEY;
      if (open.size >= max) return refuse('too_many_connections', `this ingest key has at most ${max} open WebSockets (QOSWATCH_WS_MAX_PER_KEY)`);
      const session = new WsSession(socket, key, app.clientAddress(req), app.intake, env, metrics, bucketFor(key));
      open.add(session);
      sessions.set(id, open);
      socket.on('close', () => {
        open.delete(session);
        if (!open.size && sessions.get(id) === open) sessions.delete(id);
      });
      session.start();
    },
  });
};

/**
 * The seq of a frame refused unread (rate limit), so that the client knows what to resend: read from the start of
 * the frame, where SDKs write it (`{"seq": 1, "samples": …}`); null when it is not there.
 */
function peekSeq(data: Buffer): number | null {
  const m = /^\s*\{\s*"seq"\s*:\s*(\d{1,15})\s*[,}]/.exec(data.subarray(0, 64).toString('latin1'));
  return m ? Number(m[1]) : null;
}

/** Acks that the client has not read yet, in bytes, above which the connection stops being read. */
const ACK_BUFFER_HIGH = 1024 * 1024;

class WsSession {
  private unacked = 0;
  private paused = false;
  private alive = true;
  private lastMessageAt = Date.now();
  private overloadedSince: number | undefined;
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly socket: WebSocket,
    private readonly key: IngestKey,
    /** The client's address, resolved once at the upgrade (geoip/plugin.ts). */
    private readonly clientAddress: string | undefined,
    private readonly intake: Intake,
    private readonly env: Env,
    private readonly metrics: Metrics,
    private readonly bucket: TokenBucket,
  ) {}

  start(): void {
    const { socket, env, metrics } = this;
    metrics.wsConnections.inc();
    socket.on('message', (data, isBinary) => this.onFrame(data as Buffer, isBinary));
    socket.on('pong', () => (this.alive = true));
    socket.on('close', () => {
      metrics.wsConnections.dec();
      for (const t of this.timers) clearInterval(t);
    });
    this.timers.push(
      setInterval(() => {
        // A paused connection is not read, so its pongs go unseen; the idle timeout still bounds it.
        if (!this.alive && !this.paused) {
          socket.terminate();
          return;
        }
        if (Date.now() - this.lastMessageAt >= env.QOSWATCH_WS_IDLE_TIMEOUT) {
          this.close(CLOSE.normal, 'idle timeout');
          return;
        }
        this.alive = false;
        socket.ping();
      }, Math.min(env.QOSWATCH_WS_PING_INTERVAL, env.QOSWATCH_WS_IDLE_TIMEOUT)),
      setInterval(() => this.checkFlow(), 50),
    );
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    // Closing: no ack could be sent, so do not journal what the client will have to resend anyway.
    if (this.socket.readyState !== this.socket.OPEN) return;
    this.lastMessageAt = Date.now();
    // Every frame costs a token before any work is spent on it: invalid frames too, or they would be free to flood.
    if (!this.bucket.take(Date.now())) {
      this.metrics.refused.inc({ transport: 'ws', reason: 'rate_limited' });
      this.send({ seq: peekSeq(data), error: 'too_many_requests', message: 'rate limit for this ingest key exceeded; resend later', retry_after_ms: this.bucket.msUntilNext(Date.now()) });
      return;
    }
    // Text frames are checked by ws (close 1007); binary ones carrying bad bytes are refused, not read as U+FFFD.
    if (isBinary && !isUtf8(data)) {
      this.send({ seq: null, error: 'bad_request', message: 'binary frame is not valid UTF-8 (binary frames must hold UTF-8 JSON)' });
      return;
    }
    let frame: unknown;
    try {
      frame = parseBody(data);
    } catch {
      this.send({ seq: null, error: 'bad_request', message: `frame is not valid JSON${isBinary ? ' (binary frames must hold UTF-8 JSON)' : ''}` });
      return;
    }
    const parsed = isEnvelope(frame, true) ? { success: true as const, data: frame as z.infer<typeof wsFrameSchema> } : wsFrameSchema.safeParse(frame);
    if (!parsed.success) {
      const seq = (frame as { seq?: unknown } | null)?.seq;
      this.send({ seq: typeof seq === 'number' ? seq : null, error: 'bad_request', message: describeZodError(parsed.error) });
      this.metrics.batches.inc({ transport: 'ws', outcome: 'rejected' });
      return;
    }
    const { seq, samples } = parsed.data;
    const refusal = this.intake.budgetRefusal(this.key.tenant, samples.length);
    if (refusal) {
      this.metrics.refused.inc({ transport: 'ws', reason: 'over_budget' });
      this.send({ seq, error: 'over_budget', message: refusal.message, retry_after_ms: refusal.retryAfterMs });
      return;
    }
    this.unacked++;
    this.checkFlow();
    this.intake.ingest(this.key.tenant, data, samples, 'ws', this.clientAddress).then(
      (r) => this.send({ seq, accepted: r.accepted, rejected: r.rejected }),
      () => {
        this.metrics.batches.inc({ transport: 'ws', outcome: 'error' });
        this.send({ seq, error: 'unavailable', message: 'cannot store telemetry right now; resend' });
      },
    ).finally(() => {
      this.unacked--;
      this.checkFlow();
    });
  }

  /** Pauses reading while this connection or the server is over its limits; closes 1013 if overload persists. */
  private checkFlow(): void {
    const { socket, env } = this;
    if (socket.readyState !== socket.OPEN) return;
    const overloaded = this.intake.pendingBytes >= env.QOSWATCH_MAX_PENDING_BYTES;
    const hold = overloaded || this.unacked >= env.QOSWATCH_WS_MAX_UNACKED || socket.bufferedAmount > ACK_BUFFER_HIGH;
    if (overloaded) {
      this.overloadedSince ??= Date.now();
      if (Date.now() - this.overloadedSince >= env.QOSWATCH_WS_OVERLOAD_CLOSE) {
        this.metrics.refused.inc({ transport: 'ws', reason: 'overloaded' });
        this.metrics.shed.inc({ cause: 'pending_bytes' });
        this.close(CLOSE.tryAgainLater, 'server overloaded; reconnect later');
        return;
      }
    } else {
      this.overloadedSince = undefined;
    }
    if (hold && !this.paused) {
      socket.pause();
      this.paused = true;
    } else if (!hold && this.paused) {
      socket.resume();
      this.paused = false;
    }
  }

  private send(msg: object): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(msg));
  }

  close(code: number, reason: string): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    this.metrics.wsCloses.inc({ code: String(code) });
    this.socket.close(code, reason);
    // See preClose: read again so that the client's close frame completes the handshake.
    if (this.paused) {
      this.socket.resume();
      this.paused = false;
    }
  }
}

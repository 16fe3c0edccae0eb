import { createHmac, timingSafeEqual } from 'node:crypto';
import { type IncomingHttpHeaders, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the receiver answers one request: a status and body, or "hold" (read the request, never answer). */
export type Reply = { readonly status: number; readonly body?: string } | 'hold';

export interface ReceivedRequest {
  readonly method: string;
  /** Path and query, as requested. */
  readonly url: string;
  /** Path without the query. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The raw body, exactly as received (signatures are computed over it). */
  readonly body: string;
  /** What the receiver answered; undefined while the request is held. */
  answered: { status: number; body: string } | undefined;
  /** The client went away before getting an answer (its process was killed mid-request). */
  cut: boolean;
}

/**
 * A real HTTP receiver on loopback standing in for a chat endpoint: it records every request (raw body, headers)
 * and answers as told, per path: scripted replies are used once each, in order, then `otherwise`.
 */
export class HttpReceiver {
  readonly requests: ReceivedRequest[] = [];
  otherwise: Reply = { status: 200, body: 'ok' };
  private readonly script = new Map<string, Reply[]>();
  private readonly held = new Map<ServerResponse, ReceivedRequest>();
  private server: Server | undefined;
  private port = 0;

  /** Queues replies for the next requests to `path` (used once each, in order). */
  answer(path: string, ...replies: Reply[]): void {
    this.script.set(path, [...(this.script.get(path) ?? []), ...replies]);
  }

  /** Forgets requests and scripted replies (between tests); held requests stay held. */
  reset(): void {
    this.requests.length = 0;
    this.script.clear();
    this.otherwise = { status: 200, body: 'ok' };
  }

  async start(port = 0): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = req.url ?? '/';
        const path = url.split('?')[0]!;
        const r: ReceivedRequest = { method: req.method ?? '', url, path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), answered: undefined, cut: false };
        this.requests.push(r);
        const reply = this.script.get(path)?.shift() ?? this.otherwise;
        if (reply === 'hold') {
          this.held.set(res, r);
          res.on('close', () => {
            this.held.delete(res);
            if (!res.writableEnded) r.cut = true;
          });
          return;
        }
        respond(res, r, reply);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** The absolute URL of `path` on this receiver. */
  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Answers every request held so far with `reply`. */
  release(reply: Exclude<Reply, 'hold'> = { status: 200, body: 'ok' }): void {
    for (const [res, r] of this.held) respond(res, r, reply);
  }

  /** Requests to `path` (without query), oldest first. */
  to(path: string): ReceivedRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    for (const res of this.held.keys()) res.destroy();
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
}

function respond(res: ServerResponse, r: ReceivedRequest, reply: Exclude<Reply, 'hold'>): void {
  r.answered = { status: reply.status, body: reply.body ?? '' };
  res.writeHead(reply.status, { 'content-type': reply.body?.startsWith('{') ? 'application/json' : 'text/plain' });
  res.end(reply.body ?? '');
}

/** A single-valued request header ('' when absent). */
export function header(r: ReceivedRequest, name: string): string {
  const v = r.headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(',') : (v ?? '');
}

/** The JSON body of a request. */
export const json = (r: ReceivedRequest): any => JSON.parse(r.body);

/**
 * Verifies a generic-webhook request as its receiver must (src/notify/channels/webhook): X-Signature is
 * "sha256=" + hex HMAC-SHA256(secret, "<X-Timestamp>.<raw body>"), compared in constant time. Computed here with
 * node:crypto, independently of the code under test.
 */
export function webhookSignatureValid(r: ReceivedRequest, secret: string): boolean {
  const ts = header(r, 'x-timestamp');
  if (!/^\d+$/.test(ts)) return false;
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(`${ts}.${r.body}`).digest('hex')}`);
  const given = Buffer.from(header(r, 'x-signature'));
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * What a receiver honouring Idempotency-Key processes: the requests it accepted (`accepted` decides, default any
 * 2xx), each key once. A request cut by a crash was never answered, so it is not among them.
 */
export function acceptedOnce(requests: readonly ReceivedRequest[], accepted = (r: ReceivedRequest) => r.answered !== undefined && r.answered.status >= 200 && r.answered.status < 300): ReceivedRequest[] {
  const seen = new Set<string>();
  return requests.filter((r) => {
    if (!accepted(r)) return false;
    const key = header(r, 'idempotency-key');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as it reached qoswatch through the proxy, with what qoswatch answered. */
export interface Relayed {
  method: string;
  /** Path and query. */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
  /** qoswatch's answer body. */
  answer: string;
}

/** Headers passed on each way (hop-by-hop ones and the proxy's own framing stay behind). */
const REQUEST_HEADERS = ['content-type', 'content-encoding', 'authorization', 'origin'];
const RESPONSE_HEADERS = ['content-type', 'retry-after', 'access-control-allow-origin', 'access-control-expose-headers', 'access-control-allow-methods', 'access-control-allow-headers', 'access-control-max-age', 'vary'];

/**
 * A recording HTTP proxy in front of a qoswatch app on loopback: the browser talks to it as it would to qoswatch,
 * and the test reads exactly what qoswatch received and answered (which requests were beacons, which samples).
 */
export class RecordingProxy {
  readonly relayed: Relayed[] = [];
  /** Requests received and not yet answered. */
  inflight = 0;
  private server: Server | undefined;
  private port = 0;

  constructor(private readonly target: string) {}

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.inflight++;
      res.on('close', () => this.inflight--);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const body = Buffer.concat(chunks);
        const headers: Record<string, string> = {};
        for (const h of REQUEST_HEADERS) if (typeof req.headers[h] === 'string') headers[h] = req.headers[h];
        const method = req.method ?? 'GET';
        try {
          const answer = await fetch(`${this.target}${req.url}`, { method, headers, body: method === 'GET' || method === 'HEAD' ? undefined : body });
          const text = await answer.text();
          this.relayed.push({ method, url: req.url ?? '/', headers: req.headers, body: body.toString('utf8'), status: answer.status, answer: text });
          const out: Record<string, string> = {};
          for (const h of RESPONSE_HEADERS) {
            const value = answer.headers.get(h);
            if (value !== null) out[h] = value;
          }
          res.writeHead(answer.status, out).end(text);
        } catch (err) {
          res.writeHead(502, { 'content-type': 'text/plain' }).end(`proxy: ${String(err)}`);
        }
      });
    });
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(0, '127.0.0.1', () => ok());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((ok) => {
      if (!this.server) return ok();
      this.server.close(() => ok());
      this.server.closeAllConnections();
    });
  }
}

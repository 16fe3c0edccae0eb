import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type Server, createServer as createHttps } from 'node:https';
import { request } from 'node:http';
import { join } from 'node:path';
import { tempDir } from './tmp.js';

/**
 * An HTTPS front on loopback for a plain-HTTP service, with a fresh self-signed certificate (openssl), for clients
 * that only speak https:// (PagerDuty's own client). `cert` is what the client must trust.
 */
export class TlsProxy {
  private server: Server | undefined;
  readonly cert: string;
  private readonly key: string;
  host = '';

  constructor(private readonly target: string) {
    const dir = tempDir('qoswatch-tls');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    this.key = readFileSync(join(dir, 'key.pem'), 'utf8');
    this.cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  }

  async start(): Promise<void> {
    const target = new URL(this.target);
    this.server = createHttps({ key: this.key, cert: this.cert }, (req, res) => {
      const upstream = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.writeHead(502).end());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.host = `127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { InfluxSink } from './sink.js';
import { SinkError, failureOfStatus } from './sink.js';

const gzipAsync = promisify(gzip);

export interface V1Options {
  url: string;
  db: string;
  rp?: string;
  user?: string;
  password?: string;
  timeoutMs: number;
}

/** InfluxDB 1.x `/write` (db/rp, basic auth so credentials stay out of URLs and logs), gzip, ns precision. */
export function createV1Sink(o: V1Options): InfluxSink {
  const url = new URL('write', o.url.endsWith('/') ? o.url : `${o.url}/`);
  url.searchParams.set('db', o.db);
  if (o.rp) url.searchParams.set('rp', o.rp);
  url.searchParams.set('precision', 'ns');
  const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8', 'content-encoding': 'gzip' };
  if (o.user !== undefined) headers.authorization = `Basic ${Buffer.from(`${o.user}:${o.password ?? ''}`).toString('base64')}`;
  return {
    target: `${url.origin}${url.pathname}?db=${o.db}`,
    async write(lines) {
      const body = await gzipAsync(lines.join('\n'));
      let res: Response;
      try {
        res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(o.timeoutMs) });
      } catch (err) {
        throw new SinkError('retry', `cannot reach InfluxDB: ${describeFetchError(err)}`);
      }
      if (res.status === 204 || res.status === 200) {
        await res.body?.cancel();
        return;
      }
      const text = await res.text().catch(() => '');
      throw new SinkError(failureOfStatus(res.status), `InfluxDB answered ${res.status}: ${influxMessage(text)}`, res.status);
    },
  };
}

export function describeFetchError(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'timed out';
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}

function influxMessage(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: string; message?: string };
    return (j.error ?? j.message ?? text).slice(0, 500);
  } catch {
    return text.slice(0, 500);
  }
}

import type { Env } from '../../config/env.js';
import { describeFetchError } from './v1.js';

/** One series of an InfluxQL answer, rows as objects (tags merged in), times in epoch ms. */
export interface QueryRow {
  readonly [column: string]: string | number | boolean | null;
}

export interface InfluxReader {
  /** Runs one InfluxQL statement; rows of every series, tags included as columns. */
  query(q: string): Promise<QueryRow[]>;
}

export class InfluxQueryError extends Error {
  override name = 'InfluxQueryError';
}

/**
 * InfluxQL over `/query`, which InfluxDB 1.x serves natively and 2.x/3.x through a DBRP mapping: v1 with db and
 * basic auth, v2 with the token and the database mapped to the bucket (INFLUX_DB, else the bucket's name).
 * Credentials go in headers, never in the URL (which may end up in an error message).
 */
export function createInfluxReader(env: Env): InfluxReader | undefined {
  if (!env.INFLUX_URL) return undefined;
  const db = env.INFLUX_DB ?? env.INFLUX_BUCKET;
  if (!db) return undefined;
  const url = new URL('query', env.INFLUX_URL.endsWith('/') ? env.INFLUX_URL : `${env.INFLUX_URL}/`);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (env.INFLUX_API === 'v2' && env.INFLUX_TOKEN) headers.authorization = `Token ${env.INFLUX_TOKEN}`;
  else if (env.INFLUX_USER !== undefined) headers.authorization = `Basic ${Buffer.from(`${env.INFLUX_USER}:${env.INFLUX_PASSWORD ?? ''}`).toString('base64')}`;
  return {
    async query(q) {
      const body = new URLSearchParams({ q, db, epoch: 'ms' });
      if (env.INFLUX_RP) body.set('rp', env.INFLUX_RP);
      let res: Response;
      try {
        res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(env.INFLUX_TIMEOUT) });
      } catch (err) {
        throw new InfluxQueryError(`cannot reach InfluxDB: ${describeFetchError(err)}`);
      }
      const text = await res.text();
      let parsed: { results?: { series?: { tags?: Record<string, string>; columns: string[]; values: unknown[][] }[]; error?: string }[]; error?: string };
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new InfluxQueryError(`InfluxDB answered ${res.status}: ${text.slice(0, 300)}`);
      }
      const err = parsed.error ?? parsed.results?.find((r) => r.error)?.error;
      if (err || !res.ok) throw new InfluxQueryError(`InfluxDB answered ${res.status}: ${err ?? text.slice(0, 300)}`);
      return (parsed.results?.[0]?.series ?? []).flatMap((s) =>
        s.values.map((v) => ({ ...s.tags, ...Object.fromEntries(s.columns.map((c, i) => [c, v[i] as QueryRow[string]])) })),
      );
    },
  };
}

import { HttpError, InfluxDB } from '@influxdata/influxdb-client';
import type { InfluxSink } from './sink.js';
import { SinkError, failureOfStatus } from './sink.js';
import { describeFetchError } from './v1.js';

export interface V2Options {
  url: string;
  org: string;
  bucket: string;
  token?: string;
  timeoutMs: number;
}

/**
 * InfluxDB 2.x/3.x through @influxdata/influxdb-client's write API. The client's own buffering and retries are
 * switched off: the spool owns retries, so a failed flush must reject and leave the points with us.
 */
export function createV2Sink(o: V2Options): InfluxSink {
  const client = new InfluxDB({ url: o.url, token: o.token, timeout: o.timeoutMs });
  const api = client.getWriteApi(o.org, o.bucket, 'ns', {
    batchSize: Number.MAX_SAFE_INTEGER,
    maxBatchBytes: Number.MAX_SAFE_INTEGER,
    flushInterval: 0,
    maxRetries: 0,
    maxBufferLines: Number.MAX_SAFE_INTEGER,
    gzipThreshold: 0,
    writeFailed: (error: Error) => Promise.reject(error),
  });
  return {
    target: `${o.url} org=${o.org} bucket=${o.bucket}`,
    async write(lines) {
      api.writeRecords(lines as string[]);
      try {
        await api.flush();
      } catch (err) {
        if (err instanceof HttpError) {
          throw new SinkError(failureOfStatus(err.statusCode), `InfluxDB answered ${err.statusCode}: ${(err.body ?? err.message).slice(0, 500)}`, err.statusCode);
        }
        throw new SinkError('retry', `cannot reach InfluxDB: ${describeFetchError(err)}`);
      }
    },
  };
}

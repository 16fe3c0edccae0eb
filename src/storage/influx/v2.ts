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
  /** The most lines one write carries. */
  maxLines: number;
}

/**
 * InfluxDB 2.x/3.x through @influxdata/influxdb-client's write API. The client's own buffering and retries are
 * switched off: the spool owns retries, so a failed flush must reject and leave the points with us.
 */
export function createV2Sink(o: V2Options): InfluxSink {
  const client = new InfluxDB({ url: o.url, token: o.token, timeout: o.timeoutMs });
  const api = client.getWriteApi(o.org, o.bucket, 'ns', {
    // The client preallocates batchSize slots and flushes by itself when they fill: one more than we ever write.
    batchSize: o.maxLines + 1,
    maxBatchBytes: 1024 ** 3,
    flushInterval: 0,
    maxRetries: 0,
    maxBufferLines: o.maxLines + 1,
    gzipThreshold: 0,
    writeFailed: (error: Error) => Promise.reject(error),
  });
  return {
    target: `${o.url} org=${o.org} bucket=${o.bucket}`,
    async write(lines) {
      try {
        // Spool rows written under a larger INFLUX_BATCH_LINES may exceed maxLines: never let the client flush alone.
        for (let i = 0; i < lines.length; i += o.maxLines) {
          api.writeRecords(lines.slice(i, i + o.maxLines) as string[]);
          await api.flush();
        }
      } catch (err) {
        if (err instanceof HttpError) {
          throw new SinkError(failureOfStatus(err.statusCode), `InfluxDB answered ${err.statusCode}: ${(err.body ?? err.message).slice(0, 500)}`, err.statusCode);
        }
        throw new SinkError('retry', `cannot reach InfluxDB: ${describeFetchError(err)}`);
      }
    },
  };
}

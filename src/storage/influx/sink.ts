/** Where rollup points go: one implementation per InfluxDB write API, chosen by INFLUX_API. */
export interface InfluxSink {
  /** For logs: the endpoint without any secret. */
  readonly target: string;
  /** Writes the lines or throws a SinkError saying whether a retry can succeed. */
  write(lines: readonly string[]): Promise<void>;
}

/**
 * `retry`: InfluxDB is down, slow or refuses us for now (auth, missing database) — keep the points and retry.
 * `reject`: InfluxDB refused the points themselves (a parse error or a type conflict) — retrying cannot help.
 * `too_large`: the batch was over its request size limit — split it.
 */
export const SINK_FAILURES = ['retry', 'reject', 'too_large'] as const;
export type SinkFailure = (typeof SINK_FAILURES)[number];

export class SinkError extends Error {
  override name = 'SinkError';
  constructor(
    readonly failure: SinkFailure,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export function failureOfStatus(status: number): SinkFailure {
  if (status === 413) return 'too_large';
  if (status === 400 || status === 422) return 'reject';
  return 'retry';
}

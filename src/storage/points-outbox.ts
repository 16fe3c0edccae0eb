/**
 * Line-protocol points bound for InfluxDB from any domain (incident events, SLA clocks, self metrics): domains
 * enqueue, and the ingest pipeline takes them at its tick into the spool, in the same transaction as the rollups and
 * the checkpoint, as the service's own (SERVICE) rows. Domains so depend on storage, not on telemetry.
 */
export class PointsOutbox {
  private lines: string[] = [];

  /** `enabled` is false without an InfluxDB sink: the points would only be discarded, so none are kept. */
  constructor(private readonly enabled: boolean) {}

  /** Queues points for the next tick. */
  enqueue(lines: readonly string[]): void {
    if (!this.enabled) return;
    // appended in a loop: a spread's argument list has a limit
    for (const l of lines) this.lines.push(l);
  }

  /** Every point queued since the last take, oldest first; the outbox is empty after. */
  take(): string[] {
    const out = this.lines;
    this.lines = [];
    return out;
  }
}

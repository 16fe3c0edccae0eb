import { beacon, bodies } from './samples.js';
import { layout, stateBody } from './scale.js';

/** A `ts` no generator produces: pooled bodies are built with it, then split around it. */
const MARK = 1_111_111_111_111;

/**
 * Pre-built request bodies kept as the string parts around their timestamps, restamped when sent: steady state
 * needs fresh timestamps (windows close, the writer and journal pruning run), and joining a few parts is cheap on
 * the client. `stamp` gives the text put in every timestamp's place; a body is joined again only when it changes.
 */
export class StampedPool {
  private next = 0;
  private readonly parts: string[][];
  private readonly cached: { stamp: string; text: string; bytes?: Buffer }[];

  constructor(
    texts: readonly string[],
    mark: string,
    /** Samples (or points) per body. */
    readonly batch: number,
    private readonly stamp: () => string,
  ) {
    this.parts = texts.map((t) => t.split(mark));
    this.cached = texts.map(() => ({ stamp: '', text: '' }));
  }

  /** The next body of the pool, round robin, restamped. */
  take(): string {
    return this.restamped().text;
  }

  /** The same as UTF-8 bytes, encoded once per stamp: the client's cost must not limit what is measured. */
  takeBytes(): Buffer {
    const c = this.restamped();
    return (c.bytes ??= Buffer.from(c.text));
  }

  private restamped(): { text: string; bytes?: Buffer } {
    const i = this.next++ % this.parts.length;
    const stamp = this.stamp();
    const c = this.cached[i]!;
    if (c.stamp !== stamp) {
      c.stamp = stamp;
      c.text = this.parts[i]!.join(stamp);
      delete c.bytes;
    }
    return c;
  }
}

/** JSON beacons restamped with the current second (a beacon's `ts` in ms, as a player sends it). */
const jsonPool = (texts: readonly string[], batch: number) =>
  new StampedPool(texts, `"ts":${MARK}`, batch, () => `"ts":${Math.floor(Date.now() / 1000) * 1000}`);

/** The small state: bench/samples.ts beacons (8 regions × 5 ISPs × 3 CDNs × 3 platforms: 96 series; ≤ 32 × `batch` sessions). */
export const smallState = (batch: number) => jsonPool(bodies(32, batch, MARK), batch);

/**
 * Beacons like the small state's over `regions` regions (r0, r1, …), so a cluster's partitions all get some: each
 * body's from every region (`mixed`), or each from one region (as a player's or a regional edge's batch is).
 */
export function manyRegions(batch: number, regions: number, mixed: boolean): StampedPool {
  const names = Array.from({ length: regions }, (_, i) => `r${i}`);
  const texts = mixed ? bodies(64, batch, MARK, names) : names.flatMap((r) => bodies(1, batch, MARK, [r]));
  return jsonPool(texts, batch);
}

/** The realistic state of the memory row (bench/scale.ts): ≈ 10 k series, 100 k sessions, all live in every pass over the pool. */
export const REALISTIC = { series: 10_000, sessions: 100_000 };
export function realisticState(batch: number): StampedPool {
  const { regions, values } = layout(REALISTIC.series);
  const count = Math.ceil(REALISTIC.sessions / batch);
  return jsonPool(Array.from({ length: count }, (_, k) => stateBody(k * batch, batch, MARK, regions, values, REALISTIC.sessions)), batch);
}

const esc = (s: string) => s.replace(/[,= ]/g, '\\$&');
const LP_MARK = '@ts@';

/**
 * The same beacons as qoswatch ingests, as line protocol: one point per sample. The session id is a string field
 * for InfluxDB (as a peer stores it); VictoriaMetrics keeps numeric fields only, so it is left out there (as a
 * label it would make every session a series). Every point of every request gets its own nanosecond timestamp
 * (now in ms, a per-request counter, the line's index): no point overwrites another, as none would in production.
 */
export function linePool(batch: number, withSession: boolean): StampedPool {
  const texts = Array.from({ length: 32 }, () =>
    Array.from({ length: batch }, (_, k) => {
      const b = beacon(0) as Record<string, any>;
      const d = b.dims as Record<string, string>;
      return (
        `qos_sample,cdn=${esc(d.cdn!)},isp=${esc(d.isp!)},platform=${esc(d.platform!)},region=${esc(b.region)},tenant=default ` +
        `${withSession ? `session="${b.session}",` : ''}latency_ms=${b.latency_ms},rtt_ms=${b.rtt_ms},packets_lost=${b.packets_lost},packets_expected=${b.packets_expected},` +
        `play_ms=${b.play_ms},stall_ms=${b.stall_ms},stall_count=${b.stall_count}i ${LP_MARK}${String(k).padStart(4, '0')}`
      );
    }).join('\n'),
  );
  let sent = 0;
  // ns = ms × 10⁶ + (request counter mod 100) × 10⁴ + line index (< 10⁴ points per batch).
  return new StampedPool(texts, LP_MARK, batch, () => String(Date.now() * 100 + (sent++ % 100)));
}

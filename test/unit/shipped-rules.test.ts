import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EventOverlay, type EventWindow } from '../../src/events/overlay.js';
import { type AlertEvent, RuleEngine } from '../../src/rules/engine.js';
import { loadRuleDir } from '../../src/rules/load.js';
import type { Rule } from '../../src/rules/rule-schema.js';
import { windowsRead } from '../../src/rules/windows-read.js';
import { type Fault, apply } from '../../src/simulator/faults.js';
import { Population, type PopulationOptions, type Share } from '../../src/simulator/model.js';
import { CardinalityCaps } from '../../src/telemetry/cardinality.js';
import type { Sample } from '../../src/telemetry/sample-schema.js';
import { WindowStore } from '../../src/telemetry/window-store.js';

/**
 * The shipped alert-rules/ through the real window store and rule engine, on the simulator's realistic audiences
 * for hours of scenario time: what a customer's on-call would be paged for. Time is an argument throughout.
 */

const W = 10_000; // QOSWATCH_WINDOW default; also the beacon interval
const MIN = 60_000;
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 5, 1, 19, 0, 0); // 20:00 in eu-west, near its evening peak
const SHIPPED = loadRuleDir(fileURLToPath(new URL('../../alert-rules/', import.meta.url)), { windowMs: W, horizonMs: 300_000 }).rules;

const HLS_MIX: Share[] = [{ name: 'hls', share: 0.6 }, { name: 'dash', share: 0.4 }];

/** Ingest as the service does (QOSWATCH_WINDOW_GRACE 15 s, retention from the rules) and evaluate after each batch. */
class Stream {
  readonly store: WindowStore;
  readonly engine: RuleEngine;
  readonly overlay = new EventOverlay();
  readonly events: AlertEvent[] = [];
  private nextId = 1;

  constructor(rules: readonly Rule[], startedAt: number, planned: readonly EventWindow[] = []) {
    this.store = new WindowStore({ windowMs: W, graceMs: 15_000, horizonMs: 300_000, closedBefore: Math.floor(startedAt / W) }, new CardinalityCaps(() => 100));
    this.store.setRetention(windowsRead(rules, W));
    this.overlay.set(planned);
    this.engine = new RuleEngine(this.store, rules, { startedAt, overlay: this.overlay.levelsFor, plannedEnd: this.overlay.plannedEnd });
  }

  /** One batch arriving at `t`, then the passes of the next interval (every 5 s, as the timer would). */
  step(t: number, samples: readonly Sample[]): void {
    for (const s of samples) this.store.ingest('t', s, this.nextId++, t);
    for (const at of [t, t + W / 2]) {
      this.store.tick(at);
      this.engine.observe(this.store.drainTouched(), at);
      this.events.push(...this.engine.evaluate(at));
    }
  }

  /** Fired alerts and priority changes as `rule priority labels`. */
  pages(): string[] {
    return this.events.filter((e) => e.type !== 'cleared').map((e) => `${e.rule.id} ${'priority' in e ? e.priority : ''} ${Object.values(e.labels).join('/')}`);
  }
}

interface Run {
  population: Partial<PopulationOptions>;
  from?: number;
  to: number;
  /** Transforms each interval's samples (faults, what an SDK sends). */
  map?: (samples: Sample[], t: number) => Sample[];
  planned?: EventWindow[];
}

/** Runs a population through the shipped rules from `from` to `to`; returns the stream and the latencies sent. */
function run(r: Run): { stream: Stream; latency: Map<string, number[]> } {
  const from = r.from ?? T0;
  const pop = new Population({ seed: 7, tenant: 't', regions: ['eu-west'], sessions: 1000, intervalMs: W, diurnal: { peakHour: 21, trough: 1 }, ...r.population });
  const stream = new Stream(SHIPPED, from, r.planned);
  const latency = new Map<string, number[]>();
  for (let t = from; t <= r.to; t += W) {
    const samples = r.map ? r.map(pop.beacons(t), t) : pop.beacons(t);
    for (const s of samples) {
      if (s.latency_ms === undefined || (t - from) % (5 * MIN) !== 0) continue;
      const p = s.dims?.protocol ?? '(none)';
      let list = latency.get(p);
      if (!list) latency.set(p, (list = []));
      list.push(s.latency_ms);
    }
    stream.step(t, samples);
  }
  return { stream, latency };
}

const quantile = (values: readonly number[], q: number) => [...values].sort((a, b) => a - b)[Math.floor(q * (values.length - 1))]!;

describe('latency is judged per delivery class (PRODUCT.md §2: RTC ≈ 0.3–1 s, LL-HLS ≈ 2–5 s, HLS/DASH ≈ 6–30 s)', () => {
  it('healthy HLS/DASH at 6–25 s for an hour pages nobody', () => {
    const { stream, latency } = run({ population: { protocols: HLS_MIX }, to: T0 + HOUR });
    const all = [...latency.get('hls')!, ...latency.get('dash')!];
    expect(quantile(all, 0.05)).toBeGreaterThan(6000);
    expect(quantile(all, 0.95)).toBeLessThan(25_000);
    expect(stream.pages()).toEqual([]);
  });

  it('a region mixing WebRTC, LL-HLS and HLS, all healthy, pages nobody; WebRTC at 2.5 s is a P1 for its viewers only', () => {
    const mix = [{ name: 'webrtc', share: 0.2 }, { name: 'll-hls', share: 0.3 }, { name: 'hls', share: 0.5 }];
    const slowFrom = T0 + 25 * MIN;
    const { stream, latency } = run({
      population: { protocols: mix },
      to: T0 + 40 * MIN,
      // from 25 min on, the WebRTC path degrades to about 2.5 s (e.g. a relay fell back to TURN over TCP)
      map: (samples, t) => (t < slowFrom ? samples : samples.map((s) => (s.dims?.protocol === 'webrtc' && s.latency_ms !== undefined ? { ...s, latency_ms: Math.round(s.latency_ms * 9) } : s))),
    });
    expect(quantile(latency.get('ll-hls')!, 0.95)).toBeLessThan(5000);
    expect(quantile(latency.get('webrtc')!.slice(-200), 0.5)).toBeGreaterThan(2000);
    expect(stream.events.filter((e) => e.at < slowFrom)).toEqual([]);
    expect(stream.pages()).toEqual(['latency-p95-rtc P1 t/eu-west/webrtc']);
  });

  it('LL-HLS that falls back to plain-HLS latency (≈ 15 s) is a P1; HLS beside it stays quiet', () => {
    const { stream } = run({
      population: { protocols: [{ name: 'll-hls', share: 0.5 }, { name: 'hls', share: 0.5 }] },
      to: T0 + 25 * MIN,
      map: (samples, t) => (t < T0 + 10 * MIN ? samples : samples.map((s) => (s.dims?.protocol === 'll-hls' && s.latency_ms !== undefined ? { ...s, latency_ms: s.latency_ms * 5 } : s))),
    });
    expect(stream.pages()).toEqual(['latency-p95-ll P1 t/eu-west/ll-hls']);
  });

  it('samples without a protocol are not judged on latency: an HLS player that does not say so pages nobody', () => {
    const { stream } = run({
      population: { protocols: HLS_MIX },
      to: T0 + 30 * MIN,
      map: (samples) => samples.map(({ dims, ...s }) => (dims ? { ...s, dims: { ...dims, protocol: undefined } } : s) as Sample),
    });
    expect(stream.pages()).toEqual([]);
  });
});

describe('silence is judged against the audience the region had and the planned events', () => {
  const START = T0;
  const END = T0 + 25 * MIN;
  /** A show: the audience arrives over 5 min, watches for 20, then leaves (a third of those left every 50 s or so). */
  const show = (cutAt: number) => (t: number) => (t < START ? 0 : t < START + 5 * MIN ? (t - START) / (5 * MIN) : t < END ? 1 : t < cutAt ? Math.exp(-(t - END) / (2 * MIN)) : 0);
  /** Player SDK telemetry only: with no viewer left there is no telemetry at all. */
  const viewersOnly = (samples: Sample[]) => samples.filter((s) => s.session !== undefined);
  const showRun = (cutAt: number, planned: EventWindow[] = []) =>
    run({ population: { sessions: 1500, audience: show(cutAt), protocols: HLS_MIX }, from: START - 5 * MIN, to: END + 30 * MIN, map: viewersOnly, planned }).stream;
  const p0s = (s: Stream) => s.pages().filter((p) => / P0 /.test(p));
  // Registered with tighter stall and error thresholds during the show (halving latency or startup targets would
  // page on a healthy show: HLS p95 ≈ 23 s, startup p95 ≈ 2 s).
  const event: EventWindow = { id: 1, name: 'Cup final', tenant: 't', regions: ['eu-west'], startsAt: START, endsAt: END, factor: 0.5, rules: ['stall-ratio', 'error-rate'] };

  it('the show ends, its 1500 viewers leave over ten minutes, then telemetry stops: nobody paged', () => {
    const stream = showRun(END + 10 * MIN);
    expect(stream.pages()).toEqual([]);
  });

  it('the stream stops at the planned end with thousands watching: expected (no page); unplanned, it is a P0', () => {
    expect(showRun(END, [event]).pages()).toEqual([]);
    expect(p0s(showRun(END))).toEqual(expect.arrayContaining(['region-silent P0 t/eu-west']));
  });

  it('a region of thousands going silent mid-show is a P0, planned event or not', () => {
    // 13 min before the planned end: earlier than an early finish (10 min)
    const outage: Fault = { kind: 'outage', region: 'eu-west', at: END - 13 * MIN, for: HOUR };
    const stream = run({
      population: { sessions: 1500, audience: show(END + 10 * MIN), protocols: HLS_MIX },
      from: START - 5 * MIN,
      to: END,
      map: (samples, t) => apply([outage], t, samples),
      planned: [event],
    }).stream;
    expect(p0s(stream)).toEqual(expect.arrayContaining(['region-silent P0 t/eu-west']));
  });

  it('a healthy show registered with the defaults (no rules list, × 0.5) pages nobody; stalling over the tightened 2.5 % is a P1', () => {
    const defaults: EventWindow = { ...event, rules: null };
    const healthy = run({ population: { sessions: 1500, audience: show(END + 10 * MIN), protocols: HLS_MIX }, from: START - 5 * MIN, to: END, map: viewersOnly, planned: [defaults] });
    expect(healthy.stream.pages()).toEqual([]);
    // 3 % of watch time stalled from 10 min in: under the 5 % P1 of normal times, over its 2.5 % during the show
    const stalling = run({
      population: { sessions: 1500, audience: show(END + 10 * MIN), protocols: HLS_MIX },
      from: START - 5 * MIN,
      to: END,
      map: (samples, t) => viewersOnly(samples).map((s) => (t >= START + 10 * MIN && s.play_ms !== undefined ? { ...s, stall_ms: Math.round((s.play_ms + (s.stall_ms ?? 0)) * 0.03), play_ms: Math.round((s.play_ms + (s.stall_ms ?? 0)) * 0.97) } : s)),
      planned: [defaults],
    });
    expect(stalling.stream.pages()).toEqual(['stall-ratio P1 t/eu-west']);
  });

  it('a night-time region with a handful of viewers that goes quiet pages nobody', () => {
    const outage: Fault = { kind: 'outage', region: 'eu-west', at: T0 + 20 * MIN, for: HOUR };
    const stream = run({ population: { sessions: 15, protocols: HLS_MIX }, to: T0 + 40 * MIN, map: (samples, t) => apply([outage], t, samples) }).stream;
    expect(stream.pages()).toEqual([]);
  });
});

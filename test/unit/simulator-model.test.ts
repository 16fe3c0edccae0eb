import { describe, expect, it } from 'vitest';
import { type Fault, apply } from '../../src/simulator/faults.js';
import { Population, type PopulationOptions, compress, diurnalFactor, localHour, mulberry32 } from '../../src/simulator/model.js';
import { isValidSample, type Sample } from '../../src/telemetry/sample-schema.js';
import { validateSamples } from '../../src/telemetry/validate.js';

/** The simulator's population model and fault transforms (pure: time is an argument). */

const T0 = Date.UTC(2026, 5, 1, 19, 0, 0); // 20:00 in eu-west (UTC+1), near its 21:00 peak
const I = 10_000;
const DAY = 86_400_000;

const population = (over: Partial<PopulationOptions> = {}) =>
  new Population({ seed: 1, tenant: 't', regions: ['eu-west', 'us-east', 'ap-south'], sessions: 2000, intervalMs: I, ...over });

/** `n` consecutive intervals of a population from T0. */
function run(p: Population, n: number, from = T0): Sample[][] {
  return Array.from({ length: n }, (_, k) => p.beacons(from + k * I));
}

const viewersOf = (samples: readonly Sample[]) => samples.filter((s) => s.session !== undefined);
const sum = (samples: readonly Sample[], f: (s: Sample) => number) => samples.reduce((a, s) => a + f(s), 0);
const stallRatio = (samples: readonly Sample[]) => {
  const v = viewersOf(samples).filter((s) => s.play_ms !== undefined);
  return sum(v, (s) => s.stall_ms ?? 0) / sum(v, (s) => s.play_ms! + (s.stall_ms ?? 0));
};
const lossRatio = (samples: readonly Sample[]) => {
  const v = samples.filter((s) => s.packets_expected !== undefined);
  return sum(v, (s) => s.packets_lost!) / sum(v, (s) => s.packets_expected!);
};
const quantile = (values: number[], q: number) => {
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.floor(q * v.length))]!;
};
const inRegion = (region: string) => (s: Sample) => s.region === region;
const onCdn = (cdn: string) => (s: Sample) => s.dims?.cdn === cdn;

describe('seeded randomness', () => {
  it('mulberry32 repeats for a seed and differs between seeds', () => {
    const a = mulberry32(7), b = mulberry32(7), c = mulberry32(8);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('the same seed gives the same telemetry, interval after interval; another seed does not', () => {
    const a = run(population({ seed: 42 }), 6);
    const b = run(population({ seed: 42 }), 6);
    const c = run(population({ seed: 43 }), 6);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(JSON.stringify(c)).not.toBe(JSON.stringify(a));
  });
});

describe('samples the service accepts', () => {
  it('every generated sample passes the service validator, healthy and under every fault', () => {
    const faults: Fault[] = [
      { kind: 'stall_storm', cdn: 'cdn-b', ratio: 0.9, at: 0, for: DAY },
      { kind: 'packet_loss', isp: 'comcast', loss: 1, at: 0, for: DAY },
      { kind: 'latency_creep', region: 'ap-south', to: 700_000, at: 0, for: 3 * I },
      { kind: 'concurrency_collapse', region: 'us-east', drop: 0.5, at: 0, for: DAY },
      { kind: 'flapping', region: 'eu-west', ratio: 1, period: I, at: 0, for: DAY },
      { kind: 'outage', region: 'ap-south', at: 5 * I, for: I },
    ];
    const p = population({ errorRate: 0.01, startFailureRate: 0.05 });
    let checked = 0;
    for (let k = 0; k < 12; k++) {
      const t = T0 + k * I;
      for (const samples of [p.beacons(t), apply(faults, k * I, p.beacons(t + 1))]) {
        const invalid = samples.filter((s) => !isValidSample(s));
        expect(invalid, JSON.stringify(invalid.slice(0, 2))).toEqual([]);
        const v = validateSamples(structuredClone(samples), t, DAY);
        expect(v.rejected, JSON.stringify(v.rejected.slice(0, 2))).toEqual([]);
        expect(v.accepted).toHaveLength(samples.length);
        checked += samples.length;
      }
    }
    expect(checked).toBeGreaterThan(20_000);
  });

  it('a viewer beacon covers its interval: play_ms + stall_ms = interval_ms, ts = start of the interval', () => {
    const [first, second] = run(population(), 2) as [Sample[], Sample[]];
    expect(new Set(first.map((s) => s.ts))).toEqual(new Set([T0 - I]));
    expect(new Set(second.map((s) => s.ts))).toEqual(new Set([T0]));
    const withPlay = viewersOf(second).filter((s) => s.play_ms !== undefined);
    expect(withPlay.length).toBeGreaterThan(1000);
    for (const s of withPlay) expect(s.play_ms! + s.stall_ms!, s.session).toBe(I);
    for (const s of viewersOf(second)) expect(s.dims, s.session).toMatchObject({ isp: expect.any(String), cdn: expect.any(String), platform: expect.any(String) });
  });

  it('healthy telemetry is below the shipped rules` lowest thresholds', () => {
    const all = run(population(), 12).flat();
    expect(stallRatio(all)).toBeGreaterThan(0.001);
    expect(stallRatio(all)).toBeLessThan(0.02);
    expect(lossRatio(all)).toBeGreaterThan(0.0005);
    expect(lossRatio(all)).toBeLessThan(0.02);
    for (const region of ['eu-west', 'us-east', 'ap-south']) {
      const lat = all.filter(inRegion(region)).flatMap((s) => (s.latency_ms === undefined ? [] : [s.latency_ms]));
      expect(quantile(lat, 0.95), region).toBeLessThan(800);
      expect(quantile(lat, 0.5), region).toBeGreaterThan(200);
      // per ISP: well below the WebRTC class's 1 s (the shipped latency-p95-rtc P2), and each ISP's loss below 2 %
      for (const isp of new Set(all.filter(inRegion(region)).flatMap((s) => (s.dims?.isp ? [s.dims.isp] : [])))) {
        const mine = all.filter((s) => s.region === region && s.dims?.isp === isp);
        expect(quantile(mine.flatMap((s) => (s.latency_ms === undefined ? [] : [s.latency_ms])), 0.95), `${region} ${isp}`).toBeLessThan(500);
        expect(lossRatio(mine), `${region} ${isp}`).toBeLessThan(0.02);
      }
      expect(stallRatio(all.filter(inRegion(region))), region).toBeLessThan(0.02);
    }
    const startups = all.flatMap((s) => (s.startup_ms === undefined ? [] : [s.startup_ms]));
    expect(startups.length).toBeGreaterThan(20);
    expect(quantile(startups, 0.95)).toBeLessThan(3000);
    const sessions = new Set(viewersOf(all).map((s) => s.session));
    const failed = new Set(viewersOf(all).filter((s) => s.error !== undefined).map((s) => s.session));
    expect(failed.size).toBeGreaterThan(0);
    expect(failed.size / sessions.size).toBeLessThan(0.03);
  });
});

describe('sessions', () => {
  it('report startup_ms once, on their first beacon; sessions live at the start report none', () => {
    const ticks = run(population({ meanSessionMs: 60_000 }), 15);
    const initial = new Set(viewersOf(ticks[0]!).map((s) => s.session));
    expect(viewersOf(ticks[0]!).some((s) => s.startup_ms !== undefined)).toBe(false);
    const startups = new Map<string, number>();
    const firstSeen = new Map<string, number>();
    ticks.forEach((samples, k) => {
      for (const s of viewersOf(samples)) {
        if (!firstSeen.has(s.session!)) firstSeen.set(s.session!, k);
        if (s.startup_ms !== undefined) {
          startups.set(s.session!, (startups.get(s.session!) ?? 0) + 1);
          expect(firstSeen.get(s.session!), 'startup on the first beacon').toBe(k);
        }
      }
    });
    expect([...startups.values()].every((n) => n === 1)).toBe(true);
    const newcomers = [...firstSeen.keys()].filter((id) => !initial.has(id));
    expect(newcomers.length).toBeGreaterThan(200);
    // every newcomer that got a first frame reported its startup (a failed start reports only its error)
    const started = newcomers.filter((id) => startups.has(id)).length;
    expect(started / newcomers.length).toBeGreaterThan(0.97);
  });

  it('churn: sessions end and others start while the count follows the curve', () => {
    const p = population({ meanSessionMs: 120_000 });
    const first = new Set(viewersOf(p.beacons(T0)).map((s) => s.session));
    for (let k = 1; k < 30; k++) p.beacons(T0 + k * I);
    const t = T0 + 30 * I;
    const later = viewersOf(p.beacons(t));
    const stayed = later.filter((s) => first.has(s.session)).length;
    expect(stayed / later.length).toBeGreaterThan(0.02);
    expect(stayed / later.length).toBeLessThan(0.3); // 5 min at a 2 min mean length: e^-2.5 ≈ 8 % remain
    // the live count is what the curve asks for (failed sessions are gone until the next interval refills them)
    expect(p.live().length).toBeGreaterThanOrEqual(p.expected(t) - 10);
    expect(p.live().length).toBeLessThanOrEqual(p.expected(t));
    expect(later.length).toBe(p.expected(t));
  });

  it('a session that hit a fatal error does not report again', () => {
    const ticks = run(population({ errorRate: 0.02 }), 10);
    const failedAt = new Map<string, number>();
    ticks.forEach((samples, k) => {
      for (const s of viewersOf(samples)) {
        expect(failedAt.has(s.session!), `${s.session} reported after its error`).toBe(false);
        if (s.error !== undefined) failedAt.set(s.session!, k);
      }
    });
    expect(failedAt.size).toBeGreaterThan(100);
  });
});

describe('the diurnal curve', () => {
  it('is 1 at the peak hour, the trough ratio 12 hours away, and symmetric', () => {
    const d = { peakHour: 21, trough: 0.25 };
    expect(diurnalFactor(21, d)).toBeCloseTo(1, 10);
    expect(diurnalFactor(9, d)).toBeCloseTo(0.25, 10);
    expect(diurnalFactor(18, d)).toBeCloseTo(diurnalFactor(24, d), 10);
    expect(diurnalFactor(15, d)).toBeCloseTo(0.625, 10);
    expect(diurnalFactor(3, { peakHour: 21, trough: 1 })).toBe(1);
    expect(localHour(Date.UTC(2026, 0, 1, 23, 30), 'eu-west')).toBeCloseTo(0.5, 10);
    expect(localHour(Date.UTC(2026, 0, 1, 2), 'us-east')).toBeCloseTo(21, 10);
  });

  it('live sessions follow it in the region`s local time: most at the local peak, fewest 12 h later, monotone between', () => {
    const p = new Population({ seed: 3, tenant: 't', regions: ['eu-west'], sessions: 1000, intervalMs: I, diurnal: { peakHour: 21, trough: 0.25 } });
    const start = Date.UTC(2026, 5, 1, 0);
    const counts = Array.from({ length: 48 }, (_, h) => viewersOf(p.beacons(start + h * 3_600_000)).length);
    // eu-west is UTC+1: its 21:00 peak is 20:00 UTC, its trough 08:00 UTC
    expect(counts[20]).toBe(Math.max(...counts));
    expect(counts[8]).toBe(Math.min(...counts));
    expect(counts[20]).toBeGreaterThan(970);
    expect(counts[20]).toBeLessThan(1030);
    expect(counts[8]! / counts[20]!).toBeCloseTo(0.25, 1);
    for (let h = 20; h < 32; h++) expect(counts[h + 1]!, `hour ${h + 1}`).toBeLessThanOrEqual(counts[h]!);
    for (let h = 32; h < 44; h++) expect(counts[h + 1]!, `hour ${h + 1}`).toBeGreaterThanOrEqual(counts[h]!);
    expect(counts.slice(24)).toEqual(counts.slice(0, 24)); // a day later, the same audience size
  });

  it('each region runs on its own clock', () => {
    const p = new Population({ seed: 3, tenant: 't', regions: ['eu-west', 'us-east'], sessions: 2000, intervalMs: I });
    const at = (utcHour: number, region: string) => p.expected(Date.UTC(2026, 5, 1, utcHour), region);
    expect(at(20, 'eu-west')).toBeGreaterThan(3 * at(20 - 12, 'eu-west'));
    expect(at(2, 'us-east')).toBeGreaterThan(3 * at(14, 'us-east')); // 21:00 in UTC-5 is 02:00 UTC
    expect(at(20, 'eu-west')).toBeGreaterThan(at(20, 'us-east') * 0.9 * (1 / 1.2)); // us-east is bigger, but at 15:00
  });
});

describe('delivery protocols and show audiences', () => {
  const latencies = (samples: readonly Sample[], protocol: string) =>
    viewersOf(samples).flatMap((s) => (s.dims?.protocol === protocol && s.latency_ms !== undefined ? [s.latency_ms] : []));

  it('every session carries dims.protocol; shares follow the mix; latency follows PRODUCT.md §2`s classes', () => {
    const all = run(population({ protocols: [{ name: 'webrtc', share: 0.2 }, { name: 'll-hls', share: 0.3 }, { name: 'hls', share: 0.5 }] }), 12).flat();
    const viewers = viewersOf(all);
    expect(viewers.every((s) => s.dims?.protocol !== undefined)).toBe(true);
    const share = (p: string) => viewers.filter((s) => s.dims?.protocol === p).length / viewers.length;
    expect(share('webrtc')).toBeCloseTo(0.2, 1);
    expect(share('hls')).toBeCloseTo(0.5, 1);
    // RTC ≈ 0.3–1 s, LL-HLS ≈ 2–5 s, HLS/DASH ≈ 6–30 s: the class's range holds 5th to 95th percentile
    for (const [p, lo, hi] of [['webrtc', 150, 1000], ['ll-hls', 2000, 5000], ['hls', 6000, 25_000]] as const) {
      const l = latencies(all, p);
      expect(quantile(l, 0.05), p).toBeGreaterThan(lo);
      expect(quantile(l, 0.95), p).toBeLessThan(hi);
    }
  });

  it('the default population is all webrtc, at the region profiles` latency', () => {
    const viewers = viewersOf(run(population(), 2).flat());
    expect(new Set(viewers.map((s) => s.dims?.protocol))).toEqual(new Set(['webrtc']));
  });

  it('an audience curve replaces the diurnal one: nobody before the show, the peak during it, nobody once it is 0', () => {
    const show = (t: number) => (t < T0 + 2 * I ? 0 : t < T0 + 6 * I ? 1 : 0);
    const ticks = run(population({ audience: show }), 8);
    const live = ticks.map((samples) => viewersOf(samples).length);
    expect(live.slice(0, 2)).toEqual([0, 0]);
    expect(live[4]).toBeGreaterThan(1900);
    expect(live.slice(6)).toEqual([0, 0]);
  });
});

describe('edge nodes', () => {
  it('each node`s concurrency gauge equals the sessions it served in the interval', () => {
    const p = population();
    for (let k = 0; k < 5; k++) {
      const samples = p.beacons(T0 + k * I);
      const nodes = samples.filter((s) => s.node !== undefined);
      expect(nodes.length).toBeGreaterThanOrEqual(3 * 3 * 2);
      const served = new Map<string, number>();
      for (const s of viewersOf(samples)) served.set(p.nodeOf(s.session!)!, (served.get(p.nodeOf(s.session!)!) ?? 0) + 1);
      for (const n of nodes) {
        expect(n.concurrency, n.node).toBe(served.get(n.node!) ?? 0);
        expect(n.node!.startsWith(`edge-${n.region}-${n.dims!.cdn}-`)).toBe(true);
      }
      expect(sum(nodes, (n) => n.concurrency!)).toBe(viewersOf(samples).length);
      // a node serves its own region and CDN only
      for (const s of viewersOf(samples)) expect(p.nodeOf(s.session!)!.startsWith(`edge-${s.region}-${s.dims!.cdn}-`)).toBe(true);
    }
  });
});

describe('faults', () => {
  const ticks = run(population({ seed: 9 }), 10);
  const during = (faults: Fault[]) => ticks.map((samples, k) => apply(faults, k * I, samples));

  it('stall_storm: the CDN`s Σstall / Σ(play + stall) reaches the ratio; other CDNs and regions are untouched', () => {
    for (const ratio of [0.2, 0.05, 0.8]) {
      const out = during([{ kind: 'stall_storm', cdn: 'cdn-b', region: 'eu-west', ratio, at: 0, for: DAY }]).flat();
      const hit = out.filter((s) => s.region === 'eu-west' && s.dims?.cdn === 'cdn-b');
      expect(viewersOf(hit).length).toBeGreaterThan(500);
      expect(Math.abs(stallRatio(hit) - ratio), `ratio ${ratio}: got ${stallRatio(hit)}`).toBeLessThan(0.01);
      for (const s of viewersOf(hit).filter((v) => v.play_ms !== undefined)) expect(s.play_ms! + s.stall_ms!).toBe(I);
    }
    const out = during([{ kind: 'stall_storm', cdn: 'cdn-b', region: 'eu-west', ratio: 0.2, at: 0, for: DAY }]);
    out.forEach((samples, k) => {
      const before = ticks[k]!;
      samples.forEach((s, i) => {
        if (!(s.region === 'eu-west' && s.dims?.cdn === 'cdn-b')) expect(s).toBe(before[i]);
      });
    });
    expect(stallRatio(out.flat().filter((s) => s.region === 'us-east' && s.dims?.cdn === 'cdn-b'))).toBeLessThan(0.02);
    // without a region, the CDN stalls everywhere
    const everywhere = during([{ kind: 'stall_storm', cdn: 'cdn-a', ratio: 0.3, at: 0, for: DAY }]).flat();
    for (const region of ['eu-west', 'us-east', 'ap-south']) expect(stallRatio(everywhere.filter((s) => s.region === region && s.dims?.cdn === 'cdn-a'))).toBeCloseTo(0.3, 1);
  });

  it('faults act only between at and at + for', () => {
    const out = during([{ kind: 'stall_storm', cdn: 'cdn-a', ratio: 0.5, at: 3 * I, for: 4 * I }]);
    const ratios = out.map((samples) => stallRatio(samples.filter(onCdn('cdn-a'))));
    ratios.forEach((r, k) => {
      if (k >= 3 && k < 7) expect(r, `interval ${k}`).toBeCloseTo(0.5, 1);
      else expect(r, `interval ${k}`).toBeLessThan(0.03);
    });
  });

  it('packet_loss: the ISP`s Σlost / Σexpected reaches the loss', () => {
    const out = during([{ kind: 'packet_loss', isp: 'orange', loss: 0.1, at: 0, for: DAY }]).flat();
    const hit = out.filter((s) => s.dims?.isp === 'orange');
    expect(hit.length).toBeGreaterThan(300);
    expect(Math.abs(lossRatio(hit) - 0.1)).toBeLessThan(0.005);
    expect(lossRatio(out.filter((s) => s.dims?.isp === 'vodafone'))).toBeLessThan(0.01);
  });

  it('outage: no samples at all from the region while it lasts, then it reports again', () => {
    const out = during([{ kind: 'outage', region: 'us-east', at: 2 * I, for: 3 * I }]);
    out.forEach((samples, k) => {
      const n = samples.filter(inRegion('us-east')).length;
      if (k >= 2 && k < 5) expect(n, `interval ${k}`).toBe(0);
      else expect(n, `interval ${k}`).toBe(ticks[k]!.filter(inRegion('us-east')).length);
      expect(samples.filter(inRegion('eu-west'))).toEqual(ticks[k]!.filter(inRegion('eu-west')));
    });
    expect(ticks[3]!.filter((s) => s.region === 'us-east' && s.node !== undefined).length).toBeGreaterThan(0);
  });

  it('latency_creep: the region`s latency grows linearly from its normal level to the target over the fault', () => {
    const f: Fault = { kind: 'latency_creep', region: 'ap-south', to: 3000, at: 0, for: 100_000 };
    const samples = ticks[5]!;
    const med = (t: number) => quantile(apply([f], t, samples).filter(inRegion('ap-south')).flatMap((s) => (s.latency_ms === undefined ? [] : [s.latency_ms])), 0.5);
    const base = med(-1);
    expect(base).toBeGreaterThan(200);
    expect(base).toBeLessThan(500);
    expect(med(0)).toBeCloseTo(base, -1);
    const steps = [0, 25_000, 50_000, 75_000, 99_999].map(med);
    for (let i = 1; i < steps.length; i++) expect(steps[i]!).toBeGreaterThan(steps[i - 1]!);
    expect(Math.abs(med(50_000) - (base + 3000) / 2) / ((base + 3000) / 2)).toBeLessThan(0.05);
    expect(Math.abs(med(99_999) - 3000) / 3000).toBeLessThan(0.05);
    expect(quantile(apply([f], 99_999, samples).filter(inRegion('eu-west')).flatMap((s) => (s.latency_ms === undefined ? [] : [s.latency_ms])), 0.5)).toBeLessThan(500);
  });

  it('concurrency_collapse: the region loses about X of its sessions and node concurrency — the same sessions every interval', () => {
    const f: Fault = { kind: 'concurrency_collapse', region: 'eu-west', drop: 0.6, at: 0, for: DAY };
    const out = during([f]);
    const before = viewersOf(ticks.flat().filter(inRegion('eu-west'))).length;
    const after = viewersOf(out.flat().filter(inRegion('eu-west'))).length;
    expect(Math.abs(after / before - 0.4)).toBeLessThan(0.05);
    const gauges = (xs: Sample[]) => sum(xs.filter((s) => s.region === 'eu-west' && s.concurrency !== undefined), (s) => s.concurrency!);
    expect(Math.abs(gauges(out.flat()) / gauges(ticks.flat()) - 0.4)).toBeLessThan(0.02);
    expect(viewersOf(out.flat().filter(inRegion('us-east')))).toHaveLength(viewersOf(ticks.flat().filter(inRegion('us-east'))).length);
    // a session kept in one interval is kept in the next (viewers left; they do not flicker)
    const kept = (k: number) => new Set(viewersOf(out[k]!).filter(inRegion('eu-west')).map((s) => s.session));
    const dropped4 = viewersOf(ticks[4]!).filter((s) => s.region === 'eu-west' && !kept(4).has(s.session));
    const seen5 = new Set(viewersOf(ticks[5]!).map((s) => s.session));
    expect(dropped4.filter((s) => seen5.has(s.session) && kept(5).has(s.session))).toEqual([]);
  });

  it('flapping: a stall storm in the region toggling on and off every period, starting on', () => {
    const f: Fault = { kind: 'flapping', region: 'eu-west', ratio: 0.3, period: 2 * I, at: I, for: 8 * I };
    const out = during([f]);
    const ratios = out.map((samples) => stallRatio(samples.filter(inRegion('eu-west'))));
    const on = [1, 2, 5, 6];
    const off = [0, 3, 4, 7, 8, 9];
    for (const k of on) expect(ratios[k]!, `interval ${k} on`).toBeCloseTo(0.3, 1);
    for (const k of off) expect(ratios[k]!, `interval ${k} off`).toBeLessThan(0.03);
    // other regions never flap
    for (const samples of out) expect(stallRatio(samples.filter(inRegion('us-east')))).toBeLessThan(0.03);
  });

  it('apply does not change its input', () => {
    const samples = ticks[2]!;
    const copy = structuredClone(samples);
    apply(
      [
        { kind: 'stall_storm', cdn: 'cdn-a', ratio: 0.5, at: 0, for: DAY },
        { kind: 'latency_creep', region: 'eu-west', to: 5000, at: 0, for: DAY },
        { kind: 'concurrency_collapse', region: 'us-east', drop: 0.5, at: 0, for: DAY },
      ],
      I,
      samples,
    );
    expect(samples).toEqual(copy);
  });
});

describe('time compression', () => {
  it('shrinks the interval and the time fields by the speed, keeping the stall ratio and the counts', () => {
    const samples = apply([{ kind: 'stall_storm', cdn: 'cdn-a', ratio: 0.25, at: 0, for: DAY }], 0, population().beacons(T0));
    const fast = compress(samples, 10);
    expect(fast).toHaveLength(samples.length);
    for (const s of fast) expect(s.interval_ms).toBe(1000);
    for (const s of viewersOf(fast).filter((v) => v.play_ms !== undefined)) expect(s.play_ms! + s.stall_ms!).toBe(1000);
    expect(Math.abs(stallRatio(fast.filter(onCdn('cdn-a'))) - stallRatio(samples.filter(onCdn('cdn-a'))))).toBeLessThan(0.005);
    expect(fast.map((s) => s.packets_lost ?? s.concurrency)).toEqual(samples.map((s) => s.packets_lost ?? s.concurrency));
    expect(fast.every((s) => isValidSample(s))).toBe(true);
    expect(compress(samples, 1)).toEqual(samples);
  });
});

import type { Sample } from '../telemetry/sample-schema.js';

/**
 * The simulator's population model: pure and deterministic for a seed (no clock, no I/O — time is an argument).
 *
 * One `Population` is one tenant's audience: sessions in cells of (region, isp, cdn, platform) whose number
 * follows a diurnal curve in each region's local time, churning (sessions end, new ones start with a startup
 * time), each live session emitting one beacon per interval, and the edge nodes of each (region, cdn) emitting
 * a concurrency gauge equal to the sessions they serve.
 */

// ---------------------------------------------------------------------------------------------------------------
// Seeded randomness

/** mulberry32: a tiny, fast 32-bit PRNG; the same seed gives the same sequence on every platform. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a of a string, as a uniform number in [0, 1): stable per-id randomness without PRNG state. */
export function hashUnit(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // a final avalanche so that ids differing in their last character spread over the whole range
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return (h >>> 0) / 4294967296;
}

export class Rng {
  private readonly next: () => number;
  private spare: number | undefined;

  constructor(seed: number) {
    this.next = mulberry32(seed);
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.next();
  }

  /** Standard normal (Box–Muller, the second value kept for the next call). */
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Log-normal with the given median and shape σ (of the underlying normal). */
  lognormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }

  /** Exponential with the given mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }

  /** Poisson count (Knuth for small λ, a rounded normal above). */
  poisson(lambda: number): number {
    if (lambda <= 0) return 0;
    if (lambda > 50) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * this.normal()));
    const l = Math.exp(-lambda);
    let k = 0;
    let p = 1;
    do {
      k++;
      p *= this.next();
    } while (p > l);
    return k - 1;
  }

  /** An index picked by weight. */
  weighted(weights: readonly number[]): number {
    const total = weights.reduce((a, w) => a + w, 0);
    let x = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      x -= weights[i]!;
      if (x < 0) return i;
    }
    return weights.length - 1;
  }

  /** Shuffles in place (Fisher–Yates). */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Regions, networks, platforms

export interface Isp {
  readonly name: string;
  readonly country?: string;
  readonly share: number;
}

export interface RegionProfile {
  /** Hours from UTC of the audience's local time (the diurnal curve runs on it). */
  readonly utcOffset: number;
  /**
   * Median end-to-end latency of a healthy WebRTC viewer, ms (RTC ≈ 0.3–1 s), below the shipped latency-p95-rtc
   * rule's 1 s, so that healthy telemetry opens no incident with the shipped rules.
   */
  readonly latencyMs: number;
  /** Median network round trip, ms. */
  readonly rttMs: number;
  /** Relative audience size. */
  readonly weight: number;
  readonly isps: readonly Isp[];
}

/** Known regions; any other name gets `DEFAULT_REGION`. */
export const REGION_PROFILES: Readonly<Record<string, RegionProfile>> = {
  'eu-west': { utcOffset: 1, latencyMs: 260, rttMs: 30, weight: 1, isps: [{ name: 'orange', country: 'fr', share: 0.4 }, { name: 'vodafone', country: 'gb', share: 0.35 }, { name: 'telekom', country: 'de', share: 0.25 }] },
  'eu-central': { utcOffset: 1, latencyMs: 270, rttMs: 32, weight: 0.8, isps: [{ name: 'telekom', country: 'de', share: 0.45 }, { name: 'o2', country: 'de', share: 0.3 }, { name: 'a1', country: 'at', share: 0.25 }] },
  'us-east': { utcOffset: -5, latencyMs: 280, rttMs: 38, weight: 1.2, isps: [{ name: 'comcast', country: 'us', share: 0.45 }, { name: 'verizon', country: 'us', share: 0.35 }, { name: 'att', country: 'us', share: 0.2 }] },
  'us-west': { utcOffset: -8, latencyMs: 290, rttMs: 42, weight: 0.9, isps: [{ name: 'comcast', country: 'us', share: 0.4 }, { name: 'att', country: 'us', share: 0.35 }, { name: 'charter', country: 'us', share: 0.25 }] },
  'sa-east': { utcOffset: -3, latencyMs: 310, rttMs: 55, weight: 0.7, isps: [{ name: 'vivo', country: 'br', share: 0.4 }, { name: 'claro', country: 'br', share: 0.35 }, { name: 'tim', country: 'br', share: 0.25 }] },
  'ap-south': { utcOffset: 5.5, latencyMs: 300, rttMs: 65, weight: 0.8, isps: [{ name: 'jio', country: 'in', share: 0.5 }, { name: 'airtel', country: 'in', share: 0.35 }, { name: 'bsnl', country: 'in', share: 0.15 }] },
  'ap-southeast': { utcOffset: 8, latencyMs: 290, rttMs: 45, weight: 0.7, isps: [{ name: 'singtel', country: 'sg', share: 0.45 }, { name: 'starhub', country: 'sg', share: 0.3 }, { name: 'm1', country: 'sg', share: 0.25 }] },
  'cn-east': { utcOffset: 8, latencyMs: 250, rttMs: 28, weight: 1.3, isps: [{ name: 'china-telecom', country: 'cn', share: 0.45 }, { name: 'china-unicom', country: 'cn', share: 0.3 }, { name: 'china-mobile', country: 'cn', share: 0.25 }] },
};

export const DEFAULT_REGION: RegionProfile = {
  utcOffset: 0, latencyMs: 300, rttMs: 50, weight: 1,
  isps: [{ name: 'isp-a', share: 0.45 }, { name: 'isp-b', share: 0.35 }, { name: 'isp-c', share: 0.2 }],
};

export const regionProfile = (region: string): RegionProfile => REGION_PROFILES[region] ?? DEFAULT_REGION;

export interface Share {
  readonly name: string;
  readonly share: number;
}

export const DEFAULT_CDNS: readonly Share[] = [{ name: 'cdn-a', share: 0.5 }, { name: 'cdn-b', share: 0.3 }, { name: 'cdn-c', share: 0.2 }];

interface PlatformProfile extends Share {
  readonly sdk: string;
  /** Multipliers of the region's latency and of the startup time; packets per second of the stream. */
  readonly latency: number;
  readonly startup: number;
  readonly pps: number;
}

export const PLATFORMS: readonly PlatformProfile[] = [
  { name: 'web', share: 0.35, sdk: 'web-player/3.2.0', latency: 1, startup: 1, pps: 250 },
  { name: 'android', share: 0.35, sdk: 'android-sdk/2.8.0', latency: 1.05, startup: 1.1, pps: 200 },
  { name: 'ios', share: 0.22, sdk: 'ios-sdk/2.8.1', latency: 0.95, startup: 0.9, pps: 200 },
  { name: 'tv', share: 0.08, sdk: 'tv-sdk/1.4.2', latency: 1.15, startup: 1.6, pps: 400 },
];

/**
 * Live latency by delivery protocol (PRODUCT.md §2: RTC ≈ 0.3–1 s, LL-HLS ≈ 2–5 s, HLS/DASH ≈ 6–30 s): the median
 * of a healthy viewer and the spread between sessions (segment lengths and player buffers differ). WebRTC, and any
 * protocol not listed, takes the region's own `latencyMs`.
 */
export const PROTOCOL_LATENCY: Readonly<Record<string, { readonly medianMs: number; readonly sigma: number }>> = {
  'll-hls': { medianMs: 3000, sigma: 0.2 },
  'll-dash': { medianMs: 3000, sigma: 0.2 },
  hls: { medianMs: 13_000, sigma: 0.3 },
  dash: { medianMs: 12_000, sigma: 0.3 },
};
const RTC_SIGMA = 0.15;

/** Everyone on WebRTC: the latency of the region profiles. */
export const DEFAULT_PROTOCOLS: readonly Share[] = [{ name: 'webrtc', share: 1 }];

/** Fatal playback errors seen in players, roughly by frequency. */
const ERROR_CODES = ['NETWORK_ERROR', 'MEDIA_ERR_DECODE', 'MANIFEST_LOAD_TIMEOUT', 'DRM_LICENSE_FAILED', 'SEGMENT_404'];

// ---------------------------------------------------------------------------------------------------------------
// The diurnal curve

export interface Diurnal {
  /** Local hour (0–24) of the evening peak. */
  readonly peakHour: number;
  /** Audience at the trough as a share of the peak (1 = flat). */
  readonly trough: number;
}

export const DEFAULT_DIURNAL: Diurnal = { peakHour: 21, trough: 0.25 };

/** Share of the peak audience at a local hour: a cosine from `trough` (12 h from the peak) to 1 (at the peak). */
export function diurnalFactor(localHour: number, d: Diurnal): number {
  const phase = (2 * Math.PI * (localHour - d.peakHour)) / 24;
  return d.trough + ((1 - d.trough) * (1 + Math.cos(phase))) / 2;
}

/** Local hour (0–24, fractional) in a region at epoch ms `t`. */
export function localHour(t: number, region: string): number {
  const h = (t / 3_600_000 + regionProfile(region).utcOffset) % 24;
  return h < 0 ? h + 24 : h;
}

// ---------------------------------------------------------------------------------------------------------------
// The population

export interface PopulationOptions {
  seed: number;
  /** Prefix of session ids (one population per tenant). */
  tenant: string;
  regions: readonly string[];
  /** Live sessions of this population at the diurnal peak, over all regions. */
  sessions: number;
  /** Beacon interval, ms. */
  intervalMs: number;
  diurnal?: Diurnal;
  /**
   * Share of the peak audience at `t` in `region`, in place of the diurnal curve: a show's arc (the audience
   * arriving, watching, leaving after the end).
   */
  audience?: (t: number, region: string) => number;
  cdns?: readonly Share[];
  /** Delivery protocols (`dims.protocol`) and their shares of new sessions (default: all `webrtc`). */
  protocols?: readonly Share[];
  /** Mean session length, ms (default 20 min). */
  meanSessionMs?: number;
  /** Chance that a beacon carries a fatal error (which ends the session); default 0.0005. */
  errorRate?: number;
  /** Chance that a session fails to start at all (its only beacon is the error); default 0.003. */
  startFailureRate?: number;
  /** Viewers one edge node serves at most at the peak (sets how many nodes each region and CDN has; default 250). */
  sessionsPerNode?: number;
}

interface Cell {
  readonly region: string;
  readonly isp: Isp;
  readonly cdn: string;
  readonly platform: PlatformProfile;
  readonly peak: number;
  readonly nodes: readonly string[];
  /** A stable key, for ids. */
  readonly key: string;
  readonly live: Session[];
}

interface Session {
  readonly id: string;
  /** Index into the population's protocols. */
  readonly protocol: number;
  readonly node: string;
  readonly endAt: number;
  readonly latencyFactor: number;
  readonly rttFactor: number;
  readonly lossRate: number;
  readonly stallChance: number;
  readonly pps: number;
  /** The startup time still to report in the next beacon (new sessions only). */
  startupMs: number | undefined;
  /** The session fails on its next beacon (error code). */
  failing: string | undefined;
}

/** What a test or a report may see of a live session. */
export interface SessionView {
  readonly id: string;
  readonly region: string;
  readonly isp: string;
  readonly cdn: string;
  readonly platform: string;
  readonly node: string;
}

export class Population {
  private readonly rng: Rng;
  private readonly cells: Cell[] = [];
  private readonly diurnal: Diurnal;
  private readonly protocols: readonly Share[];
  private readonly meanSessionMs: number;
  private readonly errorRate: number;
  private readonly startFailureRate: number;
  private readonly nodes: { region: string; cdn: string; id: string }[] = [];
  private nextId = 0;
  private last: number | undefined;
  private lastNodes = new Map<string, string>();

  constructor(private readonly o: PopulationOptions) {
    if (!(o.sessions >= 0) || !(o.intervalMs > 0) || o.regions.length === 0) throw new Error('population: sessions ≥ 0, intervalMs > 0 and at least one region are required');
    this.rng = new Rng(o.seed);
    this.diurnal = o.diurnal ?? DEFAULT_DIURNAL;
    this.protocols = o.protocols ?? DEFAULT_PROTOCOLS;
    if (this.protocols.length === 0) throw new Error('population: at least one protocol is required');
    this.meanSessionMs = o.meanSessionMs ?? 20 * 60_000;
    this.errorRate = o.errorRate ?? 0.0005;
    this.startFailureRate = o.startFailureRate ?? 0.003;
    const cdns = o.cdns ?? DEFAULT_CDNS;
    const perNode = o.sessionsPerNode ?? 250;
    const regionWeight = o.regions.reduce((a, r) => a + regionProfile(r).weight, 0);
    for (const region of o.regions) {
      const p = regionProfile(region);
      const regionPeak = (o.sessions * p.weight) / regionWeight;
      for (const cdn of cdns) {
        const count = Math.min(50, Math.max(2, Math.ceil((regionPeak * cdn.share) / perNode)));
        const nodes = Array.from({ length: count }, (_, i) => `edge-${region}-${cdn.name}-${i + 1}`);
        for (const id of nodes) this.nodes.push({ region, cdn: cdn.name, id });
        for (const isp of p.isps) {
          for (const platform of PLATFORMS) {
            this.cells.push({
              region, isp, cdn: cdn.name, platform, nodes, live: [],
              peak: regionPeak * isp.share * cdn.share * platform.share,
              key: `${region}.${isp.name}.${cdn.name}.${platform.name}`,
            });
          }
        }
      }
    }
  }

  get intervalMs(): number {
    return this.o.intervalMs;
  }

  /** The live sessions the curve asks for at `t` in each cell, summed: what `beacons(t)` keeps alive. */
  expected(t: number, region?: string): number {
    let n = 0;
    for (const c of this.cells) if (region === undefined || c.region === region) n += this.target(c, t);
    return n;
  }

  /** The edge node that served a session reporting in the last `beacons` call. */
  nodeOf(session: string): string | undefined {
    return this.lastNodes.get(session);
  }

  /** Live sessions after the last `beacons` call. */
  live(): SessionView[] {
    return this.cells.flatMap((c) => c.live.map((s) => ({ id: s.id, region: c.region, isp: c.isp.name, cdn: c.cdn, platform: c.platform.name, node: s.node })));
  }

  /**
   * Advances the population to `t` (epoch ms; calls must not go back in time) and returns one interval of
   * telemetry ending at `t`: a beacon from every session live during it (`ts` = `t - interval`, the start of the
   * interval it measures) and a concurrency gauge from every edge node. Sessions that ended are gone, new ones
   * report their startup time once, the count follows the diurnal curve.
   */
  beacons(t: number): Sample[] {
    if (this.last !== undefined && t < this.last) throw new Error(`population: time went back (${t} < ${this.last})`);
    const first = this.last === undefined;
    this.last = t;
    const rng = this.rng;
    const I = this.o.intervalMs;
    const ts = Math.max(0, Math.round(t - I));
    const out: Sample[] = [];
    const served = new Map<string, number>();
    this.lastNodes = new Map();
    for (const c of this.cells) {
      // churn: natural ends, then the curve (viewers leaving as it falls, joining as it rises or to replace)
      let live = c.live.filter((s) => s.endAt > t);
      const target = this.target(c, t);
      while (live.length > target) live.splice(Math.floor(rng.uniform() * live.length), 1);
      while (live.length < target) live.push(this.newSession(c, t, !first));
      c.live.length = 0;
      const dims = { isp: c.isp.name, cdn: c.cdn, platform: c.platform.name, sdk: c.platform.sdk, ...(c.isp.country ? { country: c.isp.country } : {}) };
      const dimsOf = this.protocols.map((p) => ({ ...dims, protocol: p.name }));
      for (const s of live) {
        out.push(this.beacon(c, s, ts, dimsOf[s.protocol]!));
        if (s.failing === undefined && s.endAt > t) c.live.push(s);
        // a session that failed this interval is gone; the node still served it during the interval
        served.set(s.node, (served.get(s.node) ?? 0) + 1);
        this.lastNodes.set(s.id, s.node);
      }
    }
    for (const n of this.nodes) {
      out.push({ ts, interval_ms: I, region: n.region, node: n.id, dims: { cdn: n.cdn }, concurrency: served.get(n.id) ?? 0 });
    }
    return rng.shuffle(out);
  }

  private target(c: Cell, t: number): number {
    return Math.round(c.peak * (this.o.audience ? Math.max(0, this.o.audience(t, c.region)) : diurnalFactor(localHour(t, c.region), this.diurnal)));
  }

  private newSession(c: Cell, t: number, starting: boolean): Session {
    const rng = this.rng;
    const id = `${this.o.tenant}-${(this.nextId++).toString(36).padStart(6, '0')}-${Math.floor(rng.uniform() * 36 ** 4).toString(36)}`;
    // sessions live when the run starts were already watching: no startup to report, a remaining (memoryless) length
    const failing = starting && rng.uniform() < this.startFailureRate ? (rng.uniform() < 0.5 ? 'MANIFEST_LOAD_TIMEOUT' : 'NETWORK_ERROR') : undefined;
    // One protocol draws nothing, so the default population's sequence stays what it was.
    const protocol = this.protocols.length > 1 ? rng.weighted(this.protocols.map((p) => p.share)) : 0;
    return {
      id,
      protocol,
      node: c.nodes[Math.floor(rng.uniform() * c.nodes.length)]!,
      endAt: t + Math.max(this.o.intervalMs, rng.exponential(this.meanSessionMs)),
      latencyFactor: rng.lognormal(1, PROTOCOL_LATENCY[this.protocols[protocol]!.name]?.sigma ?? RTC_SIGMA),
      rttFactor: rng.lognormal(1, 0.25),
      lossRate: Math.min(0.05, rng.lognormal(0.002, 0.8)),
      stallChance: Math.min(0.5, rng.lognormal(0.025, 0.7)),
      pps: c.platform.pps * rng.lognormal(1, 0.2),
      startupMs: starting ? Math.min(60_000, rng.lognormal(900 * c.platform.startup, 0.45)) : undefined,
      failing,
    };
  }

  private beacon(c: Cell, s: Session, ts: number, dims: Sample['dims']): Sample {
    const rng = this.rng;
    const I = this.o.intervalMs;
    const p = regionProfile(c.region);
    const ispFactor = 1 + 0.05 * Math.max(0, p.isps.indexOf(c.isp));
    const base: Sample = { ts, interval_ms: I, region: c.region, session: s.id, dims };
    if (s.failing !== undefined && s.startupMs !== undefined) {
      // never got a first frame: the only beacon is the error
      return { ...base, error: s.failing };
    }
    const median = PROTOCOL_LATENCY[this.protocols[s.protocol]!.name]?.medianMs ?? p.latencyMs;
    const latency = median * ispFactor * c.platform.latency * s.latencyFactor * rng.lognormal(1, 0.1);
    const rtt = p.rttMs * ispFactor * s.rttFactor * rng.lognormal(1, 0.2);
    const expected = Math.max(1, Math.round((s.pps * I) / 1000 * (0.95 + 0.1 * rng.uniform())));
    const lost = Math.min(expected, rng.poisson(expected * s.lossRate));
    let stall = 0;
    let stalls = 0;
    if (rng.uniform() < s.stallChance) {
      stall = Math.min(Math.round(I / 2), Math.max(100, Math.round(rng.exponential(1200))));
      stalls = rng.uniform() < 0.15 ? 2 : 1;
    }
    const sample: Sample = {
      ...base,
      latency_ms: Math.min(600_000, Math.round(latency)),
      rtt_ms: Math.min(60_000, Math.round(rtt)),
      packets_expected: expected,
      packets_lost: lost,
      play_ms: I - stall,
      stall_ms: stall,
      stall_count: stalls,
    };
    if (s.startupMs !== undefined) {
      sample.startup_ms = Math.round(s.startupMs);
      s.startupMs = undefined;
    }
    if (s.failing === undefined && rng.uniform() < this.errorRate) s.failing = ERROR_CODES[Math.floor(rng.uniform() * ERROR_CODES.length)]!;
    if (s.failing !== undefined) sample.error = s.failing;
    return sample;
  }
}

/**
 * Rescales one interval of samples for a run whose scenario clock goes `speed` times faster than real time:
 * the interval and the time fields (play, stall) shrink so that each session's beacons still cover real time
 * without overlap; counts, latencies and ratios are kept. Returns new objects.
 */
export function compress(samples: readonly Sample[], speed: number): Sample[] {
  if (speed === 1) return samples.map((s) => ({ ...s }));
  return samples.map((s) => {
    const out: Sample = { ...s };
    if (s.interval_ms !== undefined) out.interval_ms = Math.max(100, Math.round(s.interval_ms / speed));
    if (s.play_ms !== undefined) {
      const total = (s.play_ms + (s.stall_ms ?? 0)) / speed;
      const stall = s.stall_ms === undefined ? undefined : Math.round(s.stall_ms / speed);
      out.play_ms = Math.max(0, Math.round(total) - (stall ?? 0));
      if (stall !== undefined) out.stall_ms = stall;
    }
    return out;
  });
}

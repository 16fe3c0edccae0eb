/** Realistic player beacons: regions × ISPs × CDNs × platforms, 100 k sessions, log-normal latencies. */
const REGIONS = ['cn-east', 'cn-north', 'cn-south', 'ap-southeast', 'eu-west', 'eu-central', 'us-east', 'us-west'];
const ISPS = ['telecom', 'unicom', 'mobile', 'cable-a', 'cable-b'];
const CDNS = ['cdn-a', 'cdn-b', 'cdn-c'];
const PLATFORMS = ['web', 'ios', 'android'];

let seed = 42;
function rnd(): number {
  // xorshift32: repeatable runs
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return ((seed >>> 0) % 1_000_000) / 1_000_000;
}
const pick = <T>(a: readonly T[]) => a[Math.floor(rnd() * a.length)]!;
const logNormal = (median: number, sigma: number) => median * Math.exp(sigma * Math.sqrt(-2 * Math.log(rnd() + 1e-9)) * Math.cos(2 * Math.PI * rnd()));

export function beacon(ts: number, regions: readonly string[] = REGIONS): Record<string, unknown> {
  const stall = rnd() < 0.05 ? Math.round(rnd() * 3000) : 0;
  return {
    ts,
    interval_ms: 10_000,
    region: pick(regions),
    session: `s${Math.floor(rnd() * 100_000)}`,
    dims: { isp: pick(ISPS), cdn: pick(CDNS), platform: pick(PLATFORMS) },
    latency_ms: Math.round(logNormal(1800, 0.4)),
    rtt_ms: Math.round(logNormal(45, 0.5)),
    packets_lost: Math.floor(rnd() * 5),
    packets_expected: 2400,
    play_ms: 10_000 - stall,
    stall_ms: stall,
    stall_count: stall ? 1 : 0,
  };
}

/** JSON bodies of `size` beacons stamped `ts` (from the 8 regions, or those given). */
export function bodies(count: number, size: number, ts: number, regions?: readonly string[]): string[] {
  return Array.from({ length: count }, () => JSON.stringify({ samples: Array.from({ length: size }, () => beacon(ts, regions)) }));
}

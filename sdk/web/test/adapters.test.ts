import Hls from 'hls.js';
import { describe, expect, it } from 'vitest';
import { type AdapterContext, renditionOf } from '../src/core/adapter.js';
import { dash } from '../src/adapters/dash.js';
import { hls } from '../src/adapters/hls.js';
import { shaka } from '../src/adapters/shaka.js';
import { deltaFields, snapshotOf, webrtc } from '../src/adapters/webrtc.js';

/** Adapters against small fake players with the real players' event names and APIs. */

function recorder() {
  const fatal: (string | number)[] = [];
  let playbacks = 0;
  const ctx: AdapterContext = { fatal: (c) => void fatal.push(c), newPlayback: () => void playbacks++ };
  return { ctx, fatal, playbacks: () => playbacks };
}

/** hls.js's emitter: on/off with (event, data) listeners. */
class FakeHls {
  latency = 3.456;
  levels = [{ height: 360 }, { height: 720 }, { height: 1080 }];
  currentLevel = 1;
  latestLevelDetails: { live: boolean; partList: unknown[] | null } | null = { live: true, partList: null };
  config = { lowLatencyMode: true };
  listeners = new Map<string, Set<(e: string, d: any) => void>>();
  on(e: string, fn: (e: string, d: any) => void) {
    if (!this.listeners.has(e)) this.listeners.set(e, new Set());
    this.listeners.get(e)!.add(fn);
  }
  off(e: string, fn: (e: string, d: any) => void) {
    this.listeners.get(e)?.delete(fn);
  }
  emit(e: string, d: unknown) {
    for (const fn of this.listeners.get(e) ?? []) fn(e, d);
  }
}

describe('hls.js adapter', () => {
  it('reads latency, rendition and the protocol, ll-hls only in low-latency mode on a playlist with parts', () => {
    const p = new FakeHls();
    const a = hls(p);
    a.attach(recorder().ctx);
    expect(a.collect(0)).toEqual({ dims: { protocol: 'hls', rendition: '720p' }, latency_ms: 3456 });
    p.latestLevelDetails = { live: true, partList: [{}] };
    expect(a.collect(0).dims!.protocol).toBe('ll-hls');
    p.config.lowLatencyMode = false;
    expect(a.collect(0).dims!.protocol).toBe('hls');
    p.latency = 0; // hls.js before its first playlist
    expect(a.collect(0).latency_ms).toBeUndefined();
    p.latestLevelDetails = { live: false, partList: null };
    p.currentLevel = -1;
    expect(a.collect(0)).toEqual({ dims: { protocol: 'hls' } });
  });

  it('reports fatal errors only, by their details, on the real event names; a new manifest is a new playback', () => {
    const p = new FakeHls();
    const a = hls(p);
    const r = recorder();
    a.attach(r.ctx);
    p.emit(Hls.Events.ERROR, { type: 'networkError', details: Hls.ErrorDetails.FRAG_LOAD_ERROR, fatal: false });
    p.emit(Hls.Events.ERROR, { type: 'networkError', details: Hls.ErrorDetails.MANIFEST_LOAD_ERROR, fatal: true });
    p.emit(Hls.Events.MANIFEST_LOADING, { url: 'x' });
    expect(r.fatal).toEqual(['manifestLoadError']);
    expect(r.playbacks()).toBe(1);
    a.detach();
    p.emit(Hls.Events.ERROR, { details: 'x', fatal: true });
    expect(r.fatal).toHaveLength(1);
  });
});

class FakeDash {
  latency = 12.5;
  dynamic = true;
  lowLatency = false;
  height: number | undefined = 540;
  listeners = new Map<string, Set<(e: any) => void>>();
  on(t: string, fn: (e: any) => void) {
    if (!this.listeners.has(t)) this.listeners.set(t, new Set());
    this.listeners.get(t)!.add(fn);
  }
  off(t: string, fn: (e: any) => void) {
    this.listeners.get(t)?.delete(fn);
  }
  emit(t: string, e: unknown) {
    for (const fn of this.listeners.get(t) ?? []) fn(e);
  }
  getCurrentLiveLatency() {
    return this.dynamic ? this.latency : NaN;
  }
  isDynamic() {
    return this.dynamic;
  }
  getCurrentRepresentationForType(type: string) {
    return type === 'video' && this.height ? { height: this.height } : null;
  }
  getLowLatencyModeEnabled() {
    return this.lowLatency;
  }
}

describe('dash.js adapter', () => {
  it('reads getCurrentLiveLatency(), the video representation and dash / ll-dash', () => {
    const p = new FakeDash();
    const a = dash(p);
    a.attach(recorder().ctx);
    expect(a.collect(0)).toEqual({ dims: { protocol: 'dash', rendition: '540p' }, latency_ms: 12_500 });
    p.lowLatency = true;
    expect(a.collect(0).dims!.protocol).toBe('ll-dash');
    p.dynamic = false;
    expect(a.collect(0)).toEqual({ dims: { protocol: 'dash', rendition: '540p' } });
  });

  it('reports the errors that stop dash.js by code, not those it plays on after', () => {
    const p = new FakeDash();
    const a = dash(p);
    const r = recorder();
    a.attach(r.ctx);
    p.emit('error', { type: 'error', error: 'cc', event: {} });
    p.emit('error', { type: 'error', error: { code: 16, message: 'Failed to synchronize client and server time', data: {} } });
    p.emit('error', { type: 'error', error: { code: 27, message: 'chunk-stream0-00042.m4s is not available', data: {} } });
    p.emit('error', { type: 'error', error: { code: 25, message: 'index.mpd is not available', data: {} } });
    p.emit('error', { type: 'error', error: 'download', event: {} });
    expect(r.fatal).toEqual([25, 'download']);
    a.detach();
    p.emit('error', { type: 'error', error: { code: 1 } });
    expect(r.fatal).toHaveLength(2);
  });
});

class FakeShaka extends EventTarget {
  stats = { liveLatency: 4.2, height: 1080 };
  live = true;
  type: string | null = 'HLS';
  lowLatency = false;
  getStats() {
    return this.stats;
  }
  isLive() {
    return this.live;
  }
  getManifestType() {
    return this.type;
  }
  getManifest() {
    return { isLowLatency: this.lowLatency };
  }
}

describe('Shaka adapter', () => {
  it('reads getStats().liveLatency and height, and the protocol from the manifest type', () => {
    const p = new FakeShaka();
    const a = shaka(p);
    a.attach(recorder().ctx);
    expect(a.collect(0)).toEqual({ dims: { protocol: 'hls', rendition: '1080p' }, latency_ms: 4200 });
    p.lowLatency = true;
    expect(a.collect(0).dims!.protocol).toBe('ll-hls');
    p.type = 'DASH';
    expect(a.collect(0).dims!.protocol).toBe('ll-dash');
    p.live = false;
    p.stats = { liveLatency: NaN, height: 0 };
    expect(a.collect(0)).toEqual({ dims: { protocol: 'dash' } });
  });

  it('reports CRITICAL errors by code and a new load as a new playback', () => {
    const p = new FakeShaka();
    const a = shaka(p);
    const r = recorder();
    a.attach(r.ctx);
    const error = (severity: number, code: number) => Object.assign(new Event('error'), { detail: { severity, category: 1, code } });
    p.dispatchEvent(error(1, 1001)); // RECOVERABLE
    p.dispatchEvent(error(2, 1002)); // CRITICAL
    p.dispatchEvent(new Event('loading'));
    expect(r.fatal).toEqual([1002]);
    expect(r.playbacks()).toBe(1);
  });
});

/** An RTCStatsReport-like list. */
const report = (stats: object[]) => ({ forEach: (fn: (s: any) => void) => stats.forEach(fn) });
const video = (o: object) => ({ type: 'inbound-rtp', kind: 'video', id: 'v', ...o });

describe('WebRTC adapter', () => {
  it('turns getStats() counters into per-interval deltas: loss, freezes as stalls with play time, the selected pair RTT', () => {
    const a = snapshotOf(report([
      video({ packetsReceived: 1000, packetsLost: 10, freezeCount: 1, totalFreezesDuration: 0.8, framesDecoded: 300 }),
      { type: 'inbound-rtp', kind: 'audio', packetsReceived: 500, packetsLost: 0 },
      { type: 'transport', selectedCandidatePairId: 'p2' },
      { type: 'candidate-pair', id: 'p1', nominated: true, state: 'succeeded', currentRoundTripTime: 0.5 },
      { type: 'candidate-pair', id: 'p2', nominated: true, state: 'succeeded', currentRoundTripTime: 0.042 },
    ]), 0);
    const b = snapshotOf(report([
      video({ packetsReceived: 1990, packetsLost: 20, freezeCount: 3, totalFreezesDuration: 2.0, framesDecoded: 550 }),
      { type: 'transport', selectedCandidatePairId: 'p2' },
      { type: 'candidate-pair', id: 'p2', currentRoundTripTime: 0.05 },
    ]), 10_000);
    expect(deltaFields(a, b)).toEqual({ dims: { protocol: 'webrtc' }, packets_expected: 1000, packets_lost: 10, rtt_ms: 50, stall_ms: 1200, stall_count: 2, play_ms: 8800 });
    // the first report: counters since the connection began, no play time yet
    expect(deltaFields(undefined, a)).toEqual({ dims: { protocol: 'webrtc' }, packets_expected: 1010, packets_lost: 10, rtt_ms: 42 });
  });

  it('counts audio packets when there is no video, and never reports negative deltas', () => {
    const a = snapshotOf(report([{ type: 'inbound-rtp', kind: 'audio', packetsReceived: 100, packetsLost: 5 }]), 0);
    const b = snapshotOf(report([{ type: 'inbound-rtp', kind: 'audio', packetsReceived: 40, packetsLost: -2 }]), 10_000);
    expect(deltaFields(a, b)).toEqual({ dims: { protocol: 'webrtc' }, packets_expected: 40, packets_lost: 0 });
  });

  it('polls getStats() and reports a failed connection as fatal', async () => {
    let n = 0;
    const pc = Object.assign(new EventTarget(), {
      connectionState: 'connected',
      async getStats() {
        n++;
        return report([video({ packetsReceived: 100 * n, packetsLost: n, framesDecoded: 30 * n })]);
      },
    });
    const a = webrtc(pc, 5);
    const r = recorder();
    a.attach(r.ctx);
    await new Promise((ok) => setTimeout(ok, 30));
    const f = a.collect(0);
    expect(f.packets_expected).toBeGreaterThan(0);
    pc.connectionState = 'failed';
    pc.dispatchEvent(new Event('connectionstatechange'));
    expect(r.fatal).toEqual(['connection_failed']);
    a.detach();
    const polls = n;
    await new Promise((ok) => setTimeout(ok, 30));
    expect(n).toBe(polls);
  });
});

describe('renditionOf', () => {
  it('buckets heights to a small ladder', () => {
    expect([90, 144, 180, 240, 352, 360, 480, 576, 720, 800, 1080, 1200, 2160, 5000, 0, NaN, undefined].map(renditionOf)).toEqual([
      '144p', '144p', '240p', '240p', '360p', '360p', '480p', '540p', '720p', '1080p', '1080p', '1440p', '2160p', '4320p', undefined, undefined, undefined,
    ]);
  });
});

import type { Adapter, AdapterContext, AdapterFields } from '../core/adapter.js';

/** The part of RTCPeerConnection this adapter reads. */
export interface PeerConnectionLike {
  getStats(): Promise<{ forEach(fn: (s: any) => void): void }>;
  addEventListener?(type: string, fn: () => void): void;
  removeEventListener?(type: string, fn: () => void): void;
  readonly connectionState?: string;
}

interface Snapshot {
  at: number;
  lost: number;
  received: number;
  freezes: number;
  freezeMs: number;
  pauseMs: number;
  frames: number;
  video: boolean;
  rtt?: number;
}

/** Cumulative counters of one getStats() report: inbound video (audio when there is no video), the selected pair's RTT. */
export function snapshotOf(report: { forEach(fn: (s: any) => void): void }, at: number): Snapshot {
  let video: any[] = [];
  const audio: any[] = [];
  const pairs = new Map<string, any>();
  let selected: string | undefined;
  report.forEach((s) => {
    if (s.type === 'inbound-rtp') (s.kind === 'video' ? video : audio).push(s);
    else if (s.type === 'candidate-pair') pairs.set(s.id, s);
    else if (s.type === 'transport' && s.selectedCandidatePairId) selected = s.selectedCandidatePairId;
  });
  const hasVideo = video.length > 0;
  if (!hasVideo) video = audio;
  const snap: Snapshot = { at, lost: 0, received: 0, freezes: 0, freezeMs: 0, pauseMs: 0, frames: 0, video: hasVideo };
  for (const s of video) {
    snap.lost += Math.max(0, s.packetsLost ?? 0);
    snap.received += s.packetsReceived ?? 0;
    snap.freezes += s.freezeCount ?? 0;
    snap.freezeMs += (s.totalFreezesDuration ?? 0) * 1000;
    snap.pauseMs += (s.totalPausesDuration ?? 0) * 1000;
    snap.frames += s.framesDecoded ?? 0;
  }
  let pair = selected ? pairs.get(selected) : undefined;
  if (!pair) for (const p of pairs.values()) if (p.nominated && p.state === 'succeeded') pair = p;
  if (typeof pair?.currentRoundTripTime === 'number') snap.rtt = pair.currentRoundTripTime * 1000;
  return snap;
}

/** Deltas between two snapshots as sample fields (counters going backwards, e.g. a new stream, count from zero). */
export function deltaFields(prev: Snapshot | undefined, cur: Snapshot): AdapterFields {
  const d = (k: 'lost' | 'received' | 'freezes' | 'freezeMs' | 'pauseMs' | 'frames') => {
    const v = cur[k] - (prev?.[k] ?? 0);
    return v >= 0 ? v : cur[k];
  };
  const f: AdapterFields = { dims: { protocol: 'webrtc' } };
  const received = d('received');
  const lost = d('lost');
  if (received + lost > 0) {
    f.packets_expected = Math.round(received + lost);
    f.packets_lost = Math.round(lost);
  }
  if (cur.rtt !== undefined) f.rtt_ms = Math.round(cur.rtt);
  if (cur.video && prev) {
    const freezeMs = d('freezeMs');
    const elapsed = cur.at - prev.at;
    // Play time: the elapsed time the receiver rendered (frames flowed), minus freezes and sender pauses
    if (d('frames') > 0 || freezeMs > 0) {
      f.stall_ms = Math.round(Math.min(freezeMs, elapsed));
      f.play_ms = Math.round(Math.max(0, elapsed - freezeMs - d('pauseMs')));
      f.stall_count = Math.round(d('freezes'));
    }
  }
  return f;
}

/**
 * WebRTC: getStats() deltas per interval — packets lost/expected (inbound video, or audio without video), the
 * selected candidate pair's RTT, and (for `track(null, …)`) freezes as stalls with play time.
 */
export function webrtc(pc: PeerConnectionLike, pollMs = 1000): Adapter {
  let timer: ReturnType<typeof setInterval> | undefined;
  let latest: Snapshot | undefined;
  let reported: Snapshot | undefined;
  let ctx: AdapterContext | undefined;
  const poll = () => {
    pc.getStats().then((r) => {
      latest = snapshotOf(r, Date.now());
    }, () => undefined);
  };
  const onState = () => {
    if (pc.connectionState === 'failed') ctx?.fatal('connection_failed');
  };
  return {
    name: 'webrtc',
    attach(c) {
      ctx = c;
      poll();
      timer = setInterval(poll, pollMs);
      pc.addEventListener?.('connectionstatechange', onState);
    },
    detach() {
      if (timer !== undefined) clearInterval(timer);
      pc.removeEventListener?.('connectionstatechange', onState);
      ctx = undefined;
    },
    collect(): AdapterFields {
      if (!latest) return { dims: { protocol: 'webrtc' } };
      const f = deltaFields(reported, latest);
      reported = latest;
      return f;
    },
  };
}

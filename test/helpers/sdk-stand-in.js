// TEMPORARY stand-in for sdk/web/dist/qoswatch.iife.js until the SDK branch is merged (frame-gap stalls, interval
// posts, one sendBeacon on page hide). Deleted at the merge.
(() => {
  const track = (v, o) => {
    const session = crypto.randomUUID();
    let stall = 0, count = 0, play = 0, last = null, lastTick = performance.now(), done = false;
    const ok = () => !v.paused && !v.seeking && !v.ended && document.visibilityState === 'visible';
    const f = (now) => { if (last !== null && ok()) { const g = now - last; if (g > 500) { stall += g; count++; } } last = ok() ? now : null; v.requestVideoFrameCallback(f); };
    v.requestVideoFrameCallback(f);
    for (const e of ['pause', 'seeking', 'ended', 'emptied']) v.addEventListener(e, () => { last = null; });
    const body = () => { const s = { ts: Date.now(), interval_ms: o.intervalMs, region: o.region, session, dims: { protocol: 'hls' }, play_ms: Math.max(0, Math.round(performance.now() - lastTick - stall)), stall_ms: Math.round(stall), stall_count: count }; stall = 0; count = 0; lastTick = performance.now(); return JSON.stringify({ sdk: 'stand-in/0', samples: [s] }); };
    const url = `${o.endpoint}/v1/telemetry?key=${encodeURIComponent(o.key)}`;
    const timer = setInterval(() => fetch(url, { method: 'POST', body: body(), keepalive: true, headers: { 'content-type': 'text/plain' } }), o.intervalMs);
    const fin = () => { if (done) return; done = true; clearInterval(timer); navigator.sendBeacon(url, body()); };
    addEventListener('pagehide', fin);
    document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'hidden') fin(); });
    return { session, stop: fin };
  };
  window.qoswatch = { track, hls: () => ({}), dash: () => ({}), shaka: () => ({}) };
})();

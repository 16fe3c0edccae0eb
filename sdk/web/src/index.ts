export { track, SDK, VERSION, type TrackOptions, type Tracker } from './track.js';
export { Playback, STALL_GAP_MS, EXIT_BEFORE_START, START_FAILED, PLAY_FAILED, type IntervalReport } from './core/playback.js';
export { Transport, type TransportDeps, type TransportOptions } from './core/transport.js';
export type { Adapter, AdapterContext, AdapterFields } from './core/adapter.js';

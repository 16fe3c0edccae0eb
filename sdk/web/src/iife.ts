/** The <script> bundle: core and every adapter under the global `qoswatch`. */
export { track, SDK, VERSION } from './track.js';
export { hls } from './adapters/hls.js';
export { dash } from './adapters/dash.js';
export { shaka } from './adapters/shaka.js';
export { webrtc } from './adapters/webrtc.js';

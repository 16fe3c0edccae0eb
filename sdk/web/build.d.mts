/** The adapters built one file each. */
export const ADAPTERS: readonly string[];
/** Builds sdk/web/dist: index.js (ESM core), adapters/*.js (ESM), qoswatch.iife.js (global `qoswatch`). */
export function buildSdk(): Promise<void>;

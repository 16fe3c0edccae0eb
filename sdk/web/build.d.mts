/** The adapters built one file each. */
export const ADAPTERS: readonly string[];
/** Builds sdk/web/dist: index.js (ESM core), adapters/*.js (ESM), qoswatch.iife.js (global `qoswatch`), and with `types` (default) the declarations. */
export function buildSdk(o?: { types?: boolean }): Promise<void>;

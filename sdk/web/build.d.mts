/** The adapters built one file each. */
export const ADAPTERS: readonly string[];
/** Builds sdk/web/dist: index.js (ESM core), adapters/*.js (ESM), qoswatch.iife.js (global `qoswatch`) and the declarations. */
export function buildSdk(): Promise<void>;
/** The IIFE bundle's text (global `qoswatch`), built from the sources in memory. */
export function iifeText(): Promise<string>;

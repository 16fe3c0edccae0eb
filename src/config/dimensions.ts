/**
 * The optional bounded dimensions of a sample (PRODUCT.md §2). `protocol` is the delivery class (`webrtc`,
 * `ll-hls`, `hls`, `dash`, …): latency targets differ by an order of magnitude between classes.
 */
export const DIMENSIONS = ['isp', 'cdn', 'platform', 'country', 'sdk', 'protocol'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** What rules group and filter by, and incidents group by. */
export const GROUP_FIELDS = ['tenant', 'region', ...DIMENSIONS] as const;
export type GroupField = (typeof GROUP_FIELDS)[number];

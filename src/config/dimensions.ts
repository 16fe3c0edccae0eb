/**
 * The optional bounded dimensions of a sample (PRODUCT.md §2). `protocol` is the delivery class (`webrtc`,
 * `ll-hls`, `hls`, `dash`, …): latency targets differ by an order of magnitude between classes. `rendition` is
 * the playing quality as a bucketed height (`720p`; the web SDK buckets it).
 */
export const DIMENSIONS = ['isp', 'cdn', 'platform', 'country', 'sdk', 'protocol', 'rendition'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/**
 * Caps below QOSWATCH_DIM_CAP for dimensions that are small by nature: a ladder has about ten renditions, and each
 * value is a series per region, so a hostile key sending 100 made-up heights would only cost series.
 */
export const DEFAULT_DIM_CAPS: Partial<Record<Dimension, number>> = { rendition: 16 };

/** What rules group and filter by, and incidents group by. */
export const GROUP_FIELDS = ['tenant', 'region', ...DIMENSIONS] as const;
export type GroupField = (typeof GROUP_FIELDS)[number];

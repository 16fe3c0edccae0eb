/**
 * The optional bounded dimensions of a sample (PRODUCT.md §2). `protocol` is the delivery class (`webrtc`,
 * `ll-hls`, `hls`, `dash`, …): latency targets differ by an order of magnitude between classes. `rendition` is
 * the playing quality as a bucketed height (`720p`; the web SDK buckets it).
 */
export const DIMENSIONS = ['isp', 'cdn', 'platform', 'country', 'sdk', 'protocol', 'rendition'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** What rules group and filter by, and incidents group by. */
export const GROUP_FIELDS = ['tenant', 'region', ...DIMENSIONS] as const;
export type GroupField = (typeof GROUP_FIELDS)[number];

/** The group an alert, incident or silence is about: a value per group field it names. */
export type Labels = Readonly<Partial<Record<GroupField, string>>>;

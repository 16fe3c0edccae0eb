/** The optional bounded dimensions of a sample (PRODUCT.md §2). */
export const DIMENSIONS = ['isp', 'cdn', 'platform', 'country', 'sdk'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** What rules group and filter by, and incidents group by. */
export const GROUP_FIELDS = ['tenant', 'region', ...DIMENSIONS] as const;
export type GroupField = (typeof GROUP_FIELDS)[number];

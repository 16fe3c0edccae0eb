/** Why a page is sent (PRODUCT.md §3–§5; SLA warnings come with tickets; a storm is 'updated' as incidents join it). */
export const PAGE_KINDS = ['opened', 'priority_changed', 'escalated', 'acknowledged', 'mitigated', 'resolved', 'sla_warning', 'updated'] as const;
export type PageKind = (typeof PAGE_KINDS)[number];

/** The channel id of email in a person's `notify` list; every other id names a chat endpoint of the on-call file. */
export const EMAIL = 'email';

/** The provider of a page whose channel is no longer in the on-call file (it fails at once; metric label). */
export const UNKNOWN_CHANNEL = 'unknown';

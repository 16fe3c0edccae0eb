import type { SourceKind } from './kind.js';
import { alertmanager } from './kinds/alertmanager/index.js';
import { grafana } from './kinds/grafana/index.js';
import { heartbeat } from './kinds/heartbeat/index.js';
import { pagerduty } from './kinds/pagerduty/index.js';
import { webhook } from './kinds/webhook/index.js';

export const SOURCE_KINDS = ['alertmanager', 'grafana', 'pagerduty', 'webhook', 'heartbeat'] as const;
export type SourceKindId = (typeof SOURCE_KINDS)[number];

/** Every kind id must map to a complete kind: a new id without its folder is a compile error. */
export const KINDS: { readonly [K in SourceKindId]: SourceKind } = { alertmanager, grafana, pagerduty, webhook, heartbeat };

import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { incidentsSla } from './incidents-sla.js';
import { qosOverview } from './qos-overview.js';
import { qoswatchHealth } from './qoswatch-health.js';
import { regionDrilldown } from './region-drilldown.js';

/** The shipped boards: file name under dashboards/ → builder. */
export const DASHBOARDS: readonly { file: string; build: () => Dashboard }[] = [
  { file: 'qos-overview.json', build: qosOverview },
  { file: 'region-drilldown.json', build: regionDrilldown },
  { file: 'incidents-sla.json', build: incidentsSla },
  { file: 'qoswatch-health.json', build: qoswatchHealth },
];

/** The committed form: stable key order from the builders, two-space indent, trailing newline. */
export const renderDashboard = (d: Dashboard): string => `${JSON.stringify(d, null, 2)}\n`;

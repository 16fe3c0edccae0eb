import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { incidentsSla } from './incidents-sla.js';
import { qosOverview } from './qos-overview.js';
import { qoswatchHealth } from './qoswatch-health.js';
import { type PanelIds, readPanelIds, withPanelIds } from './panel-ids.js';
import { regionDrilldown } from './region-drilldown.js';

/** The shipped boards: file name under dashboards/ → builder (`make`: panels without ids; `build`: with the committed ids). */
export const DASHBOARDS: readonly { file: string; make: () => Dashboard; build: (ids?: PanelIds) => Dashboard }[] = [
  { file: 'qos-overview.json', make: qosOverview },
  { file: 'region-drilldown.json', make: regionDrilldown },
  { file: 'incidents-sla.json', make: incidentsSla },
  { file: 'qoswatch-health.json', make: qoswatchHealth },
].map((d) => ({ ...d, build: (ids = readPanelIds()) => withPanelIds(d.make(), ids) }));

/** The committed form: stable key order from the builders, two-space indent, trailing newline. */
export const renderDashboard = (d: Dashboard): string => `${JSON.stringify(d, null, 2)}\n`;

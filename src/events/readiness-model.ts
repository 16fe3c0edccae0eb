import type { Priority } from '../shared/priority.js';
import type { RegionFigures } from '../reports/qos-report-model.js';

/** A rule's levels in normal times and while the event's overlay applies (comparison texts, e.g. "> 0.05"). */
export interface OverlaidRule {
  readonly id: string;
  readonly metric: string;
  readonly levels: readonly { readonly priority: Priority; readonly normal: string; readonly during: string }[];
}

/** The readiness report sent before a planned high-traffic event ("重大活动保障"). */
export interface ReadinessReport {
  readonly event: {
    readonly id: number;
    readonly name: string;
    readonly tenant: { readonly id: string; readonly name: string; readonly timezone: string };
    /** Empty: every region of the tenant. */
    readonly regions: readonly string[];
    readonly startsAt: number;
    readonly endsAt: number;
    /** Thresholds are multiplied by this (upward comparisons) or divided by it (downward) while the event runs. */
    readonly factor: number;
    readonly rules: readonly OverlaidRule[];
  };
  /** Per region: the last 7 days and the last 24 hours before the report, for comparison during the event. */
  readonly baselines: readonly { readonly region: string; readonly last7d: RegionFigures; readonly last24h: RegionFigures }[];
  /** Who is on call in each schedule during the event window (shifts clipped to the window). */
  readonly onCall: readonly { readonly schedule: string; readonly shifts: readonly { readonly person: string; readonly name: string; readonly email: string | null; readonly from: number; readonly to: number }[]; readonly gaps: readonly { readonly from: number; readonly to: number }[] }[];
  /** The tenant's incidents not yet resolved in the event's regions (all regions when the event names none). */
  readonly openIncidents: readonly { readonly id: number; readonly priority: Priority; readonly region: string | null; readonly title: string; readonly state: string; readonly openedAt: number }[];
  /** Link to the Grafana overview for the event's regions and window, when QOSWATCH_GRAFANA_URL is set. */
  readonly grafanaUrl: string | null;
  readonly generatedAt: number;
}

import type { Priority } from '../shared/priority.js';

/** A region's figures over a report period (null: no data for that metric in the period). */
export interface RegionFigures {
  /** 95th percentile over the period's windows of each window's latency p95, ms. */
  readonly latencyP95Ms: number | null;
  /** Σpackets_lost / Σpackets_expected. */
  readonly packetLoss: number | null;
  /** Σstall_ms / Σ(play_ms + stall_ms). */
  readonly stallRatio: number | null;
  /** Highest concurrency of any window. */
  readonly peakConcurrency: number | null;
  readonly samples: number;
}

/** Relative change against the same period a week earlier: (now − before) / before; null when either is missing or before is 0. */
export type FigureChange = { readonly [K in Exclude<keyof RegionFigures, 'samples'>]: number | null };

export interface HourFigures {
  /** Start of the hour, epoch ms. */
  readonly start: number;
  /** The hour as the tenant reads it, e.g. "2026-12-01 20:00". */
  readonly label: string;
  readonly stallRatio: number | null;
  readonly latencyP95Ms: number | null;
  readonly packetLoss: number | null;
}

export type RegionStatus = 'good' | 'watch' | 'attention';

export interface RegionReport {
  readonly region: string;
  /** 1 = best. */
  readonly rank: number;
  readonly status: RegionStatus;
  /** Why the region is not `good`, one short sentence each (empty when good). */
  readonly reasons: readonly string[];
  readonly current: RegionFigures;
  /** The same period one week earlier, or null when there was no data. */
  readonly previous: RegionFigures | null;
  readonly change: FigureChange;
  /** Hours of the period in order, for the chart. */
  readonly hourly: readonly HourFigures[];
  /** Up to three worst hours by stall ratio, worst first. */
  readonly worstHours: readonly HourFigures[];
  readonly incidents: Readonly<Record<Priority, number>>;
}

export interface SlaOutcome {
  readonly tickets: number;
  /** Per target: clocks stopped within target, stopped late, and breached (stopped or not). */
  readonly targets: readonly { readonly target: 'response' | 'restore' | 'resolve'; readonly met: number; readonly missed: number; readonly breached: number; readonly meanMs: number | null }[];
}

export interface QosReport {
  readonly kind: 'daily' | 'weekly';
  readonly tenant: { readonly id: string; readonly name: string; readonly timezone: string; readonly tier: string };
  /** [from, to) epoch ms, and how the tenant reads it, e.g. "Tue 1 Dec 2026" or "16 Nov – 22 Nov 2026". */
  readonly period: { readonly from: number; readonly to: number; readonly label: string };
  /** Ranked best to worst. */
  readonly regions: readonly RegionReport[];
  /** Regions with status `attention` or `watch`, worst first. */
  readonly needsAttention: readonly { readonly region: string; readonly reasons: readonly string[] }[];
  readonly incidents: { readonly total: number; readonly byPriority: Readonly<Record<Priority, number>> };
  readonly sla: SlaOutcome;
  /** Link to the Grafana overview for this tenant and period, when QOSWATCH_GRAFANA_URL is set. */
  readonly grafanaUrl: string | null;
  readonly generatedAt: number;
}

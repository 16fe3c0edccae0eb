import type { Priority } from '../shared/priority.js';
import { TARGETS, type TargetName, type Tier } from '../shared/tenant.js';
import type { SlaClock } from '../tickets/tickets.js';

/** One ticket as the report sees it: when it opened, its tier, and its clocks (computed at the report's end). */
export interface ReportTicket {
  readonly id: number;
  readonly tenant: string;
  readonly tier: Tier;
  readonly priority: Priority;
  readonly openedAt: number;
  readonly clocks: readonly SlaClock[];
}

export interface TargetFigures {
  /** Tickets with this target. */
  readonly tickets: number;
  /** Of those, stopped (acknowledged / mitigated / resolved) so far. */
  readonly met_or_missed: number;
  /** Mean wall-clock time to the stop (MTTA for response, MTTR for restore and resolve), ms. */
  readonly mean_ms: number | undefined;
  readonly p50_ms: number | undefined;
  readonly p90_ms: number | undefined;
  /** Share of stopped clocks that stopped within the target (0..1). */
  readonly within_target: number | undefined;
  readonly breached: number;
}

export interface ReportGroup {
  readonly tier: Tier;
  readonly priority: Priority;
  readonly tickets: number;
  readonly targets: Readonly<Partial<Record<TargetName, TargetFigures>>>;
}

export interface Breach {
  readonly ticket: number;
  readonly tenant: string;
  readonly tier: Tier;
  readonly priority: Priority;
  readonly target: TargetName;
  readonly due_at: number;
  readonly stopped_at: number | undefined;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

/**
 * The SLA report (pure): per tier and priority, ticket counts and per target the mean and p50/p90 time to stop,
 * the share within target, and every breach. Times are wall-clock from the ticket's opening to the clock's stop.
 */
export function slaReport(tickets: readonly ReportTicket[]): { groups: ReportGroup[]; breaches: Breach[] } {
  const groups = new Map<string, { tier: Tier; priority: Priority; list: ReportTicket[] }>();
  for (const t of tickets) {
    const k = `${t.tier}|${t.priority}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { tier: t.tier, priority: t.priority, list: [] }));
    g.list.push(t);
  }
  const breaches: Breach[] = [];
  const out: ReportGroup[] = [];
  for (const g of [...groups.values()].sort((a, b) => a.tier.localeCompare(b.tier) || a.priority.localeCompare(b.priority))) {
    const targets: Partial<Record<TargetName, TargetFigures>> = {};
    for (const name of TARGETS) {
      const clocks = g.list.flatMap((t) => t.clocks.filter((c) => c.target === name).map((c) => ({ t, c })));
      if (clocks.length === 0) continue;
      const stopped = clocks.filter(({ c }) => c.stoppedAt !== undefined);
      const durations = stopped.map(({ t, c }) => c.stoppedAt! - t.openedAt).sort((a, b) => a - b);
      for (const { t, c } of clocks) {
        if (c.breached) breaches.push({ ticket: t.id, tenant: t.tenant, tier: t.tier, priority: t.priority, target: name, due_at: c.dueAt!, stopped_at: c.stoppedAt });
      }
      targets[name] = {
        tickets: clocks.length,
        met_or_missed: stopped.length,
        mean_ms: durations.length ? durations.reduce((a, b) => a + b, 0) / durations.length : undefined,
        p50_ms: percentile(durations, 0.5),
        p90_ms: percentile(durations, 0.9),
        within_target: stopped.length ? stopped.filter(({ c }) => !c.breached).length / stopped.length : undefined,
        breached: clocks.filter(({ c }) => c.breached).length,
      };
    }
    out.push({ tier: g.tier, priority: g.priority, tickets: g.list.length, targets });
  }
  return { groups: out, breaches: breaches.sort((a, b) => a.due_at - b.due_at || a.ticket - b.ticket) };
}

/** The groups as CSV: one row per tier, priority and target. */
export function reportCsv(groups: readonly ReportGroup[]): string {
  const cell = (v: number | string | undefined) => (v === undefined ? '' : String(v));
  const rows = [['tier', 'priority', 'target', 'tickets', 'stopped', 'mean_ms', 'p50_ms', 'p90_ms', 'within_target', 'breached'].join(',')];
  for (const g of groups) {
    for (const name of TARGETS) {
      const f = g.targets[name];
      if (!f) continue;
      rows.push([g.tier, g.priority, name, f.tickets, f.met_or_missed, f.mean_ms === undefined ? undefined : Math.round(f.mean_ms), f.p50_ms, f.p90_ms, f.within_target === undefined ? undefined : +f.within_target.toFixed(4), f.breached].map(cell).join(','));
    }
  }
  return `${rows.join('\n')}\n`;
}

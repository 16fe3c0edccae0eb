import type { Tenant } from '../shared/tenant.js';
import { line } from '../storage/influx/line-protocol.js';
import type { SlaClock, Ticket } from './tickets.js';

/** Measurements for the SLA board, documented in the README. */
export const SLA_STOP_MEASUREMENT = 'qos_sla';
export const SLA_BREACH_MEASUREMENT = 'qos_sla_breach';

const ns = (at: number, ticket: number) => BigInt(at) * 1_000_000n + BigInt(ticket % 1_000_000);
const tagsOf = (t: Ticket, tenant: Tenant, target: string) => ({ tenant: t.tenant, tier: tenant.tier, priority: t.priority, target });

/**
 * One point per SLA clock when it stops (acknowledged = response, mitigated = restore, resolved = resolve), with
 * whether it was met: MTTA/MTTR are mean(time_to_stop_ms), attainment is mean(met) (1 met, 0 breached), by tier
 * and priority — the report's figures as InfluxDB points.
 */
export function slaStopLines(t: Ticket, tenant: Tenant, stopped: readonly SlaClock[]): string[] {
  return stopped.map((c) =>
    line(SLA_STOP_MEASUREMENT, { ...tagsOf(t, tenant, c.target), outcome: c.breached ? 'breached' : 'met' }, {
      ticket: { int: t.id }, met: { int: c.breached ? 0 : 1 }, time_to_stop_ms: { int: c.stoppedAt! - t.openedAt }, elapsed_ms: { int: Math.round(c.elapsedMs) }, target_ms: { int: Math.round(c.targetMs) },
    }, ns(c.stoppedAt!, t.id)),
  );
}

/** One point per breach, at the instant the target was due. */
export function slaBreachLine(t: Ticket, tenant: Tenant, c: SlaClock): string {
  return line(SLA_BREACH_MEASUREMENT, tagsOf(t, tenant, c.target), { ticket: { int: t.id }, target_ms: { int: Math.round(c.targetMs) } }, ns(c.dueAt!, t.id));
}

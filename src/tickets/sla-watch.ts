import type { FastifyBaseLogger as Logger } from 'fastify';
import type { Incidents } from '../incidents/incidents.js';
import type { Pager } from '../notify/pager.js';
import type { Tenants } from '../tenants/tenants.js';
import type { Incident } from '../incidents/model.js';
import type { Ticket, Tickets } from './tickets.js';

/** Ticket states whose clocks may still run. */
const OPEN = ['new', 'acknowledged', 'mitigated', 'waiting_on_customer', 'resolved'] as const;

/**
 * Watches the SLA clocks of open tickets: at 80 % of a target the next escalation level is warned, at 100 % the
 * ticket is marked breached and escalated — each once per ticket, target and priority, recorded on the ticket and
 * on its incident's timeline, and sent through the paging outbox. A clock stopped in time never warns.
 */
export class SlaWatch {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: { tickets: Tickets; tenants: Tenants; incidents: Incidents; pager: Pager | undefined; log: Logger; clock: () => number },
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => {
      try {
        this.tick(this.deps.clock());
      } catch (err) {
        this.deps.log.error({ err }, 'SLA check failed');
      }
    }, this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  tick(now: number): void {
    const { tickets, tenants, incidents, pager } = this.deps;
    for (const t of tickets.list({ state: OPEN, limit: 100_000 })) {
      const tenant = tenants.get(t.tenant);
      if (!tenant) continue;
      const events = tickets.events(t.id);
      const seen = (kind: string, target: string) => events.some((e) => e.kind === kind && e.data?.target === target && e.data?.priority === t.priority);
      for (const c of tickets.clocks(t, tenant, now, events)) {
        for (const breach of [false, true]) {
          const kind = breach ? 'sla_breach' : 'sla_warning';
          const reached = breach ? c.breached : c.running && c.warnAt !== undefined && now >= c.warnAt;
          if (!reached || seen(kind, c.target)) continue;
          const data = { target: c.target, priority: t.priority, due_at: c.dueAt, target_ms: c.targetMs, tier: tenant.tier };
          tickets.record(t.id, kind, data, now);
          const inc = t.incidentId === undefined ? undefined : incidents.get(t.incidentId);
          if (inc) incidents.note(inc.id, kind, 'qoswatch', { ticket: t.id, ...data }, now);
          pager?.slaAlert(inc ?? handOpened(t), { ticket: t.id, target: c.target, breach, dueAt: c.dueAt! }, now);
        }
      }
    }
  }
}

/**
 * A ticket opened by hand has no incident to escalate on: it is paged as a subject of its own — incident id 0 (no
 * alerts, no incident timeline), state "mitigated" so no ack/resolve links are offered — through the escalation
 * policy routed for its tenant and priority, from the first level.
 */
function handOpened(t: Ticket): Incident {
  return {
    id: 0, tenant: t.tenant, region: undefined, group_key: '', title: t.title, state: 'mitigated', priority: t.priority, silenced: false,
    opened_at: t.openedAt, acknowledged_at: undefined, acknowledged_by: undefined, mitigated_at: undefined, mitigated_by: undefined,
    resolved_at: undefined, resolved_by: undefined, reopened: 0, updated_at: t.updatedAt,
  };
}

import type { FastifyBaseLogger as Logger } from 'fastify';
import type { Incidents } from '../incidents/incidents.js';
import type { Pager } from '../notify/pager.js';
import type { Incident } from '../incidents/model.js';
import type { Tenants } from '../tenants/tenants.js';
import type { Tenant } from '../shared/tenant.js';
import type { SlaMark } from '../storage/state/tickets.js';
import { DueQueue } from '../util/due-queue.js';
import type { SlaClock, Ticket, TicketEvent, Tickets } from './tickets.js';

/** Ticket states whose clocks may still run. */
const OPEN = ['new', 'acknowledged', 'mitigated', 'waiting_on_customer', 'resolved'] as const;

/**
 * Watches the SLA clocks of open tickets: at 80 % of a target the next escalation level is warned, at 100 % the
 * ticket is marked breached and escalated — each once per ticket, target and priority (a unique mark), recorded on
 * the ticket and on its incident's timeline, and sent through the paging outbox, all in one transaction. A clock
 * stopped in time never warns.
 *
 * The work per check does not grow with the number of tickets: each ticket's next warning or breach instant is kept
 * in a queue (every open ticket is read once at start), and a check reads only the tickets that came due or changed
 * since (an event of theirs, or an edit of their tenant).
 */
export class SlaWatch {
  private timer: NodeJS.Timeout | undefined;
  private readonly due = new DueQueue<number>();
  private readonly changed = new Set<number>();
  /** Each tenant as its tickets were indexed with: the API replaces a tenant it edits. */
  private readonly indexedTenants = new Map<string, Tenant>();
  /** The check running, if any: a check never starts while one runs. */
  private checking: Promise<void> | undefined;

  constructor(
    private readonly deps: { tickets: Tickets; tenants: Tenants; incidents: Incidents; pager: Pager | undefined; log: Logger; clock: () => number },
    private readonly intervalMs: number,
  ) {}

  /** Reads every open ticket once (raising what fell due while the service was down) and starts the checks. */
  async start(): Promise<void> {
    const now = this.deps.clock();
    for (const t of this.deps.tenants.list()) this.indexedTenants.set(t.id, t);
    for (const { ticket, changes, marks } of await this.deps.tickets.slaInputs(OPEN)) await this.guarded(ticket.id, () => this.evaluate(ticket, marks, now, changes));
    this.timer ??= setInterval(() => {
      if (this.checking) return;
      this.checking = this.tick(this.deps.clock())
        .catch((err: unknown) => this.deps.log.error({ err }, 'SLA check failed'))
        .finally(() => (this.checking = undefined));
    }, this.intervalMs);
  }

  /** Stops the checks and waits for the one running. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.checking;
  }

  /** A ticket changed (an event of it was written): its clocks are read again at the next check. */
  touch(id: number): void {
    this.changed.add(id);
  }

  async tick(now: number): Promise<void> {
    await this.retarget();
    const ids = new Set([...this.changed, ...this.due.takeDue(now)]);
    this.changed.clear();
    for (const id of ids) await this.guarded(id, () => this.check(id, now));
  }

  private async guarded(id: number, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      // Nothing of it was written (one transaction): the next check tries again.
      this.changed.add(id);
      this.deps.log.error({ err, ticket: id }, 'SLA check of a ticket failed');
    }
  }

  /** The tickets of a tenant edited since they were indexed get their targets (tier, hours, overrides) read again. */
  private async retarget(): Promise<void> {
    for (const t of this.deps.tenants.list()) {
      if (this.indexedTenants.get(t.id) === t) continue;
      this.indexedTenants.set(t.id, t);
      for (const id of await this.deps.tickets.idsIn(OPEN, t.id)) this.changed.add(id);
    }
  }

  /** Reads one ticket again. */
  private async check(id: number, now: number): Promise<void> {
    const t = await this.deps.tickets.get(id);
    if (t) await this.evaluate(t, await this.deps.tickets.slaMarks(id), now);
    else this.due.set(id, undefined);
  }

  /** Raises what has come due on a ticket, and queues it for its next warning or breach. */
  private async evaluate(t: Ticket, marks: readonly SlaMark[], now: number, changes?: readonly TicketEvent[]): Promise<void> {
    const tenant = (OPEN as readonly string[]).includes(t.state) ? this.deps.tenants.get(t.tenant) : undefined;
    if (!tenant) {
      this.due.set(t.id, undefined);
      return;
    }
    const raised = new Set(marks.filter((m) => m.priority === t.priority).map((m) => `${m.kind} ${m.target}`));
    let next: number | undefined;
    for (const c of this.deps.tickets.clocks(t, tenant, now, changes ?? (await this.deps.tickets.events(t.id)))) {
      for (const breach of [false, true]) {
        if (raised.has(`${breach ? 'sla_breach' : 'sla_warning'} ${c.target}`)) continue;
        const at = breach ? c.dueAt : c.warnAt;
        const reached = breach ? c.breached : c.running && at !== undefined && now >= at;
        if (reached) await this.raise(t, tenant, c, breach, now);
        else if (c.running && at !== undefined) next = Math.min(next ?? at, at);
      }
    }
    // Its own events (the marks just raised) need no second look.
    this.changed.delete(t.id);
    this.due.set(t.id, next);
  }

  /** The mark, the ticket event, the incident's timeline entry and the page commit together, or none of them. */
  private async raise(t: Ticket, tenant: Tenant, c: SlaClock, breach: boolean, now: number): Promise<void> {
    const { tickets, incidents, pager } = this.deps;
    const kind = breach ? 'sla_breach' : 'sla_warning';
    await tickets.atomically(async (tx) => {
      if (!(await tickets.markSla(t.id, kind, c.target, t.priority, now, tx))) return;
      const data = { target: c.target, priority: t.priority, due_at: c.dueAt, target_ms: c.targetMs, tier: tenant.tier };
      await tickets.record(t.id, kind, data, now, tx);
      const inc = t.incidentId === undefined ? undefined : await incidents.get(t.incidentId, tx);
      if (inc) await incidents.note(inc.id, kind, 'qoswatch', { ticket: t.id, ...data }, now, tx);
      await pager?.slaAlert(inc ?? handOpened(t), { ticket: t.id, target: c.target, breach, dueAt: c.dueAt! }, now, tx);
    });
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

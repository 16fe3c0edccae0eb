import { randomBytes } from 'node:crypto';
import type { Incidents } from '../incidents/incidents.js';
import { notFound } from '../shared/http-errors.js';
import type { Tenant } from '../shared/tenant.js';
import type { ShareLinkRecord } from '../storage/state/share-links.js';
import type { StateStore } from '../storage/state/store.js';
import { newSecret, sha256 } from '../tenants/keys.js';
import type { Tickets } from '../tickets/tickets.js';
import { type CustomerIncident, type CustomerRequest, type TicketFacts, customerIncident, customerRequest, regionStatuses } from './customer-view.js';

/** How far back the page's history reaches. */
export const HISTORY_MS = 30 * 86_400_000;
const MAX_INCIDENTS = 100;

export interface StatusPage {
  tenant: { id: string; name: string };
  regions: { region: string; status: 'operational' | 'degraded' | 'outage' }[];
  /** Incidents not yet resolved (investigating, identified, monitoring). */
  current: CustomerIncident[];
  /** Resolved within the last 30 days, newest first. */
  history: CustomerIncident[];
  /** Tickets support opened by hand (the customer's reports) within the last 30 days or still open, newest first. */
  requests: CustomerRequest[];
  generated_at: number;
}

export interface ShareLink {
  id: string;
  name?: string;
  summary_only: boolean;
  created_by: string;
  created_at: number;
}

const linkOut = (l: ShareLinkRecord): ShareLink => ({ id: l.id, name: l.name, summary_only: l.summaryOnly, created_by: l.createdBy, created_at: l.createdAt });

/**
 * Each tenant's status page (customer-view.ts says what it shows) and the links a tenant shares it by: random
 * 192-bit secrets kept only as SHA-256, revocable; a summary-only link shows the regions' status and nothing else.
 */
export class StatusPages {
  constructor(
    private readonly deps: { incidents: Incidents; tickets: Tickets; state: Pick<StateStore, 'shareLinks'> },
  ) {}

  async page(tenant: Tenant, now: number): Promise<StatusPage> {
    const { incidents, tickets } = this.deps;
    const recent = await incidents.list({ tenant: tenant.id, from: now - HISTORY_MS, limit: MAX_INCIDENTS });
    const ticketList = await tickets.list({ tenant: tenant.id, limit: 500 });
    const ticketsOf = new Map(ticketList.filter((t) => t.incidentId !== undefined).map((t) => [t.incidentId!, t]));
    const facts = async (t: (typeof ticketList)[number], restoreDue: number | undefined): Promise<TicketFacts> => ({
      publicId: t.publicId, state: t.state, openedAt: t.openedAt, restoreDue,
      updates: (await tickets.events(t.id, 'customer')).map((e) => ({ at: e.at, kind: e.kind, text: typeof e.data?.text === 'string' ? e.data.text : undefined, to: typeof e.data?.to === 'string' ? e.data.to : undefined })),
    });
    const all = await Promise.all(
      recent.map(async (i) => {
        const alerts = await incidents.alerts(i.id);
        const t = ticketsOf.get(i.id);
        const restore = t ? tickets.clocks(t, tenant, now, await tickets.events(t.id)).find((c) => c.target === 'restore') : undefined;
        return customerIncident(
          { state: i.state, priority: i.priority, region: i.region, openedAt: i.opened_at, mitigatedAt: i.mitigated_at, resolvedAt: i.resolved_at, metrics: alerts.map((a) => a.trigger?.metric) },
          t && (await facts(t, restore?.running ? restore.dueAt : undefined)),
          // Incidents without a ticket still need an id that does not reveal the global sequence.
          `i_${sha256(`${tenant.id}/${i.id}`).slice(0, 12)}`,
        );
      }),
    );
    const current = all.filter((i) => i.phase !== 'resolved');
    const regions = new Set(recent.map((i) => i.region).filter((r): r is string => r !== undefined));
    const reports = ticketList.filter((t) => t.incidentId === undefined && (t.openedAt >= now - HISTORY_MS || (t.state !== 'resolved' && t.state !== 'closed')));
    const requests = await Promise.all(reports.map(async (t) => customerRequest(t.title, await facts(t, undefined))));
    return { tenant: { id: tenant.id, name: tenant.name }, regions: regionStatuses(regions, current), current, history: all.filter((i) => i.phase === 'resolved'), requests, generated_at: now };
  }

  async links(tenant: string): Promise<ShareLink[]> {
    return (await this.deps.state.shareLinks.list(tenant)).map(linkOut);
  }

  async createLink(tenant: string, opts: { name?: string; summaryOnly: boolean }, actor: string, now: number): Promise<ShareLink & { secret: string }> {
    const secret = newSecret('qws');
    const record: ShareLinkRecord = { id: `s_${randomBytes(6).toString('hex')}`, tenant, name: opts.name, sha256: sha256(secret), summaryOnly: opts.summaryOnly, createdBy: actor, createdAt: now };
    await this.deps.state.shareLinks.insert(record);
    return { ...linkOut(record), secret };
  }

  async revokeLink(tenant: string, id: string, now: number): Promise<void> {
    if (!(await this.deps.state.shareLinks.revoke(tenant, id, now))) throw notFound(`no share link ${id}`);
  }

  /** The live link a secret opens. */
  async resolveLink(secret: string): Promise<ShareLinkRecord | undefined> {
    return this.deps.state.shareLinks.bySecret(sha256(secret));
  }
}

import { createHash } from 'node:crypto';
import type { PageMessage } from '../notify/channel.js';
import type { PageKind } from '../shared/paging.js';
import type { OutboxItem } from '../storage/state/outbox.js';
import { MAILTO, TEAM } from '../notify/compose.js';
import { EMAIL } from '../shared/paging.js';
import type { Tenant } from '../shared/tenant.js';
import type { SlaClock, Ticket, TicketEvent } from './tickets.js';

/** The customer-visible events customers are told about, as page kinds. */
function kindOf(e: TicketEvent): PageKind | undefined {
  if (e.kind === 'opened') return 'opened';
  if (e.kind === 'priority_changed') return 'priority_changed';
  if (e.kind !== 'state_changed') return undefined;
  const to = e.data?.to;
  return to === 'acknowledged' || to === 'mitigated' || to === 'resolved' ? to : undefined;
}

/** Notes the incident sync writes on a ticket ("incident #12 mitigated"): internal numbers customers are not shown. */
export const isIncidentNote = (note: unknown): note is string => typeof note === 'string' && note.startsWith('incident #');

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString().replace('.000Z', 'Z'));

/** What the customer reads: plain words, the ETA from the restore clock, no internal detail. */
function customerText(kind: PageKind, t: Ticket, e: TicketEvent, clocks: readonly SlaClock[]): string {
  const restore = clocks.find((c) => c.target === 'restore');
  const note = typeof e.data?.note === 'string' && !isIncidentNote(e.data.note) ? ` ${e.data.note}` : '';
  switch (kind) {
    case 'opened':
      return `We are investigating a ${t.priority} issue: ${t.title}.`;
    case 'acknowledged':
      return `Our engineers are working on it.${restore?.dueAt ? ` We expect service to be restored by ${iso(restore.dueAt)}.` : ''}${note}`;
    case 'mitigated':
      return `Service has been restored; we keep monitoring and will follow up with the root cause.${note}`;
    case 'resolved':
      return `This issue is resolved.${t.rootCause ? ` Root cause: ${t.rootCause}` : ''}${note}`;
    default:
      return `The priority of this issue is now ${t.priority}.`;
  }
}

/**
 * Customer-visible updates of a ticket (opened, acknowledged with an ETA, priority changed, mitigated, resolved)
 * for the tenant's contacts (email) and its customer channel, as outbox rows — written in the transaction of the
 * ticket event, so an update is never lost between the two.
 */
export function customerUpdates(t: Ticket, e: TicketEvent, tenant: Tenant, clocks: readonly SlaClock[], customerChannel: string | undefined): OutboxItem[] {
  const kind = kindOf(e);
  if (!kind) return [];
  const recipients: [recipient: string, channel: string][] = [
    ...tenant.contacts.map((c): [string, string] => [`${MAILTO}${c.email}`, EMAIL]),
    ...(customerChannel ? [[`${TEAM}${customerChannel}`, customerChannel] as [string, string]] : []),
  ];
  return recipients.map(([recipient, channel]) => {
    const key = `ticket:${t.id}:update:${e.id}:${recipient}:${channel}`;
    // What the customer receives carries the ticket's public id, no incident or ticket number and, as its idempotency
    // key, a digest of the outbox key (which names the ticket and event by number).
    const page: PageMessage = {
      kind, incidentId: 0, ticket: t.publicId, priority: t.priority, tenant: t.tenant, region: undefined, state: t.state,
      title: `${t.priority} ${tenant.name}: ${t.title}`,
      text: customerText(kind, t, e, clocks),
      runbook: undefined, timeline: [], ackUrl: undefined, resolveUrl: undefined, incidentUrl: undefined, mention: undefined,
      key: `cu_${createHash('sha256').update(key).digest('hex').slice(0, 32)}`,
    };
    // Ticket-only updates have no incident: 0 in the outbox's incident column.
    return { key, incidentId: t.incidentId ?? 0, kind, recipient, channel, priority: t.priority, tenant: t.tenant, payload: JSON.stringify(page) };
  });
}

import type { PageMessage } from './channel.js';

/** How many of the latest timeline entries a chat message shows (the full timeline is one click away). */
export const TIMELINE_LINES = 5;

/** Cuts `s` to at most `max` characters, marking the cut with an ellipsis (providers reject oversized fields). */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  // By code points, so a surrogate pair (an emoji) is never cut in half.
  const chars = Array.from(s);
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join('')}…`;
}

/** The latest timeline entries, oldest first. */
export function timelineTail(page: PageMessage, n = TIMELINE_LINES): readonly string[] {
  return page.timeline.slice(-n);
}

/** The incident's (storm's, customer ticket's) labelled facts, in display order; a page without a region has no Region fact. */
export function facts(page: PageMessage): [label: string, value: string][] {
  const subject: [string, string] = page.storm ? ['Storm', `#${page.storm.id}`] : page.ticket ? ['Ticket', page.ticket] : ['Incident', `#${page.incidentId}`];
  const out: [string, string][] = [subject, ['Priority', page.priority], ['Tenant', page.tenant]];
  if (page.region !== undefined) out.push(['Region', page.region]);
  out.push(['State', page.state]);
  return out;
}

/** The page's link buttons, only those whose URL exists: acknowledge, resolve, then the incident itself. */
export function links(page: PageMessage): { id: 'ack' | 'resolve' | 'incident'; label: string; url: string }[] {
  const all = [
    { id: 'ack' as const, label: 'Acknowledge', url: page.ackUrl },
    { id: 'resolve' as const, label: 'Resolve', url: page.resolveUrl },
    { id: 'incident' as const, label: 'Open incident', url: page.incidentUrl },
  ];
  return all.flatMap((l) => (l.url === undefined ? [] : [{ id: l.id, label: l.label, url: l.url }]));
}

/** The runbook when it is one http(s) URL, which messages link; any other runbook is shown as text. */
export function runbookUrl(page: PageMessage): string | undefined {
  return page.runbook !== undefined && /^https?:\/\/\S+$/i.test(page.runbook) ? page.runbook : undefined;
}

/** Escapes text for HTML bodies and attributes (email pages, link pages). */
export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

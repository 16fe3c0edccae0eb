import type { Incident, IncidentAlert, TimelineEntry } from '../incidents/model.js';
import { escapeMarkdown, inert } from '../notify/markup.js';
import type { SlaClock, Ticket, TicketEvent } from './tickets.js';

export interface PostmortemInput {
  ticket: Ticket;
  tier: string;
  events: readonly TicketEvent[];
  clocks: readonly SlaClock[];
  incident: Incident | undefined;
  alerts: readonly IncidentAlert[];
  timeline: readonly TimelineEntry[];
}

const iso = (ms: number | undefined) => (ms === undefined ? '—' : new Date(ms).toISOString().replace('.000Z', 'Z'));
/** "1h 10m", "15m", "3d" — a duration as people write it. */
function dur(ms: number): string {
  let rest = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n) parts.push(`${n}${unit}`);
  }
  return parts.join(' ') || '0s';
}
/**
 * A value from telemetry, alerts, tickets or people as Markdown text: no HTML, no Markdown and no link of its own
 * (renderers that allow HTML or link bare URLs show it as text), its lines indented by `indent` so they stay
 * inside the list item they continue.
 */
const md = (s: string, indent = '') => escapeMarkdown(inert(s)).replace(/\n/g, `\n${indent}`);
/** A value on one line (a heading, a fact, a table cell). */
const line = (s: string) => md(s.replace(/\s*\n\s*/g, ' '));

/**
 * The postmortem of a ticket as Markdown (pure): summary, impact (regions, duration, peak sessions seen by the
 * alerts), SLA outcome per target, root cause, and the merged timeline of the ticket and its incident.
 */
export function renderPostmortem(p: PostmortemInput): string {
  const t = p.ticket;
  const stateAt = (to: string) => p.events.find((e) => e.kind === 'state_changed' && e.data?.to === to)?.at;
  const restoredAt = stateAt('mitigated') ?? stateAt('resolved');
  const regions = [...new Set(p.alerts.map((a) => a.labels.region).filter((r): r is string => r !== undefined))];
  const peak = Math.max(0, ...p.alerts.map((a) => a.trigger?.sessions ?? 0));
  const lines = [
    `# Postmortem: ticket #${t.id} — ${line(t.title)}`,
    '',
    t.state === 'resolved' || t.state === 'closed' ? '' : `> Draft: the ticket is ${t.state}.\n`,
    `- Tenant: ${line(t.tenant)} (${line(p.tier)}) · Priority: ${t.priority}${p.incident ? ` · Incident: #${p.incident.id}` : ''}`,
    `- Opened: ${iso(t.openedAt)} · Restored: ${iso(restoredAt)} · Resolved: ${iso(stateAt('resolved'))}`,
    '',
    '## Impact',
    '',
    `- Regions: ${regions.length ? regions.map(line).join(', ') : p.incident?.region !== undefined ? line(p.incident.region) : '—'}`,
    `- Duration until restored: ${restoredAt === undefined ? 'not restored' : dur(restoredAt - t.openedAt)}`,
    `- Peak sessions in an alerting window: ${peak || '—'}`,
    ...p.alerts.map((a) => `- ${line(a.rule_id)}: ${a.trigger ? line(`${a.trigger.metric} ${+a.trigger.value.toFixed(4)} (${a.trigger.threshold ?? ''}), ${a.trigger.samples ?? '?'} samples`) : 'no values'}`),
    '',
    '## SLA',
    '',
    '| target | limit | outcome | stopped |',
    '| --- | --- | --- | --- |',
    ...p.clocks.map((c) => `| ${line(c.target)} | ${dur(c.targetMs)} (${line(c.calendar)}) | ${c.breached ? 'BREACHED' : c.stoppedAt !== undefined ? 'met' : 'running'} | ${iso(c.stoppedAt)} |`),
    '',
    '## Root cause',
    '',
    t.rootCause ? md(t.rootCause) : '_Not given yet._',
    '',
    '## Timeline',
    '',
    ...[
      ...p.events.map((e) => ({ at: e.at, text: `ticket: ${e.kind.replace(/_/g, ' ')}${e.data?.to ? ` → ${String(e.data.to)}` : ''}${e.data?.text ? `: ${String(e.data.text)}` : ''} (${e.actor})` })),
      ...p.timeline.map((e) => ({ at: e.at, text: `incident: ${e.kind.replace(/_/g, ' ')}${typeof e.data?.summary === 'string' ? `: ${e.data.summary}` : ''} (${e.actor})` })),
    ]
      .sort((a, b) => a.at - b.at)
      .map((e) => `- ${iso(e.at)} ${md(e.text, '  ')}`),
    '',
  ];
  return lines.join('\n').replace(/\n{3,}/g, '\n\n');
}

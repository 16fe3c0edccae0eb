import type { IncidentState } from '../incidents/model.js';

/**
 * The customer's status page in customer words: what viewers notice (never a rule, a threshold or an engineer), the
 * phase of the work, the restore target, and the support team's customer-visible updates. Pure: the routes gather
 * the rows.
 */
export type RegionStatus = 'operational' | 'degraded' | 'outage';

/** What a viewer notices when a metric's rule fires. */
const NOTICED: Record<string, string> = {
  stall_ratio: 'Playback interruptions (buffering)',
  packet_loss: 'Degraded picture and sound (packet loss)',
  latency_p95: 'Increased stream delay',
  startup_p95: 'Slow video start',
  error_rate: 'Playback errors',
  viewers: 'Viewers dropping off',
  concurrency: 'Viewers dropping off',
};
const ABSENT = 'Playback data missing';
const DEFAULT = 'Degraded streaming';

/** Where the work is, as status pages say it. */
export type Phase = 'investigating' | 'identified' | 'monitoring' | 'resolved';
export const PHASES: Record<IncidentState, Phase> = { open: 'investigating', acknowledged: 'identified', mitigated: 'monitoring', resolved: 'resolved' };

export interface IncidentFacts {
  state: IncidentState;
  priority: string;
  region: string | undefined;
  openedAt: number;
  mitigatedAt: number | undefined;
  resolvedAt: number | undefined;
  /** The metrics of the incident's alerts (undefined: an absent-data rule). */
  metrics: readonly (string | undefined)[];
}

export interface TicketFacts {
  publicId: string;
  state: string;
  openedAt: number;
  /** The restore clock's due instant, while it runs. */
  restoreDue: number | undefined;
  updates: readonly { at: number; kind: string; text: string | undefined; to: string | undefined }[];
}

export interface CustomerIncident {
  id: string;
  title: string;
  region?: string;
  impact: 'degraded' | 'outage';
  phase: Phase;
  started_at: number;
  restored_at?: number;
  resolved_at?: number;
  restore_target?: number;
  updates: { at: number; text: string }[];
}

export function customerTitle(f: Pick<IncidentFacts, 'metrics' | 'region'>): string {
  const words = [...new Set(f.metrics.map((m) => (m === undefined ? ABSENT : (NOTICED[m] ?? DEFAULT))))];
  return `${words.length ? words.join(', ') : DEFAULT}${f.region ? ` in ${f.region}` : ''}`;
}

/** P0 is an outage; anything else a degradation. */
export const impactOf = (priority: string): 'degraded' | 'outage' => (priority === 'P0' ? 'outage' : 'degraded');

const TICKET_WORDS: Record<string, string> = {
  acknowledged: 'Our team is working on it.',
  mitigated: 'Service has been restored; we are monitoring.',
  resolved: 'This incident has been resolved.',
  closed: 'This incident is closed.',
  waiting_on_customer: 'We are waiting for information from you.',
  new: 'We are looking into it.',
};

/** The ticket's customer-visible events that say something, in words. */
function updatesOf(t: Pick<TicketFacts, 'updates'>): { at: number; text: string }[] {
  return t.updates
    .map((u) => ({ at: u.at, text: u.kind === 'comment' ? u.text : u.kind === 'state_changed' && u.to ? TICKET_WORDS[u.to] : u.kind === 'opened' ? 'We are aware of the problem and are looking into it.' : undefined }))
    .filter((u): u is { at: number; text: string } => typeof u.text === 'string' && u.text.length > 0);
}

/** One incident (and its ticket, when there is one) as the customer reads it. */
export function customerIncident(i: IncidentFacts, t: TicketFacts | undefined, fallbackId: string): CustomerIncident {
  const updates = t ? updatesOf(t) : [];
  return {
    id: t?.publicId ?? fallbackId,
    title: customerTitle(i),
    region: i.region,
    impact: impactOf(i.priority),
    phase: PHASES[i.state],
    started_at: i.openedAt,
    restored_at: i.mitigatedAt ?? i.resolvedAt,
    resolved_at: i.resolvedAt,
    restore_target: i.state === 'open' || i.state === 'acknowledged' ? t?.restoreDue : undefined,
    updates,
  };
}

/** A ticket support opened by hand (a customer's report): its title, where it stands, and its updates. */
export interface CustomerRequest {
  id: string;
  title: string;
  status: string;
  opened_at: number;
  updates: { at: number; text: string }[];
}

/** Where a ticket stands, in words. */
const REQUEST_STATUS: Record<string, string> = {
  new: 'received', acknowledged: 'in progress', mitigated: 'fixed, being watched', waiting_on_customer: 'waiting for you', resolved: 'resolved', closed: 'closed',
};

export function customerRequest(title: string, t: TicketFacts): CustomerRequest {
  return { id: t.publicId, title, status: REQUEST_STATUS[t.state] ?? t.state, opened_at: t.openedAt, updates: updatesOf(t) };
}

/** Each region's status now: the worst impact among its unrestored incidents; operational otherwise. */
export function regionStatuses(regions: Iterable<string>, open: readonly Pick<CustomerIncident, 'region' | 'impact' | 'phase'>[]): { region: string; status: RegionStatus }[] {
  const worst = new Map<string, RegionStatus>();
  for (const r of regions) worst.set(r, 'operational');
  for (const i of open) {
    if (!i.region || i.phase === 'monitoring' || i.phase === 'resolved') continue;
    if (worst.get(i.region) !== 'outage') worst.set(i.region, i.impact);
  }
  return [...worst].sort(([a], [b]) => a.localeCompare(b)).map(([region, status]) => ({ region, status }));
}

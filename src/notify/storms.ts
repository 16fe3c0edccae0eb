import type { Incident } from '../incidents/model.js';
import { type Priority, rank } from '../shared/priority.js';
import type { PageKind } from '../shared/paging.js';
import type { Storm } from '../storage/state/storms.js';

/**
 * A storm: many incidents of one tenant (under one escalation policy) starting within a short time, paged as one.
 * The first incidents page on their own at once; from the `threshold`-th still open that began paging within
 * `windowMs` on, each joins the tenant's storm, whose pages list every member. The storm escalates like an incident while any member is open
 * (restarting when a new open member joins after all were acknowledged) and tells the people it paged what changed
 * — members joining, acknowledged, mitigated, resolved — in one update at most every `intervalMs`, at once when a
 * member is more urgent than anything they were told. It ends when no member is open or acknowledged.
 */
export interface StormOptions {
  readonly threshold: number;
  readonly windowMs: number;
  readonly intervalMs: number;
}

/** The most urgent priority among incidents (P3 when there are none). */
export function topPriority(incidents: readonly Pick<Incident, 'priority'>[]): Priority {
  return incidents.map((i) => i.priority).sort((a, b) => rank(a) - rank(b))[0] ?? 'P3';
}

/** A storm's state as one incident's: open while any member is, then acknowledged, mitigated, resolved. */
export function stormState(members: readonly Pick<Incident, 'state'>[]): Incident['state'] {
  for (const s of ['open', 'acknowledged', 'mitigated'] as const) if (members.some((m) => m.state === s)) return s;
  return 'resolved';
}

/**
 * What an update of a storm says, as a page kind: it is over (mitigated or resolved), everyone is on it
 * (acknowledged), it got more urgent than people were told (priority_changed), or incidents joined or changed
 * (updated; SLA warnings of its incidents come as headlines of such an update).
 */
export function updateKind(storm: Pick<Storm, 'told_priority'>, members: readonly Pick<Incident, 'state' | 'priority'>[]): PageKind {
  const state = stormState(members);
  if (state !== 'open') return state;
  if (storm.told_priority && rank(topPriority(members.filter((m) => m.state === 'open'))) < rank(storm.told_priority)) return 'priority_changed';
  return 'updated';
}

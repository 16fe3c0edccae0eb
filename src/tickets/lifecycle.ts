import type { TargetName } from '../shared/tenant.js';
import type { ClockEvent } from './clock.js';

export const TICKET_STATES = ['new', 'acknowledged', 'mitigated', 'resolved', 'closed', 'waiting_on_customer'] as const;
export type TicketState = (typeof TICKET_STATES)[number];

/** Which states each state may move to (waiting_on_customer returns to the state it paused). */
export const NEXT: Readonly<Record<TicketState, readonly TicketState[]>> = {
  new: ['acknowledged', 'mitigated', 'resolved', 'waiting_on_customer'],
  acknowledged: ['mitigated', 'resolved', 'waiting_on_customer'],
  mitigated: ['resolved', 'waiting_on_customer'],
  waiting_on_customer: ['new', 'acknowledged', 'mitigated', 'resolved'],
  resolved: ['closed'],
  closed: [],
};

/** A ticket event as far as the clocks care: state changes with the instant. */
export interface StateChange {
  readonly at: number;
  readonly to: TicketState;
}

/** The state that stops each clock (or any later one): acknowledged = first response, mitigated = restore. */
const STOPS: Record<TargetName, readonly TicketState[]> = {
  response: ['acknowledged', 'mitigated', 'resolved', 'closed'],
  restore: ['mitigated', 'resolved', 'closed'],
  resolve: ['resolved', 'closed'],
};

/**
 * The clock events of one target from a ticket's history (pure): it starts when the ticket opens, pauses while
 * the ticket waits on the customer, resumes after, and stops at the state that meets the target.
 */
export function clockEvents(target: TargetName, openedAt: number, changes: readonly StateChange[]): ClockEvent[] {
  const out: ClockEvent[] = [{ kind: 'start', at: openedAt }];
  let paused = false;
  for (const c of changes) {
    if (STOPS[target].includes(c.to)) {
      out.push({ kind: 'stop', at: c.at });
      break;
    }
    if (c.to === 'waiting_on_customer' && !paused) {
      out.push({ kind: 'pause', at: c.at });
      paused = true;
    } else if (c.to !== 'waiting_on_customer' && paused) {
      out.push({ kind: 'resume', at: c.at });
      paused = false;
    }
  }
  return out;
}

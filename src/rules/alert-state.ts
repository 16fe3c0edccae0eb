import { type Priority, rank } from '../shared/priority.js';

export type AlertStatus = 'inactive' | 'pending' | 'firing' | 'clearing';

/** The values that made a rule breach (or not): what the timeline and the pages show. */
export interface Values {
  readonly metric: string;
  readonly value: number;
  /** The comparison that held, as written ("> 0.05"); for `ok`, the least severe one. */
  readonly threshold?: string;
  readonly window_ms?: number;
  readonly samples?: number;
  readonly sessions?: number;
  /** drop rules: the baseline median and the current value; absent rules: the audience before the silence. */
  readonly baseline?: number;
  readonly current?: number;
  /** An alert from an alert source (Alertmanager, Grafana, …): what it said, not a value qoswatch measured. */
  readonly external?: ExternalValues;
}

/** What an alert source said about an alert: its text, labels and links (bounded by the source's parser). */
export interface ExternalValues {
  /** The source's name and kind. */
  readonly source: string;
  readonly kind: string;
  readonly summary: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly severity?: string;
  /** Where the alert comes from (Alertmanager's generatorURL, Grafana's panel, a PagerDuty client_url). */
  readonly url?: string;
  readonly runbook?: string;
}

/**
 * One evaluation's verdict: a priority breached; no breach; no data at all (counts as recovered); or too few samples
 * to judge (keeps a firing alert firing, never starts one).
 */
export type Observation =
  | { readonly kind: 'breach'; readonly priority: Priority; readonly values: Values }
  | { readonly kind: 'ok'; readonly values: Values }
  | { readonly kind: 'nodata' }
  | { readonly kind: 'insufficient'; readonly values: Values };

export interface AlertState {
  status: AlertStatus;
  /** Firing priority, or the priority a pending alert would fire with. */
  priority: Priority | undefined;
  /** When the current status began. */
  since: number;
  firedAt: number | undefined;
  /** While firing: since when a less severe level has held, and the most severe of those levels. */
  lowerSince: number | undefined;
  lowerTo: Priority | undefined;
  /** The values of the latest breach (or recovery). */
  values: Values | undefined;
}

export type Transition =
  | { readonly type: 'fired'; readonly priority: Priority; readonly values: Values }
  | { readonly type: 'priority_changed'; readonly priority: Priority; readonly previous: Priority; readonly values: Values }
  | { readonly type: 'cleared'; readonly previous: Priority; readonly values: Values | undefined };

export const inactiveState = (now: number): AlertState => ({
  status: 'inactive', priority: undefined, since: now, firedAt: undefined, lowerSince: undefined, lowerTo: undefined, values: undefined,
});

/**
 * The alert state machine (pure; time is an argument): inactive → pending (`for` running) → firing → clearing
 * (`clear_for` running) → inactive. A firing alert rises in priority at once and falls only after the lower level
 * has held for `clear_for`; it clears only after no level has held for `clear_for` (hysteresis).
 */
export function step(s: AlertState, o: Observation, now: number, forMs: number, clearForMs: number): Transition | undefined {
  switch (s.status) {
    case 'inactive':
    case 'pending':
      if (o.kind !== 'breach') {
        if (s.status === 'pending') Object.assign(s, inactiveState(now));
        return undefined;
      }
      if (s.status === 'inactive') Object.assign(s, { status: 'pending', since: now });
      s.priority = o.priority;
      s.values = o.values;
      if (now - s.since < forMs) return undefined;
      Object.assign(s, { status: 'firing', since: now, firedAt: now, lowerSince: undefined, lowerTo: undefined });
      return { type: 'fired', priority: o.priority, values: o.values };
    case 'firing':
    case 'clearing': {
      if (o.kind === 'breach') {
        if (s.status === 'clearing') Object.assign(s, { status: 'firing', since: now });
        s.values = o.values;
        return changePriority(s, o.priority, o.values, now, clearForMs);
      }
      if (o.kind === 'insufficient' && s.status === 'firing') return undefined;
      if (o.kind !== 'nodata') s.values = o.values;
      if (s.status === 'firing') Object.assign(s, { status: 'clearing', since: now, lowerSince: undefined, lowerTo: undefined });
      if (now - s.since < clearForMs) return undefined;
      const previous = s.priority!;
      const values = o.kind === 'nodata' ? undefined : o.values;
      Object.assign(s, inactiveState(now));
      return { type: 'cleared', previous, values };
    }
  }
}

function changePriority(s: AlertState, p: Priority, values: Values, now: number, clearForMs: number): Transition | undefined {
  const previous = s.priority!;
  if (rank(p) < rank(previous)) {
    Object.assign(s, { priority: p, lowerSince: undefined, lowerTo: undefined });
    return { type: 'priority_changed', priority: p, previous, values };
  }
  if (p === previous) {
    Object.assign(s, { lowerSince: undefined, lowerTo: undefined });
    return undefined;
  }
  if (s.lowerSince === undefined) Object.assign(s, { lowerSince: now, lowerTo: p });
  else if (rank(p) < rank(s.lowerTo!)) s.lowerTo = p;
  if (now - s.lowerSince! < clearForMs) return undefined;
  const to = s.lowerTo!;
  Object.assign(s, { priority: to, lowerSince: undefined, lowerTo: undefined });
  return { type: 'priority_changed', priority: to, previous, values };
}

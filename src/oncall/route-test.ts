import type { Priority } from '../shared/priority.js';
import { formatDuration } from '../util/units.js';
import { type EscalationPolicy, type OnCallConfig, type Route, routeFor } from './config.js';
import { type EscalationStep, escalationSteps, recipients } from './escalation.js';
import { onCallAt } from './schedule.js';

/**
 * `qoswatch oncall test`: what paging would do for an incident with these labels opened at an instant — the route
 * and policy routing picks, and per escalation step whom it pages and when — from the same functions paging uses
 * (routeFor, escalationSteps, recipients). Pure: the instant is an argument.
 */

export interface Incident {
  readonly tenant: string;
  readonly region?: string;
  readonly priority: Priority;
}

export interface PagedPerson {
  readonly id: string;
  /** The schedule targets that resolved to this person, with the layer (or "override") that put them on call. */
  readonly via: readonly { schedule: string; source: string }[];
  /** Where they are paged, in order ("email" or channel ids). */
  readonly notify: readonly string[];
}

export interface PlannedStep extends EscalationStep {
  readonly people: readonly PagedPerson[];
  readonly channels: readonly string[];
  /** Schedule targets with nobody on call at the step's start. */
  readonly uncovered: readonly string[];
}

export interface PagingPlan {
  /** Index of the route in `routing` that matched; undefined when the default policy (or none) applies. */
  readonly route: number | undefined;
  readonly policy: EscalationPolicy | undefined;
  readonly steps: readonly PlannedStep[];
}

export function pagingPlan(config: OnCallConfig, incident: Incident, openedAt: number): PagingPlan {
  const { route, policy } = routeFor(config, incident);
  if (!policy) return { route, policy, steps: [] };
  const schedule = (id: string) => config.schedules.get(id)!;
  const steps = escalationSteps(policy, incident.priority, openedAt).map((step): PlannedStep => {
    const paged = recipients(step, schedule);
    const scheduleTargets = step.targets.flatMap((t) => ('schedule' in t ? [t.schedule] : []));
    const onCall = scheduleTargets.map((id) => ({ schedule: id, who: onCallAt(schedule(id), step.startsAt) }));
    return {
      ...step,
      people: paged.people.map((id) => ({
        id,
        via: onCall.flatMap((o) => (o.who?.person === id ? [{ schedule: o.schedule, source: o.who.source }] : [])),
        notify: config.notify.get(id) ?? [],
      })),
      channels: paged.channels,
      uncovered: onCall.filter((o) => !o.who).map((o) => o.schedule),
    };
  });
  return { route, policy, steps };
}

/** The plan as `qoswatch oncall test` prints it. */
export function formatPagingPlan(config: OnCallConfig, incident: Incident, openedAt: number, plan: PagingPlan): string {
  const what = `a ${incident.priority} incident of tenant ${incident.tenant}${incident.region ? `, region ${incident.region}` : ''} opened at ${new Date(openedAt).toISOString()}`;
  if (incident.priority === 'P3') return `${what}: P3 never pages\n`;
  const policy = plan.policy;
  if (!policy) return `${what}: no route matches and there is no default_policy: nobody is paged\n`;
  const lines = [`${what}:`];
  const rounds = policy.repeat ? `, run ${policy.repeat + 1} times` : '';
  const chosen = plan.route === undefined ? 'no route matches: default_policy' : `routing[${plan.route}] (${matchText(config.routing[plan.route]!)}) matches: escalation policy`;
  lines.push(`  ${chosen} "${policy.id}" (${policy.levels.length} level(s)${rounds})`);
  for (const s of plan.steps) {
    const who = [
      ...s.people.map((p) => {
        const person = config.people.get(p.id);
        const via = p.via.map((v) => `schedule ${v.schedule} via ${v.source}`).join(', ');
        return `${p.id} (${[person?.name, via].filter(Boolean).join('; ')}) on ${p.notify.join(', ') || 'NO CHANNEL'}`;
      }),
      ...s.channels.map((c) => `channel ${c}`),
      ...s.uncovered.map((id) => `schedule ${id}: NOBODY on call`),
    ];
    const label = `level ${s.level + 1}${s.round ? `, repeat ${s.round}` : ''}`;
    const after = s.startsAt - openedAt;
    lines.push(`  +${(after ? formatDuration(after) : '0s').padEnd(6)} ${new Date(s.startsAt).toISOString()}  ${label}: ${who.join('; ')}`);
  }
  return `${lines.join('\n')}\n`;
}

function matchText(r: Route): string {
  const parts = [r.tenant && `tenant ${r.tenant.join(', ')}`, r.region && `region ${r.region.join(', ')}`, r.priority && `priority ${r.priority.join(', ')}`].filter(Boolean);
  return parts.length ? parts.join('; ') : 'matches everything';
}

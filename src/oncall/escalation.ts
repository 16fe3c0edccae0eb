import type { Priority } from '../shared/priority.js';
import { type EscalationPolicy, type Target, ackTimeout } from './config.js';
import { type Schedule, onCallAt } from './schedule.js';

/** One step of an escalation: a level of a policy in one of its rounds (round 0, then each repeat). */
export interface EscalationStep {
  /** 0, 1, 2… across rounds: the first step is the initial page, later ones are escalations. */
  readonly index: number;
  readonly round: number;
  readonly level: number;
  readonly startsAt: number;
  readonly targets: readonly Target[];
}

/**
 * The steps of a policy for an incident opened at `openedAt` (pure): each level starts when the previous one's ack
 * timeout has run out, and the whole policy runs `repeat` more times. P3 never pages.
 */
export function escalationSteps(policy: EscalationPolicy, priority: Priority, openedAt: number): EscalationStep[] {
  if (priority === 'P3') return [];
  const steps: EscalationStep[] = [];
  let at = openedAt;
  for (let round = 0; round <= policy.repeat; round++) {
    policy.levels.forEach((level, i) => {
      steps.push({ index: steps.length, round, level: i, startsAt: at, targets: level.targets });
      at += ackTimeout(level, priority);
    });
  }
  return steps;
}

/** Steps that have started by `now` (the caller pages those it has not paged yet, by step index). */
export function dueSteps(policy: EscalationPolicy, priority: Priority, openedAt: number, now: number): EscalationStep[] {
  return escalationSteps(policy, priority, openedAt).filter((s) => s.startsAt <= now);
}

/** When the next step starts after `now`, if any (for the escalation timer). */
export function nextStepAt(policy: EscalationPolicy, priority: Priority, openedAt: number, now: number): number | undefined {
  return escalationSteps(policy, priority, openedAt).find((s) => s.startsAt > now)?.startsAt;
}

/**
 * Who a step pages: each person target, whoever is on call in each schedule target at the step's start, and each
 * team channel. Duplicates collapse; a schedule with nobody on call contributes nobody (validation keeps P0/P1
 * schedules covered).
 */
export function recipients(step: EscalationStep, schedule: (id: string) => Schedule): { people: string[]; channels: string[] } {
  const people = new Set<string>();
  const channels = new Set<string>();
  for (const t of step.targets) {
    if ('person' in t) people.add(t.person);
    else if ('channel' in t) channels.add(t.channel);
    else {
      const who = onCallAt(schedule(t.schedule), step.startsAt);
      if (who) people.add(who.person);
    }
  }
  return { people: [...people], channels: [...channels] };
}

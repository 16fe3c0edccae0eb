import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../config/env.js';
import { formatPath } from '../shared/field-path.js';
import { PRIORITIES, type Priority } from '../shared/priority.js';
import { EMAIL } from '../shared/paging.js';
import { WEEKDAYS, hhmmSchema, zoneSchema } from '../shared/time-of-day.js';
import { durationSchema, formatDuration } from '../util/units.js';
import { readYaml } from '../util/yaml.js';
import { PROVIDER_IDS, PROVIDERS, type ProviderId } from '../notify/registry.js';
import { type Layer, type Override, type Schedule, gaps } from './schedule.js';

const id = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'use 1-63 characters: a-z, 0-9, _, . or -');
const instant = z.union([z.iso.datetime({ offset: true }), z.date()]).transform((v) => (typeof v === 'string' ? Date.parse(v) : v.getTime()));
const DAY = 86_400_000;

const personSchema = z.strictObject({
  id,
  name: z.string().min(1).max(200),
  email: z.email().optional(),
  timezone: zoneSchema.default('UTC'),
  /** Handles per chat provider (slack, feishu, dingtalk, wecom, teams, webhook): how a page mentions them. */
  chat: z.partialRecord(z.enum(PROVIDER_IDS), z.string().min(1).max(200)).default({}),
  /** Where this person is paged, in order: "email" and/or channel ids (default: channels of providers they have a handle on, then email). */
  notify: z.array(id).min(1).optional(),
});

/** A chat endpoint (a group robot, a webhook); the rest of its fields are the provider's own config. */
const channelSchema = z.looseObject({ id, provider: z.enum(PROVIDER_IDS) });

const layerSchema = z
  .strictObject({
    id,
    timezone: zoneSchema,
    rotation: z.enum(['daily', 'weekly', 'custom']),
    length: durationSchema(3_600_000, 90 * DAY).optional().describe('custom rotations: e.g. 12h or 3d'),
    handoff: hhmmSchema,
    start: z.iso.date().describe('local date of the first handoff; weekly rotations hand off on its weekday'),
    members: z.array(id).min(1),
    restrictions: z.array(z.strictObject({ from: hhmmSchema, to: hhmmSchema, days: z.array(z.enum(WEEKDAYS)).min(1).default([...WEEKDAYS]) })).default([]),
  })
  .refine((l) => (l.rotation === 'custom') === (l.length !== undefined), { message: 'give length for a custom rotation, and only then', path: ['length'] });

const scheduleSchema = z.strictObject({
  id,
  description: z.string().max(500).optional(),
  layers: z.array(layerSchema).min(1),
  overrides: z.array(z.strictObject({ person: id, start: instant, end: instant })).default([]),
});

const targetSchema = z.union([z.strictObject({ schedule: id }), z.strictObject({ person: id }), z.strictObject({ channel: id })]);

const policySchema = z.strictObject({
  id,
  levels: z
    .array(z.strictObject({ targets: z.array(targetSchema).min(1), ack_timeout: durationSchema(60_000, DAY).optional() }))
    .min(1),
  repeat: z.number().int().min(0).max(20).default(0).describe('times the whole policy runs again after its last level'),
});

const oneOrMany = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).transform((v) => (Array.isArray(v) ? v : [v]));

const routeSchema = z.strictObject({
  policy: id,
  match: z.strictObject({ tenant: oneOrMany.optional(), region: oneOrMany.optional(), priority: z.union([z.enum(PRIORITIES), z.array(z.enum(PRIORITIES)).min(1)]).transform((v) => (Array.isArray(v) ? v : [v])).optional() }).default({}),
});

export const onCallFileSchema = z.strictObject({
  people: z.array(personSchema).default([]),
  channels: z.array(channelSchema).default([]),
  schedules: z.array(scheduleSchema).default([]),
  escalation_policies: z.array(policySchema).default([]),
  routing: z.array(routeSchema).default([]),
  default_policy: id.optional(),
});

export type Person = z.output<typeof personSchema>;
export type Target = z.output<typeof targetSchema>;
export type PolicyInput = z.output<typeof policySchema>;

/** Ack timeouts by priority when a level gives none (issue 4); P3 never pages. */
export const DEFAULT_ACK_TIMEOUT: Record<Exclude<Priority, 'P3'>, number> = { P0: 300_000, P1: 900_000, P2: 1_800_000 };

export interface EscalationLevel {
  readonly targets: readonly Target[];
  readonly ackTimeoutMs: number | undefined;
}

export interface EscalationPolicy {
  readonly id: string;
  readonly levels: readonly EscalationLevel[];
  readonly repeat: number;
}

export interface Route {
  readonly policy: string;
  readonly tenant?: readonly string[];
  readonly region?: readonly string[];
  readonly priority?: readonly Priority[];
}

/** A configured chat endpoint with its provider's validated config (secrets from the environment already in). */
export interface Channel {
  readonly id: string;
  readonly provider: ProviderId;
  readonly config: unknown;
}

export interface OnCallConfig {
  readonly people: ReadonlyMap<string, Person>;
  readonly channels: ReadonlyMap<string, Channel>;
  /** Each person's channels in paging order ("email" or channel ids). */
  readonly notify: ReadonlyMap<string, readonly string[]>;
  readonly schedules: ReadonlyMap<string, Schedule>;
  readonly policies: ReadonlyMap<string, EscalationPolicy>;
  readonly routing: readonly Route[];
  readonly defaultPolicy: string | undefined;
}

export const EMPTY_ONCALL: OnCallConfig = { people: new Map(), channels: new Map(), notify: new Map(), schedules: new Map(), policies: new Map(), routing: [], defaultPolicy: undefined };

/** How far ahead a schedule must be covered when P0/P1 pages depend on it. */
export const COVERAGE_HORIZON_MS = 28 * DAY;

/** Parses and checks an on-call file; `now` anchors the coverage check (gaps in the next 28 days). */
export function parseOnCall(text: string, source: string, now: number, env: NodeJS.ProcessEnv = process.env): OnCallConfig {
  const doc = readYaml(text);
  if (!doc.ok) throw new ConfigError(`${source}${doc.line === undefined ? '' : `:${doc.line}`}: ${doc.message}`);
  const parsed = onCallFileSchema.safeParse(doc.value ?? {});
  if (!parsed.success) {
    throw new ConfigError(`${source} is invalid:\n${parsed.error.issues.map((i) => `  ${formatPath(i.path) || '(top level)'}: ${i.code === 'unrecognized_keys' ? `unknown field ${i.keys.join(', ')}` : i.message}`).join('\n')}`);
  }
  const f = parsed.data;
  const problems: string[] = [];
  const unique = (what: string, ids: string[]) => {
    const seen = new Set<string>();
    for (const x of ids) (seen.has(x) ? problems.push(`${what}: duplicate id "${x}"`) : seen.add(x));
  };
  unique('people', f.people.map((p) => p.id));
  unique('schedules', f.schedules.map((s) => s.id));
  unique('escalation_policies', f.escalation_policies.map((p) => p.id));
  unique('channels', f.channels.map((c) => c.id));
  if (f.channels.some((c) => c.id === EMAIL)) problems.push(`channels: "${EMAIL}" is reserved for email`);
  const people = new Map(f.people.map((p) => [p.id, p]));
  const channels = new Map<string, Channel>();
  for (const c of f.channels) {
    const { id: cid, provider, ...rest } = c;
    const expanded = expandEnv(rest, env, (name) => problems.push(`channels[${cid}]: environment variable ${name} is not set`));
    const parsed = PROVIDERS[provider].configSchema.safeParse(expanded);
    if (!parsed.success) for (const i of parsed.error.issues) problems.push(`channels[${cid}].${formatPath(i.path) || '(config)'}: ${i.code === 'unrecognized_keys' ? `unknown field ${i.keys.join(', ')}` : i.message}`);
    else channels.set(cid, { id: cid, provider, config: parsed.data });
  }
  const notify = new Map<string, string[]>();
  for (const p of f.people) {
    const list = p.notify ?? [...f.channels.filter((c) => p.chat[c.provider] !== undefined).map((c) => c.id), ...(p.email ? [EMAIL] : [])];
    list.forEach((ch, i) => {
      if (ch === EMAIL) {
        if (!p.email) problems.push(`people[${p.id}].notify[${i}]: "email" needs the person's email`);
      } else if (!f.channels.some((c) => c.id === ch)) problems.push(`people[${p.id}].notify[${i}]: unknown channel "${ch}"`);
    });
    notify.set(p.id, list);
  }
  const person = (path: string, pid: string) => people.has(pid) || problems.push(`${path}: unknown person "${pid}"`);

  const schedules = new Map<string, Schedule>();
  f.schedules.forEach((s, si) => {
    unique(`schedules[${s.id}].layers`, s.layers.map((l) => l.id));
    const layers: Layer[] = s.layers.map((l, li) => {
      l.members.forEach((m, mi) => person(`schedules[${s.id}].layers[${li}].members[${mi}]`, m));
      const lengthMs = l.rotation === 'daily' ? DAY : l.rotation === 'weekly' ? 7 * DAY : l.length!;
      return { id: l.id, rotation: { timezone: l.timezone, start: l.start, handoff: l.handoff, lengthMs, members: l.members }, restrictions: l.restrictions };
    });
    const overrides: Override[] = s.overrides.map((o, oi) => {
      person(`schedules[${s.id}].overrides[${oi}].person`, o.person);
      if (o.end <= o.start) problems.push(`schedules[${s.id}].overrides[${oi}]: end must be after start`);
      return { id: `config-${si}-${oi}`, person: o.person, start: o.start, end: o.end };
    });
    schedules.set(s.id, { id: s.id, layers, overrides });
  });

  const policies = new Map<string, EscalationPolicy>();
  for (const p of f.escalation_policies) {
    p.levels.forEach((l, li) =>
      l.targets.forEach((t, ti) => {
        const path = `escalation_policies[${p.id}].levels[${li}].targets[${ti}]`;
        if ('person' in t) person(path, t.person);
        else if ('channel' in t) (channels.has(t.channel) || f.channels.some((c) => c.id === t.channel) || problems.push(`${path}: unknown channel "${t.channel}"`));
        else if (!schedules.has(t.schedule)) problems.push(`${path}: unknown schedule "${t.schedule}"`);
      }),
    );
    policies.set(p.id, { id: p.id, repeat: p.repeat, levels: p.levels.map((l) => ({ targets: l.targets, ackTimeoutMs: l.ack_timeout })) });
  }
  const policy = (path: string, pid: string) => policies.has(pid) || problems.push(`${path}: unknown escalation policy "${pid}"`);
  f.routing.forEach((r, ri) => policy(`routing[${ri}].policy`, r.policy));
  if (f.default_policy) policy('default_policy', f.default_policy);

  const config: OnCallConfig = {
    people,
    channels,
    notify,
    schedules,
    policies,
    routing: f.routing.map((r) => ({ policy: r.policy, ...r.match })),
    defaultPolicy: f.default_policy,
  };
  if (problems.length === 0) problems.push(...coverageProblems(config, now));
  if (problems.length) throw new ConfigError(`${source} is invalid:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  return config;
}

/** Policies that P0 or P1 incidents can reach: routes for those priorities (or any) and the default. */
function urgentPolicies(c: OnCallConfig): Set<string> {
  const urgent = new Set<string>();
  for (const r of c.routing) if (!r.priority || r.priority.some((p) => p === 'P0' || p === 'P1')) urgent.add(r.policy);
  if (c.defaultPolicy) urgent.add(c.defaultPolicy);
  return urgent;
}

/**
 * People that P0/P1 escalations can page (targets, and members of target schedules) who have no channel at all
 * (no email, no chat handle on a configured channel): they would be paged into the void. Reported as warnings.
 */
export function unreachablePeople(c: OnCallConfig): string[] {
  const people = new Set<string>();
  for (const pid of urgentPolicies(c)) {
    for (const level of c.policies.get(pid)?.levels ?? []) {
      for (const t of level.targets) {
        if ('person' in t) people.add(t.person);
        else if ('schedule' in t) for (const l of c.schedules.get(t.schedule)?.layers ?? []) for (const m of l.rotation.members) people.add(m);
      }
    }
  }
  return [...people].filter((p) => (c.notify.get(p) ?? []).length === 0).sort();
}

/** Schedules that P0 or P1 pages can reach must have someone on call at every instant of the next 28 days. */
export function coverageProblems(c: OnCallConfig, now: number): string[] {
  const urgent = urgentPolicies(c);
  const checked = new Set<string>();
  const out: string[] = [];
  for (const pid of urgent) {
    for (const level of c.policies.get(pid)?.levels ?? []) {
      for (const t of level.targets) {
        if (!('schedule' in t) || checked.has(t.schedule)) continue;
        checked.add(t.schedule);
        const g = gaps(c.schedules.get(t.schedule)!, now, now + COVERAGE_HORIZON_MS)[0];
        if (g) {
          out.push(
            `schedules[${t.schedule}]: nobody is on call from ${new Date(g.start).toISOString()} to ${new Date(g.end).toISOString()} ` +
              `(${formatDuration(g.end - g.start)}), and escalation policy "${pid}" pages it for P0/P1`,
          );
        }
      }
    }
  }
  return out;
}

export function loadOnCall(path: string, now: number): OnCallConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`QOSWATCH_ONCALL: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parseOnCall(text, path, now);
}

/** The escalation policy for an incident: the first route that matches, else the default; P3 never pages. */
export function policyFor(c: OnCallConfig, incident: { tenant: string; region?: string; priority: Priority }): EscalationPolicy | undefined {
  return routeFor(c, incident).policy;
}

/** How policyFor decides: the index of the route that matched (undefined: the default policy, if any) and the policy. */
export function routeFor(c: OnCallConfig, incident: { tenant: string; region?: string; priority: Priority }): { route: number | undefined; policy: EscalationPolicy | undefined } {
  if (incident.priority === 'P3') return { route: undefined, policy: undefined };
  const route = c.routing.findIndex(
    (r) =>
      (!r.tenant || r.tenant.includes(incident.tenant)) &&
      (!r.region || (incident.region !== undefined && r.region.includes(incident.region))) &&
      (!r.priority || r.priority.includes(incident.priority)),
  );
  const pid = route >= 0 ? c.routing[route]!.policy : c.defaultPolicy;
  return { route: route >= 0 ? route : undefined, policy: pid === undefined ? undefined : c.policies.get(pid) };
}

/** A level's ack timeout: its own, else the priority's default. */
export function ackTimeout(level: EscalationLevel, priority: Exclude<Priority, 'P3'>): number {
  return level.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT[priority];
}

/** Replaces "${NAME}" in every string of a channel's config with the environment variable (webhook tokens stay out of the file). */
function expandEnv(value: unknown, env: NodeJS.ProcessEnv, missing: (name: string) => void): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Z_][A-Z0-9_]*)\}/g, (_m, name: string) => {
      const v = env[name];
      if (v === undefined) missing(name);
      return v ?? '';
    });
  }
  if (Array.isArray(value)) return value.map((v) => expandEnv(v, env, missing));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandEnv(v, env, missing)]));
  return value;
}

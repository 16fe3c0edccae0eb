import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { EventBus } from '../incidents/bus.js';
import type { Incidents } from '../incidents/incidents.js';
import type { ExternalAlertEvent, ExternalRule, IncidentEvent } from '../incidents/model.js';
import type { Values } from '../rules/alert-state.js';
import { AppError, badRequest, conflict, describeZodError, notFound } from '../shared/http-errors.js';
import type { Labels } from '../shared/labels.js';
import type { SourceRecord } from '../storage/state/sources.js';
import type { StateStore } from '../storage/state/store.js';
import { type HeartbeatConfig, deadlineMs } from './kinds/heartbeat/index.js';
import { type IncomingAlert, type Mapping, mapAlert, mappingSchema } from './model.js';
import { KINDS, SOURCE_KINDS, type SourceKindId } from './registry.js';

/** Source names: like rule ids (they stand for the rule of the source's alerts, `source:<name>`, in silences). */
export const SOURCE_NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

export const createSourceSchema = z.strictObject({
  name: z.string().regex(SOURCE_NAME, 'use 1-63 characters: a-z, 0-9, _, . or -'),
  kind: z.enum(SOURCE_KINDS),
  mapping: mappingSchema.default(mappingSchema.parse({})),
  settings: z.record(z.string(), z.unknown()).default({}).describe("the kind's own settings: a webhook's field paths, a heartbeat's period"),
});
export const updateSourceSchema = z.strictObject({
  mapping: mappingSchema.optional(),
  settings: z.record(z.string(), z.unknown()).optional(),
});

/** What a source keeps: the common mapping and its kind's settings. */
interface Stored {
  mapping: Mapping;
  settings: Record<string, unknown>;
}

export interface Source {
  readonly id: string;
  readonly name: string;
  readonly kind: SourceKindId;
  readonly mapping: Mapping;
  readonly settings: Record<string, unknown>;
  readonly createdBy: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly seenAt: number | undefined;
  /** For the source's own use: its secret's hash (never shown). */
  readonly sha256: string;
}

export interface Outcome {
  /** Alerts taken (a repeat of a firing alert included). */
  readonly accepted: number;
  readonly rejected: readonly { fingerprint: string; error: string }[];
  /** Incidents the alerts changed or acknowledged. */
  readonly incidents: readonly number[];
}

export interface SourcesDeps {
  state: Pick<StateStore, 'sources' | 'incidents' | 'tx'>;
  incidents: Incidents;
  tenants: { get(id: string): unknown; readonly defaultId: string };
  bus: EventBus<IncidentEvent>;
  /** Counts alerts by kind and outcome. */
  count(kind: SourceKindId, outcome: SourceOutcome): void;
}

export const SOURCE_OUTCOMES = ['fired', 'priority_changed', 'cleared', 'acknowledged', 'unchanged', 'rejected'] as const;
export type SourceOutcome = (typeof SOURCE_OUTCOMES)[number];
/** Why a request to a source's endpoint was refused: no or a wrong secret, a payload it cannot read, too many. */
export const SOURCE_REFUSALS = ['unauthorized', 'invalid', 'rate_limited'] as const;

/** Secrets: 32 hex characters — the length of a PagerDuty integration key, which Events v2 clients may check. */
const newSecret = () => randomBytes(16).toString('hex');
export const secretHash = (secret: string) => createHash('sha256').update(secret).digest('hex');

/** The rule that stands for a source's alerts on incidents, in silences and in pages. */
export const ruleOf = (name: string): ExternalRule => ({ kind: 'external', id: `source:${name}` });

const HEARTBEAT_KEY = 'heartbeat';

/**
 * Alert sources: Alertmanager, Grafana, PagerDuty Events v2 clients, generic webhooks and heartbeats, each with its
 * own secret. Their alerts become alerts on incidents exactly like the rules' (grouping, silences, paging, tickets),
 * deduplicated by fingerprint: the incident's alert rows are the state (a firing fingerprint is firing there).
 */
export class Sources {
  constructor(private readonly deps: SourcesDeps) {}

  async create(input: z.output<typeof createSourceSchema>, actor: string, now: number): Promise<{ source: Source; secret: string }> {
    const settings = this.settingsOf(input.kind, input.settings);
    if (await this.deps.state.sources.byName(input.name)) throw conflict(`there is already a source named ${input.name}`);
    this.checkTenants(input.mapping);
    const secret = newSecret();
    const id = randomBytes(6).toString('hex');
    const stored: Stored = { mapping: input.mapping, settings };
    await this.deps.state.sources.insert({ id, name: input.name, kind: input.kind, config: stored, sha256: secretHash(secret), createdBy: actor, createdAt: now });
    return { source: (await this.get(id))!, secret };
  }

  async list(): Promise<Source[]> {
    return (await this.deps.state.sources.list()).map(toSource);
  }

  async get(id: string): Promise<Source | undefined> {
    const r = await this.deps.state.sources.get(id);
    return r && toSource(r);
  }

  async require(id: string): Promise<Source> {
    const s = await this.get(id);
    if (!s) throw notFound(`no source ${id}`);
    return s;
  }

  async update(id: string, changes: z.output<typeof updateSourceSchema>, now: number): Promise<Source> {
    const s = await this.require(id);
    const stored: Stored = { mapping: changes.mapping ?? s.mapping, settings: changes.settings ? this.settingsOf(s.kind, changes.settings) : s.settings };
    this.checkTenants(stored.mapping);
    await this.deps.state.sources.update(id, { config: stored }, now);
    return (await this.get(id))!;
  }

  /** A new secret; the old one stops working at once. */
  async rotate(id: string, now: number): Promise<string> {
    await this.require(id);
    const secret = newSecret();
    await this.deps.state.sources.update(id, { sha256: secretHash(secret) }, now);
    return secret;
  }

  /** Deletes a source; its firing alerts clear (their incidents mitigate when nothing else fires). */
  async remove(id: string, now: number): Promise<Source> {
    const s = await this.require(id);
    const rule = ruleOf(s.name);
    const published = await this.deps.state.tx(async (t) => {
      const events: ExternalAlertEvent[] = (await t.incidents.firingOf(rule.id)).map((a) => ({
        type: 'cleared', previous: a.priority, values: a.trigger as Values | undefined, rule, key: a.group_key, labels: a.labels, at: now,
      }));
      await t.sources.remove(id, now);
      return this.deps.incidents.applyAlertEvents(events, t);
    });
    for (const e of published) this.deps.bus.emit(e);
    return s;
  }

  /** The source a secret belongs to. */
  async bySecret(secret: string): Promise<Source | undefined> {
    const r = await this.deps.state.sources.bySecret(secretHash(secret));
    return r && toSource(r);
  }

  /** Parses a payload of the source's kind: a 400 names the field. */
  parse(s: Source, body: unknown): IncomingAlert[] {
    const kind = KINDS[s.kind];
    if (!kind.payload || !kind.parse) throw badRequest(`source ${s.name} is a ${s.kind}: it takes pings, not alerts`);
    const r = kind.payload.safeParse(body);
    if (!r.success) throw badRequest(describeZodError(r.error));
    try {
      return kind.parse(r.data, kind.config.parse(s.settings));
    } catch (err) {
      throw badRequest(err instanceof Error ? err.message : String(err));
    }
  }

  /**
   * Applies a source's alerts in one transaction: a trigger fires (or changes the priority of) its fingerprint's
   * alert, a resolve clears it, an acknowledge acknowledges its incident. Repeats change nothing. Alerts whose tenant
   * is unknown, or beyond the source's `max_firing`, are refused one by one.
   */
  async apply(s: Source, alerts: readonly IncomingAlert[], now: number): Promise<Outcome> {
    const rule = ruleOf(s.name);
    // The last word on a fingerprint within one payload is the one that counts.
    const latest = new Map(alerts.map((a) => [a.fingerprint, a]));
    const rejected: { fingerprint: string; error: string }[] = [];
    const outcomes: SourceOutcome[] = [];
    const acks = new Set<number>();
    const published = await this.deps.state.tx(async (t) => {
      const events: ExternalAlertEvent[] = [];
      let firing = (await t.incidents.firingOf(rule.id)).length;
      for (const a of latest.values()) {
        const m = mapAlert(a, s.mapping, this.deps.tenants.defaultId);
        const problem = !this.deps.tenants.get(m.tenant) ? `tenant "${m.tenant}" is not a tenant here` : m.region !== undefined && m.region.length > 100 ? 'the region is longer than 100 characters' : undefined;
        if (problem) {
          rejected.push({ fingerprint: a.fingerprint, error: problem });
          outcomes.push('rejected');
          continue;
        }
        const labels: Labels = { tenant: m.tenant, ...(m.region !== undefined && { region: m.region }) };
        const values: Values = {
          metric: 'external', value: 1,
          external: { source: s.name, kind: s.kind, summary: a.summary, labels: a.labels, severity: a.severity, url: a.url, runbook: a.runbook },
        };
        const current = (await t.incidents.firingOf(rule.id, a.fingerprint))[0];
        const base = { rule, key: a.fingerprint, labels, at: now };
        if (a.action === 'acknowledge') {
          if (current) acks.add(current.incident_id);
          outcomes.push(current ? 'acknowledged' : 'unchanged');
        } else if (a.action === 'resolve') {
          if (current) events.push({ ...base, type: 'cleared', previous: current.priority, values });
          outcomes.push(current ? 'cleared' : 'unchanged');
        } else if (!current) {
          if (firing >= s.mapping.max_firing) {
            rejected.push({ fingerprint: a.fingerprint, error: `source ${s.name} has ${s.mapping.max_firing} alerts firing already (mapping.max_firing)` });
            outcomes.push('rejected');
            continue;
          }
          firing++;
          events.push({ ...base, type: 'fired', priority: m.priority, values });
          outcomes.push('fired');
        } else if (current.priority !== m.priority) {
          events.push({ ...base, type: 'priority_changed', priority: m.priority, previous: current.priority, values });
          outcomes.push('priority_changed');
        } else outcomes.push('unchanged');
      }
      await t.sources.seen(s.id, now);
      return this.deps.incidents.applyAlertEvents(events, t);
    });
    for (const id of acks) {
      // An incident acknowledged already (or mitigated since) stays as it is.
      const e = await this.deps.incidents.act(id, 'ack', rule.id, undefined, now).catch((err: unknown) => {
        if (err instanceof AppError && err.status === 409) return undefined;
        throw err;
      });
      if (e) published.push(e);
    }
    for (const e of published) this.deps.bus.emit(e);
    for (const o of outcomes) this.deps.count(s.kind, o);
    const incidents = [...new Set([...published.map((e) => e.incident.id), ...acks])].sort((a, b) => a - b);
    return { accepted: latest.size - rejected.length, rejected, incidents };
  }

  /** A heartbeat's ping: noted, and its alert (if firing) clears. */
  async ping(s: Source, now: number): Promise<Outcome> {
    if (s.kind !== 'heartbeat') throw badRequest(`source ${s.name} is a ${s.kind}: post its alerts to /v1/sources/${s.id}/alerts`);
    return this.apply(s, [{ fingerprint: HEARTBEAT_KEY, action: 'resolve', labels: {}, summary: this.heartbeatSummary(s) }], now);
  }

  /**
   * Fires the alert of every heartbeat whose last ping (or `since`, the watch's start: qoswatch's own downtime is not
   * the job's) is older than its period and grace. Firing ones are left as they are.
   */
  async checkHeartbeats(now: number, since: number): Promise<void> {
    for (const s of (await this.list()).filter((x) => x.kind === 'heartbeat')) {
      const c = s.settings as HeartbeatConfig;
      const last = Math.max(s.seenAt ?? s.createdAt, s.updatedAt, since);
      if (now - last <= deadlineMs(c)) continue;
      const firing = await this.deps.state.incidents.firingOf(ruleOf(s.name).id, HEARTBEAT_KEY);
      if (firing.length) continue;
      const summary = `${this.heartbeatSummary(s)}: none since ${new Date(last).toISOString()} (expected every ${c.period}, ${c.grace} grace)`;
      await this.apply(s, [{ fingerprint: HEARTBEAT_KEY, action: 'trigger', labels: {}, summary }], now);
    }
  }

  private heartbeatSummary(s: Source): string {
    return (s.settings as HeartbeatConfig).summary ?? `no heartbeat from ${s.name}`;
  }

  /** A kind's settings, checked; a 400 names the field. */
  private settingsOf(kind: SourceKindId, settings: Record<string, unknown>): Record<string, unknown> {
    const r = KINDS[kind].config.safeParse(settings);
    if (!r.success) throw badRequest(describeZodError(r.error, 'settings'));
    return r.data as Record<string, unknown>;
  }

  private checkTenants(m: Mapping): void {
    for (const t of [m.tenant, ...m.routes.map((r) => r.tenant)]) if (t !== undefined && !this.deps.tenants.get(t)) throw badRequest(`mapping: tenant "${t}" is not a tenant here`);
  }
}

const toSource = (r: SourceRecord): Source => {
  const c = r.config as Stored;
  return { id: r.id, name: r.name, kind: r.kind as SourceKindId, mapping: mappingSchema.parse(c.mapping), settings: c.settings, createdBy: r.createdBy, createdAt: r.createdAt, updatedAt: r.updatedAt, seenAt: r.seenAt, sha256: r.sha256 };
};

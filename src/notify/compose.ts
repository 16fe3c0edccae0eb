import type { Incidents } from '../incidents/incidents.js';
import { INCIDENT_STATES, type Incident, type IncidentAlert, type IncidentEvent } from '../incidents/model.js';
import { EMAIL } from '../shared/paging.js';
import type { OnCallService } from '../oncall/oncall.js';
import { rank } from '../shared/priority.js';
import type { PageKind } from '../shared/paging.js';
import type { PageMessage, StormIncident } from './channel.js';
import { type LinkClaim, signLink } from './links.js';
import type { OutboxItem } from '../storage/state/outbox.js';
import type { StateStore } from '../storage/state/store.js';
import type { Storm } from '../storage/state/storms.js';
import { stormState, topPriority } from './storms.js';

/** Team channels are recipients too, named "#<channel id>". */
export const TEAM = '#';
/** A plain address (a customer contact), not a person of the on-call file. */
export const MAILTO = 'mailto:';

export interface ComposeDeps {
  incidents: Pick<Incidents, 'alerts' | 'timeline'>;
  oncall: Pick<OnCallService, 'person' | 'config'>;
  /** A rule's runbook, for the page. */
  runbookOf(ruleId: string): string | undefined;
}

export interface LinkOptions {
  /** Base URL of this service as recipients reach it (signed links point here). */
  publicUrl: string;
  linkSecret: string;
  linkTtlMs: number;
}

/** What a page says before it is addressed: its recipient's links, handle and idempotency key come last. */
type Body = Omit<PageMessage, 'ackUrl' | 'resolveUrl' | 'incidentUrl' | 'mention' | 'key'>;

/**
 * A page composed once for an event (its incident's alerts and timeline read once), then addressed to each
 * recipient and channel: only the signed links (they name the recipient), the handle and the key differ.
 */
export class Draft {
  constructor(
    private readonly body: Body,
    private readonly outbox: Pick<OutboxItem, 'incidentId' | 'stormId' | 'priority' | 'tenant'>,
    private readonly linksFor: (recipient: string) => Pick<PageMessage, 'ackUrl' | 'resolveUrl'>,
    private readonly mentionOf: (recipient: string, channel: string) => string | undefined,
  ) {}

  get kind(): PageKind {
    return this.body.kind;
  }

  /** The outbox row of this page for one recipient on one channel; `base` is the key of the step or event. */
  address(recipient: string, channel: string, base: string): OutboxItem {
    const key = `${base}:${recipient}:${channel}`;
    const page: PageMessage = { ...this.body, ...this.linksFor(recipient), incidentUrl: undefined, mention: this.mentionOf(recipient, channel), key };
    return { key, ...this.outbox, kind: this.body.kind, recipient, channel, payload: JSON.stringify(page) };
  }
}

/** What fired, in a page's words: a rule's values, or what an alert source said (its summary and where to look). */
function triggerText(a: IncidentAlert): string {
  const v = a.trigger;
  if (!v) return 'no values';
  if (v.external) return `${v.external.summary}${v.external.url ? ` (${v.external.url})` : ''}`;
  return `${v.metric} ${+v.value.toFixed(4)} (${v.threshold ?? ''}, window ${v.window_ms ?? '-'} ms, ${v.samples ?? '-'} samples, ${v.sessions ?? '-'} sessions)`;
}

/** Where a page's reads go: the state store, or the transaction the page is enqueued in. */
type Reads = Pick<StateStore, 'incidents'>;

/**
 * Renders pages: an incident's (what fired, the values, who acted, the latest timeline entries) and a storm's (its
 * incidents, most urgent first, one link acknowledging every open one).
 */
export class Composer {
  constructor(
    private readonly deps: ComposeDeps,
    private readonly opts: LinkOptions,
  ) {}

  /** An incident's page; `e` is the event it reports (who acted), or a headline of its own (SLA warnings). */
  async incident(t: Reads, inc: Incident, kind: PageKind, now: number, e?: IncidentEvent | string): Promise<Draft> {
    const alerts = await this.deps.incidents.alerts(inc.id, t);
    const firing = alerts.filter((a) => a.firing);
    const lines = (firing.length ? firing : alerts).map((a) => `${a.rule_id}: ${triggerText(a)}`);
    const by = typeof e === 'string' ? [e] : e && kind !== 'priority_changed' ? [`${kind[0]!.toUpperCase()}${kind.slice(1)} by ${e.entry.actor}${e.entry.data?.note ? `: ${String(e.entry.data.note)}` : ''}`] : [];
    const timeline = (await this.deps.incidents.timeline(inc.id, t))
      .filter((t) => !t.kind.startsWith('page_') && t.kind !== 'paged' && t.kind !== 'not_paged')
      .slice(-5)
      .map((t) => `${new Date(t.at).toISOString().slice(11, 19)} ${t.actor} ${t.kind}${typeof t.data?.summary === 'string' ? `: ${t.data.summary}` : ''}`);
    const open = inc.state === 'open' || inc.state === 'acknowledged';
    const body: Body = {
      kind, incidentId: inc.id, priority: inc.priority, tenant: inc.tenant, region: inc.region, state: inc.state,
      title: `${inc.priority} ${inc.region ?? inc.tenant}: ${inc.title}`,
      text: [...by, ...lines].join('\n'),
      runbook: firing.map((a) => this.runbookOf(a)).find((r) => r !== undefined),
      timeline,
    };
    const link = (action: 'ack' | 'resolve', recipient: string) => this.link({ incident: inc.id, reopened: inc.reopened, action, recipient, expires: now + this.opts.linkTtlMs });
    return new Draft(
      body,
      { incidentId: inc.id, priority: inc.priority, tenant: inc.tenant },
      (recipient) => ({ ackUrl: inc.state === 'open' ? link('ack', recipient) : undefined, resolveUrl: open ? link('resolve', recipient) : undefined }),
      (recipient, channel) => this.mention(recipient, channel),
    );
  }

  /** A storm's page: `headlines` first (what changed), then its incidents by state and priority. */
  async storm(t: Reads, storm: Storm, members: readonly Incident[], kind: PageKind, now: number, headlines: readonly string[] = []): Promise<Draft> {
    const active = members.filter((m) => m.state === 'open' || m.state === 'acknowledged');
    const priority = topPriority(active.length ? active : members);
    const order = (m: Incident) => INCIDENT_STATES.indexOf(m.state) * 10 + rank(m.priority);
    const firing = new Map<number, IncidentAlert[]>();
    for (const m of members) firing.set(m.id, (await this.deps.incidents.alerts(m.id, t)).filter((a) => a.firing));
    const listed = [...members].sort((a, b) => order(a) - order(b) || a.id - b.id).map((m) => this.stormIncident(m, firing.get(m.id)!));
    const counts = INCIDENT_STATES.map((s) => [s, members.filter((m) => m.state === s).length] as const).filter(([, n]) => n > 0);
    const anyOpen = members.some((m) => m.state === 'open');
    const body: Body = {
      kind, incidentId: 0, priority, tenant: storm.tenant, region: undefined, state: stormState(members),
      title: `${priority} ${storm.tenant}: storm #${storm.id}, ${members.length} incident${members.length === 1 ? '' : 's'} at once`,
      text: [
        ...headlines,
        `${counts.map(([s, n]) => `${n} ${s}`).join(', ')}.`,
        ...listed.map((i) => `#${i.id} ${i.priority} ${i.state}: ${i.title}${i.regions.length > 1 ? ` — ${i.regions.length} regions: ${i.regions.join(', ')}` : ''}`),
      ].join('\n'),
      runbook: members.flatMap((m) => firing.get(m.id)!).map((a) => this.runbookOf(a)).find((r) => r !== undefined),
      timeline: [],
      storm: { id: storm.id, incidents: listed },
    };
    return new Draft(
      body,
      { incidentId: 0, stormId: storm.id, priority, tenant: storm.tenant },
      (recipient) => ({
        ackUrl: anyOpen ? this.link({ incident: 0, reopened: 0, action: 'ack', recipient, expires: now + this.opts.linkTtlMs, storm: storm.id }) : undefined,
        resolveUrl: undefined,
      }),
      (recipient, channel) => this.mention(recipient, channel),
    );
  }

  /** The recipient's handle on the channel's provider (team channels, plain addresses and email have none). */
  mention(recipient: string, channel: string): string | undefined {
    const person = recipient.startsWith(TEAM) || recipient.startsWith(MAILTO) ? undefined : this.deps.oncall.person(recipient);
    const provider = channel === EMAIL ? undefined : this.deps.oncall.config.channels.get(channel)?.provider;
    return person && provider ? person.chat[provider] : undefined;
  }

  /** A rule's runbook, or the one an alert source named. */
  private runbookOf(a: IncidentAlert): string | undefined {
    return this.deps.runbookOf(a.rule_id) ?? a.trigger?.external?.runbook;
  }

  private link(claim: LinkClaim): string {
    return `${this.opts.publicUrl}/v1/links/${signLink(this.opts.linkSecret, claim)}`;
  }

  private stormIncident(m: Incident, firing: readonly IncidentAlert[]): StormIncident {
    const regions = m.region !== undefined ? [m.region] : [...new Set(firing.flatMap((a) => a.labels.region ?? []))];
    return { id: m.id, priority: m.priority, state: `${m.state}${m.silenced ? ' (silenced)' : ''}`, title: m.title, regions };
  }
}

import type { Incidents } from '../incidents/incidents.js';
import type { EmailSender } from '../notify/email.js';
import type { OnCallService } from '../oncall/oncall.js';
import { MAX_RANGE_MS } from '../oncall/oncall.js';
import { OVERVIEW_UID, figuresOf, regionFigures } from '../reports/qos-report-data.js';
import type { Rule, ThresholdRule } from '../rules/rule-schema.js';
import type { Tenant } from '../shared/tenant.js';
import type { InfluxReader } from '../storage/influx/query.js';
import type { Events, PlannedEvent } from './events.js';
import { tightenLevels, tightens } from './overlay.js';
import { renderReadinessEmail } from './readiness-email.js';
import type { ReadinessReport } from './readiness-model.js';

export interface ReadinessDeps {
  events: Events;
  tenant: (id: string) => Tenant | undefined;
  oncall: OnCallService;
  incidents: Incidents;
  influx: InfluxReader | undefined;
  rules: () => readonly Rule[];
  mailer: EmailSender | undefined;
  grafanaUrl: string | undefined;
  clock: () => number;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void };
}

const DAY = 86_400_000;

/** The threshold rules an event tightens, with their levels in normal times and during it. */
export function overlaidRules(e: PlannedEvent, rules: readonly Rule[]): ReadinessReport['event']['rules'] {
  return rules
    .filter((r): r is ThresholdRule => r.kind === 'threshold' && tightens(e, r))
    .map((r) => {
      const during = tightenLevels(r.levels, e.factor, e.name);
      return { id: r.id, metric: r.metric, levels: r.levels.map((l, i) => ({ priority: l.priority, normal: l.cmp.text, during: `${during[i]!.cmp.op} ${during[i]!.cmp.value}` })) };
    });
}

/**
 * The readiness report of an event: baselines of its regions (last 24 h and 7 days, from InfluxDB), who is on call
 * in each schedule during the event (with any gap), the tenant's open incidents in those regions, and the tighter
 * thresholds. Without InfluxDB the baselines are empty.
 */
export async function buildReadiness(d: ReadinessDeps, e: PlannedEvent, tenant: Tenant, now: number): Promise<ReadinessReport> {
  const inEvent = (region: string | null | undefined) => e.regions.length === 0 || (region != null && e.regions.includes(region));
  let baselines: ReadinessReport['baselines'] = [];
  if (d.influx) {
    const [week, day] = await Promise.all([regionFigures(d.influx, tenant.id, now - 7 * DAY, now), regionFigures(d.influx, tenant.id, now - DAY, now)]);
    const regions = e.regions.length ? e.regions : [...week.keys()].sort();
    const empty = { stall: null, play: null, lost: null, expected: null, latencyP95: null, peakConcurrency: null, samples: 0 };
    baselines = regions.map((region) => ({ region, last7d: figuresOf(week.get(region) ?? empty), last24h: figuresOf(day.get(region) ?? empty) }));
  }
  // The on-call API resolves at most 92 days; events last at most 31.
  const to = Math.min(e.endsAt, e.startsAt + MAX_RANGE_MS);
  const onCall = [...d.oncall.config.schedules.keys()].map((schedule) => {
    const { shifts, gaps } = d.oncall.resolve(schedule, e.startsAt, to);
    return {
      schedule,
      shifts: shifts.map((s) => {
        const p = d.oncall.person(s.person);
        return { person: s.person, name: p?.name ?? s.person, email: p?.email ?? null, from: s.start, to: s.end };
      }),
      gaps: gaps.map((g) => ({ from: g.start, to: g.end })),
    };
  });
  const openIncidents = (await d.incidents.list({ tenant: tenant.id, state: ['open', 'acknowledged', 'mitigated'], limit: 500 }))
    .filter((i) => inEvent(i.region))
    .map((i) => ({ id: i.id, priority: i.priority, region: i.region ?? null, title: i.title, state: i.state, openedAt: i.opened_at }));
  const grafanaUrl = d.grafanaUrl
    ? `${d.grafanaUrl.replace(/\/$/, '')}/d/${OVERVIEW_UID}?var-tenant=${encodeURIComponent(tenant.id)}${e.regions.map((r) => `&var-region=${encodeURIComponent(r)}`).join('')}&from=${e.startsAt}&to=${e.endsAt}`
    : null;
  return {
    event: {
      id: e.id, name: e.name, tenant: { id: tenant.id, name: tenant.name, timezone: tenant.timezone }, regions: e.regions,
      startsAt: e.startsAt, endsAt: e.endsAt, factor: e.factor, rules: overlaidRules(e, d.rules()),
    },
    baselines, onCall, openIncidents, grafanaUrl, generatedAt: now,
  };
}

/** Who gets an event's readiness report: its own list, else the tenant's report recipients, else its contacts. */
export function readinessRecipients(e: PlannedEvent, tenant: Tenant): string[] {
  if (e.spec.notify) return e.spec.notify;
  const reports = [...(tenant.reports.daily?.to ?? []), ...(tenant.reports.weekly?.to ?? [])];
  return [...new Set(reports.length ? reports : tenant.contacts.map((c) => c.email))];
}

/**
 * Sends the readiness reports that are due (also those missed while the service was down), once each: each is claimed
 * first, so runners over one state db never both send it.
 */
export async function sendDueReadiness(d: ReadinessDeps): Promise<void> {
  for (const claim of await d.events.claimReadiness(d.clock())) {
    const e = claim.event;
    const now = d.clock();
    try {
      const tenant = d.tenant(e.tenant);
      if (!tenant) throw new Error(`tenant ${e.tenant} no longer exists`);
      const to = readinessRecipients(e, tenant);
      if (to.length === 0) throw new Error('nobody to send it to: give the event a notify list, or the tenant report recipients or contacts');
      if (!d.mailer) throw new Error('readiness reports go by email: set SMTP_URL');
      const report = await buildReadiness(d, e, tenant, now);
      await d.mailer.sendReport(to, { ...renderReadinessEmail(report), attachments: [] }, `readiness.${e.id}`);
      await d.events.readinessSent(claim, d.clock());
      d.log.info({ event: e.id, tenant: e.tenant, to: to.length }, 'event readiness report sent');
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      await d.events.readinessFailed(claim, reason, now);
      d.log.warn({ event: e.id, tenant: e.tenant, reason }, 'event readiness report failed; retrying in a few minutes');
    }
  }
}

import fp from 'fastify-plugin';
import { type Env, publicUrlOf } from '../config/env.js';
import type { Metrics } from '../metrics.js';
import { PRIORITIES } from '../shared/priority.js';
import { EventBus } from './bus.js';
import { FOLLOWERS } from './follower.js';
import { Incidents } from './incidents.js';
import { incidentEventLine } from './influx-events.js';
import type { IncidentEvent } from './model.js';
import { Silences } from './silences.js';

declare module 'fastify' {
  interface FastifyInstance {
    incidents: Incidents;
    silences: Silences;
    /** Incident events, published after they are committed (paging subscribes here). */
    incidentBus: EventBus<IncidentEvent>;
  }
}

/** Incidents, silences and the incident event bus; incident events also go to InfluxDB for Grafana annotations. */
export const incidentsPlugin = fp<{ env: Env; metrics: Metrics }>(
  async (app, { env, metrics }) => {
    const silences = await Silences.load(app.state.silences);
    const incidents = new Incidents(app.state, {
      groupBy: env.QOSWATCH_INCIDENT_GROUP_BY,
      reopenMs: env.QOSWATCH_REOPEN_WINDOW,
      maxOpenPerTenant: env.QOSWATCH_TENANT_MAX_INCIDENTS,
      silenced: (subject, now) => silences.isSilenced(subject, now),
    });
    const bus = new EventBus<IncidentEvent>((err) => app.log.error({ err }, 'incident event subscriber failed'));
    bus.on((e) => metrics.incidentEvents.inc({ kind: e.type }));
    bus.on((e) => e.type === 'alert_fired' && e.entry.data?.over_budget !== undefined && metrics.alertsOverBudget.inc({ tenant: e.incident.tenant }));
    const publicUrl = publicUrlOf(env);
    bus.on((e) => app.points.enqueue([incidentEventLine(e, publicUrl)]));
    (metrics.followerLag as unknown as { collect: () => Promise<void> }).collect = async () => {
      const last = await app.state.cursors.lastId();
      for (const consumer of FOLLOWERS) metrics.followerLag.set({ consumer }, last - ((await app.state.cursors.get(consumer)) ?? last));
    };
    (metrics.incidentsOpen as unknown as { collect: () => Promise<void> }).collect = async () => {
      const counts = await incidents.openCounts();
      // Every tenant × priority, zeros included, so that a board shows 0 rather than a gap.
      for (const t of app.tenants.list()) for (const p of PRIORITIES) metrics.incidentsOpen.set({ tenant: t.id, priority: p }, 0);
      for (const r of counts) metrics.incidentsOpen.set({ tenant: r.tenant, priority: r.priority }, r.n);
    };
    app.decorate('incidents', incidents);
    app.decorate('silences', silences);
    app.decorate('incidentBus', bus);
  },
  { name: 'qoswatch-incidents', dependencies: ['qoswatch-storage', 'qoswatch-tenants'] },
);

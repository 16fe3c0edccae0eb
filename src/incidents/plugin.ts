import fp from 'fastify-plugin';
import type { Env } from '../config/env.js';
import type { Metrics } from '../metrics.js';
import { EventBus } from './bus.js';
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
    const silences = new Silences(app.stateDb);
    const incidents = new Incidents(app.stateDb, {
      groupBy: env.QOSWATCH_INCIDENT_GROUP_BY,
      reopenMs: env.QOSWATCH_REOPEN_WINDOW,
      silenced: (subject, now) => silences.isSilenced(subject, now),
    });
    const bus = new EventBus<IncidentEvent>((err) => app.log.error({ err }, 'incident event subscriber failed'));
    bus.on((e) => metrics.incidentEvents.inc({ kind: e.type }));
    bus.on((e) => app.pipeline.enqueueLines([incidentEventLine(e)]));
    app.decorate('incidents', incidents);
    app.decorate('silences', silences);
    app.decorate('incidentBus', bus);
  },
  { name: 'qoswatch-incidents', dependencies: ['qoswatch-storage', 'qoswatch-pipeline'] },
);

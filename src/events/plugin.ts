import fp from 'fastify-plugin';
import type { Env } from '../config/env.js';
import { Events } from './events.js';
import { ENDED_EVENTS_KEPT_MS, EventOverlay } from './overlay.js';
import { sendDueReadiness } from './readiness.js';

declare module 'fastify' {
  interface FastifyInstance {
    events: Events;
    /** The rule engine's view of planned events (tighter thresholds inside their windows, expected ends). */
    eventOverlay: EventOverlay;
    /** Refreshes the overlay and sends any readiness report now due (after a change through the API). */
    eventsChanged(): Promise<void>;
    /** Sends the readiness reports that are due; resolves when done (the timer calls it every 30 s). */
    sendReadiness(): Promise<void>;
  }
}

/** Planned events: their store, the threshold overlay the rule engine consults, and the readiness reports. */
export const eventsPlugin = fp<{ env: Env; clock: () => number }>(
  async (app, { env, clock }) => {
    const events = new Events(app.state.events);
    const overlay = new EventOverlay();
    const refresh = async () => overlay.set(await events.endingAfter(clock() - ENDED_EVENTS_KEPT_MS));
    await refresh();
    let sending: Promise<void> = Promise.resolve();
    const sendReadiness = () =>
      (sending = sending.then(() =>
        sendDueReadiness({
          events, tenant: (id) => app.tenants.get(id), oncall: app.oncall, incidents: app.incidents, influx: app.influxReader,
          rules: () => app.alerting.engine.ruleList, mailer: app.mailer, grafanaUrl: env.QOSWATCH_GRAFANA_URL, clock, log: app.log,
        }).catch((err: unknown) => app.log.error({ err }, 'event readiness reports failed')),
      ));
    app.decorate('events', events);
    app.decorate('eventOverlay', overlay);
    app.decorate('sendReadiness', sendReadiness);
    app.decorate('eventsChanged', async () => {
      await refresh();
      // Readiness reports are the leader's duty (below); another node only refreshes its overlay.
      if (app.leadership.isLeader()) void sendReadiness();
    });
    let timer: NodeJS.Timeout | undefined;
    app.leadership.duty('readiness reports', {
      start: () => {
        void sendReadiness(); // catches up a report missed while the service was down
        timer = setInterval(() => {
          refresh().catch((err: unknown) => app.log.error({ err }, 'cannot read the planned events'));
          void sendReadiness();
        }, 30_000);
        timer.unref();
      },
      stop: async () => {
        clearInterval(timer);
        await sending;
      },
    });
  },
  { name: 'qoswatch-events', dependencies: ['qoswatch-coordination', 'qoswatch-storage', 'qoswatch-tenants'] },
);

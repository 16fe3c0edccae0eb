import fp from 'fastify-plugin';
import type { Env } from '../config/env.js';
import { createInfluxReader, type InfluxReader } from '../storage/influx/query.js';
import type { Tenant } from '../shared/tenant.js';
import type { QosReport } from './qos-report-model.js';
import { collectQosReport, reportThresholds } from './qos-report-data.js';
import { renderQosReport } from './qos-report-email.js';
import { type ReportKind, periodOf } from './report-schedule.js';
import { ReportScheduler, jobsOf } from './report-scheduler.js';

declare module 'fastify' {
  interface FastifyInstance {
    reports: ReportScheduler;
    /** Builds a tenant's QoS report for the period of a run due at `dueAt` (undefined without InfluxDB). */
    qosReport: ((tenant: Tenant, kind: ReportKind, dueAt: number) => Promise<QosReport>) | undefined;
    influxReader: InfluxReader | undefined;
  }
}

/** Scheduled QoS reports: built from InfluxDB and the state store, rendered with inline charts, sent by email. */
export const reportsPlugin = fp<{ env: Env; clock: () => number }>(
  async (app, { env, clock }) => {
    const influx = createInfluxReader(env);
    const qosReport = influx
      ? (tenant: Tenant, kind: ReportKind, dueAt: number) =>
          collectQosReport(
            { influx, incidents: app.incidents, tickets: app.tickets },
            { kind, tenant, period: periodOf(kind, dueAt, tenant.timezone), thresholds: reportThresholds(app.alerting.engine.ruleList), grafanaUrl: env.QOSWATCH_GRAFANA_URL, now: clock() },
          )
      : undefined;
    const scheduler = new ReportScheduler({
      rows: app.state.reports,
      clock,
      log: app.log,
      jobs: () => jobsOf(app.tenants.list()),
      send: async (job, dueAt) => {
        if (!qosReport) throw new Error('reports need InfluxDB: set INFLUX_URL');
        if (!app.mailer) throw new Error('reports go by email: set SMTP_URL');
        const report = await qosReport(job.tenant, job.schedule.kind, dueAt);
        await app.mailer.sendReport(job.to, renderQosReport(report), `report.${job.tenant.id}.${job.schedule.kind}.${dueAt}`);
      },
    });
    if (jobsOf(app.tenants.list()).length && (!influx || !app.mailer)) app.log.warn('scheduled reports need INFLUX_URL and SMTP_URL; their runs will fail until both are set');
    app.decorate('reports', scheduler);
    app.decorate('qosReport', qosReport);
    app.decorate('influxReader', influx);
    app.leadership.duty('reports', scheduler);
  },
  { name: 'qoswatch-reports', dependencies: ['qoswatch-coordination', 'qoswatch-incidents', 'qoswatch-tickets', 'qoswatch-rules', 'qoswatch-pager', 'qoswatch-tenants'] },
);

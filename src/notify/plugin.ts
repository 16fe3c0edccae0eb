import { randomBytes } from 'node:crypto';
import fp from 'fastify-plugin';
import { type Env, publicUrlOf } from '../config/env.js';
import type { Metrics } from '../metrics.js';
import { EmailSender } from './email.js';
import { Pager } from './pager.js';

declare module 'fastify' {
  interface FastifyInstance {
    pager: Pager;
    linkSecret: string;
    /** Email over SMTP_URL, shared by pages and reports; undefined without SMTP_URL. */
    mailer: EmailSender | undefined;
  }
}

/** The pager: subscribes to incident events, escalates, and delivers pages through the outbox. */
export const pagerPlugin = fp<{ env: Env; metrics: Metrics; clock: () => number }>(
  async (app, { env, metrics, clock }) => {
    let secret = env.QOSWATCH_LINK_SECRET ?? (await app.state.meta.get('link_secret'));
    if (!secret) await app.state.meta.set('link_secret', (secret = randomBytes(32).toString('base64url')));
    const email = env.SMTP_URL ? new EmailSender(env.SMTP_URL, env.MAIL_FROM, env.QOSWATCH_PAGE_TIMEOUT) : undefined;
    if (!email) app.log.warn('SMTP_URL is not set: email pages fail over to each person\'s next channel');
    const pager = new Pager(
      {
        state: app.state, incidents: app.incidents, oncall: app.oncall, bus: app.incidentBus, email, metrics, log: app.log, clock,
        runbookOf: (id) => app.alerting.engine.ruleList.find((r) => r.id === id)?.runbook,
      },
      {
        publicUrl: publicUrlOf(env),
        linkSecret: secret,
        linkTtlMs: env.QOSWATCH_LINK_TTL,
        tickMs: 500,
        sendTimeoutMs: env.QOSWATCH_PAGE_TIMEOUT,
        chatRate: env.QOSWATCH_CHAT_RATE,
        emailRate: env.QOSWATCH_EMAIL_RATE,
        pageBudget: env.QOSWATCH_TENANT_PAGE_BUDGET,
        storm: { threshold: env.QOSWATCH_STORM_THRESHOLD, windowMs: env.QOSWATCH_STORM_WINDOW, intervalMs: env.QOSWATCH_STORM_INTERVAL },
      },
    );
    app.decorate('pager', pager);
    app.decorate('linkSecret', secret);
    app.decorate('mailer', email);
    app.leadership.duty('pager', pager);
    // After the duties stopped (coordination/plugin.ts): no page, report or readiness report is being sent.
    app.addHook('onClose', async () => email?.close());
  },
  { name: 'qoswatch-pager', dependencies: ['qoswatch-coordination', 'qoswatch-incidents', 'qoswatch-oncall', 'qoswatch-rules'] },
);

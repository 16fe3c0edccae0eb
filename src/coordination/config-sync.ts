import fp from 'fastify-plugin';
import type { Env } from '../config/env.js';

/** How often a cluster node reads its configuration caches again anyway (a notification can be lost). */
const POLL_MS = 10_000;

/**
 * Cluster mode: silences, on-call overrides, tenants, keys, tokens and planned events are held in memory by every
 * node, and any node's API may change them. PostgreSQL tells the others which table changed (StateStore.listen
 * 'config'); they read that cache again, and every cache every 10 s in case a notification was lost. The embedded
 * mode's one process changes its caches as it writes.
 */
export const configSyncPlugin = fp<{ env: Env }>(
  async (app, { env }) => {
    if (env.QOSWATCH_MODE !== 'cluster') return;
    const reloads: Record<string, () => Promise<unknown>> = {
      silences: () => app.silences.reload(),
      oncall_overrides: () => app.oncall.reload(),
      tenants: async () => {
        await app.tenants.reload();
        await app.reports.reschedule();
      },
      ingest_keys: () => app.keys.ingest.reload(),
      tenant_tokens: () => app.keys.tokens.reload(),
      events: () => app.eventsChanged(),
    };
    const reload = (table: string) =>
      reloads[table]?.().catch((err: unknown) => app.log.warn({ err, table }, 'cannot read a configuration cache again; the next poll retries'));
    let timer: NodeJS.Timeout | undefined;
    let unsubscribe = () => {};
    app.addHook('onReady', async () => {
      unsubscribe = app.state.listen('config', (table) => void reload(table));
      timer = setInterval(() => {
        for (const table of Object.keys(reloads)) void reload(table);
      }, POLL_MS);
      timer.unref();
    });
    app.addHook('onClose', async () => {
      unsubscribe();
      clearInterval(timer);
    });
  },
  { name: 'qoswatch-config-sync', dependencies: ['qoswatch-storage', 'qoswatch-incidents', 'qoswatch-oncall', 'qoswatch-tenants', 'qoswatch-events', 'qoswatch-reports'] },
);

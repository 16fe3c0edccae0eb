import fp from 'fastify-plugin';
import type { FileConfig } from '../config/file.js';
import { KeyStore } from './keys.js';
import { Tenants } from './tenants.js';

declare module 'fastify' {
  interface FastifyInstance {
    tenants: Tenants;
    keys: KeyStore;
  }
}

export const tenantsPlugin = fp<{ config: FileConfig; ingestKey?: string; adminToken?: string }>(
  async (app, opts) => {
    app.decorate('tenants', await Tenants.load(opts.config, app.state.tenants));
    app.decorate('keys', await KeyStore.open(app.state, opts.config, { QOSWATCH_INGEST_KEY: opts.ingestKey, QOSWATCH_ADMIN_TOKEN: opts.adminToken }));
  },
  { name: 'qoswatch-tenants', dependencies: ['qoswatch-storage'] },
);

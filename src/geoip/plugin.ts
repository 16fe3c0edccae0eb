import type { IncomingMessage } from 'node:http';
import fp from 'fastify-plugin';
import type { Env } from '../config/env.js';
import { TrustedProxies, clientAddress } from './client-address.js';
import { GeoIp } from './geoip.js';

declare module 'fastify' {
  interface FastifyInstance {
    geoip: GeoIp;
    /**
     * The client address of a request (or WebSocket upgrade) for enrichment: X-Forwarded-For is read only from
     * QOSWATCH_TRUSTED_PROXIES. fastify's trustProxy is not used: it would also change req.ip (the request log,
     * per-IP rate limiting) and believe X-Forwarded-Host/Proto; this touches enrichment only.
     */
    clientAddress(req: { raw: IncomingMessage }): string | undefined;
  }
}

/** ISP/country enrichment (README, "ISP and country enrichment"): the MMDB files and the client address. */
export const geoipPlugin = fp<{ env: Env }>(
  async (app, { env }) => {
    const geoip = await GeoIp.open({ asn: env.QOSWATCH_GEOIP_ASN_DB, country: env.QOSWATCH_GEOIP_COUNTRY_DB, log: app.log, pollMs: env.QOSWATCH_GEOIP_POLL });
    const proxies = new TrustedProxies(env.QOSWATCH_TRUSTED_PROXIES);
    app.decorate('geoip', geoip);
    app.decorate('clientAddress', (req: { raw: IncomingMessage }) => clientAddress(req.raw.socket.remoteAddress, req.raw.headers['x-forwarded-for'], proxies));
    app.addHook('onClose', async () => geoip.close());
  },
  { name: 'qoswatch-geoip' },
);

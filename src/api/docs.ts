import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { JSON_SCHEMAS } from './json-schemas.js';

/**
 * The docs page loads only its own scripts and styles (swagger-ui's, served from the package: a self-hosted install
 * may have no Internet) and talks only to this server ("Try it out").
 */
export const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * The API's own documents, open to anyone: the browsable reference at /docs, the OpenAPI document at
 * /docs/openapi.json (and .yaml), and the JSON Schemas of the rule and on-call files at /schemas/ for editors.
 */
export const docsRoutes: FastifyPluginAsyncZod = async (app) => {
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: DOCS_CSP,
    theme: { title: 'qoswatch API' },
    // Without swagger-ui's top bar: its logo carries an inline style (refused by the CSP), and its box to explore
    // other documents has nothing to offer here.
    uiConfig: { layout: 'BaseLayout', deepLinking: true, displayOperationId: true, docExpansion: 'list', defaultModelsExpandDepth: 0 },
  });
  app.get('/docs/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/docs/openapi.yaml', { schema: { hide: true } }, async (_req, reply) => reply.type('application/yaml; charset=utf-8').send(app.swagger({ yaml: true })));

  // Documents like /docs/openapi.json, not operations of the API: left out of it.
  for (const [name, make] of Object.entries(JSON_SCHEMAS)) {
    const text = JSON.stringify(make());
    app.get(`/schemas/${name}.json`, { schema: { hide: true } }, async (_req, reply) => reply.type('application/schema+json; charset=utf-8').send(text));
  }
};

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { badRequest, conflict, notFound } from '../shared/http-errors.js';
import type { Tenant } from '../shared/tenant.js';
import { SECURITY, errorResponses, jsonResponse, noContent } from '../shared/openapi.js';
import { rateSchema } from '../util/units.js';
import { actorOf } from '../accounts/access.js';
import { type Credential, KeyError } from './keys.js';

const keyView = z.object({
  id: z.string(),
  tenant: z.string(),
  name: z.string().optional(),
  source: z.enum(['config', 'env', 'generated', 'api']),
  rate_limit: z.object({ max: z.number(), window_ms: z.number() }).optional(),
  created_at: z.string().optional(),
});

const tenantParams = z.object({ tenant: z.string().min(1) });
const tenantView = z.object({
  id: z.string(), name: z.string(), tier: z.string(), timezone: z.string(),
  contacts: z.array(z.object({ name: z.string(), email: z.string() })),
  customer_channel: z.string().optional(),
  budgets: z.object({ series: z.number().optional(), points: z.number().optional(), sessions: z.number().optional() }).optional().describe('budgets set for this tenant; the others are the QOSWATCH_TENANT_MAX_* defaults'),
  keys: z.array(keyView),
  api_tokens: z.array(keyView),
});

/**
 * Admin API for tenants and their credentials: ingest keys (`/keys`: public, they only ingest) and tenant API tokens
 * (`/tokens`: they only read the tenant's tickets). The secret of a new one is returned once and never stored.
 */
export const keyRoutes: FastifyPluginAsyncZod<{ clock: () => number }> = async (app, { clock }) => {
  app.addHook('onRequest', app.requireRole({ read: 'admin', write: 'admin' }));
  const errors = errorResponses(400, 401, 403, 404);
  const tenantOf = (id: string) => {
    const t = app.tenants.get(id);
    if (!t) throw notFound(`no tenant ${id}`);
    return t;
  };
  const view = (k: Credential) => ({
    id: k.id,
    tenant: k.tenant,
    name: k.name,
    source: k.source,
    rate_limit: k.rateLimit ? { max: k.rateLimit.max, window_ms: k.rateLimit.windowMs } : undefined,
    created_at: k.createdAt === undefined ? undefined : new Date(k.createdAt).toISOString(),
  });

  const tenantOut = (t: Tenant) => ({
    id: t.id, name: t.name, tier: t.tier, timezone: t.timezone, contacts: [...t.contacts], customer_channel: t.customerChannel, budgets: t.budgets,
    keys: app.keys.ingest.list(t.id).map(view), api_tokens: app.keys.tokens.list(t.id).map(view),
  });

  app.get(
    '/v1/admin/tenants',
    {
      schema: {
        operationId: 'listTenants', tags: ['admin'], summary: 'Tenants with their ingest keys and tenant API tokens (no secrets)', security: SECURITY.staff,
        response: { 200: jsonResponse(z.array(tenantView), 'Every tenant'), ...errorResponses(401, 403) },
      },
    },
    async () => app.tenants.list().map(tenantOut),
  );

  const secret = z.string().describe('the secret; store it now');
  const kinds = [
    { path: 'keys', set: app.keys.ingest, noun: 'an ingest key', name: 'IngestKey', created: keyView.extend({ key: secret }), reveal: (key: string) => ({ key }) },
    { path: 'tokens', set: app.keys.tokens, noun: 'a tenant API token', name: 'TenantToken', created: keyView.extend({ token: secret }), reveal: (token: string) => ({ token }) },
  ];
  for (const { path, set, noun, name, created, reveal } of kinds) {
    app.get(
      `/v1/admin/tenants/:tenant/${path}`,
      {
        schema: {
          operationId: `list${name}s`, tags: ['admin'], summary: `The tenant's ${path === 'keys' ? 'ingest keys' : 'tenant API tokens'} (no secrets)`, security: SECURITY.staff,
          params: tenantParams, response: { 200: jsonResponse(z.array(keyView), 'Without secrets'), ...errors },
        },
      },
      async (req) => set.list(tenantOf(req.params.tenant).id).map(view),
    );

    app.post(
      `/v1/admin/tenants/:tenant/${path}`,
      {
        schema: {
          operationId: `create${name}`,
          tags: ['admin'],
          summary: `Create ${noun}; its secret is shown only in this response`,
          security: SECURITY.staff,
          params: tenantParams,
          body: z.strictObject({ name: z.string().max(200).optional(), rate_limit: rateSchema.optional().describe('e.g. "2000/1s"') }).default({}),
          response: { 201: jsonResponse(created, 'Created: the secret is shown only in this response'), ...errors },
        },
      },
      async (req, reply) => {
        const t = tenantOf(req.params.tenant);
        const made = await set.create(t.id, { name: req.body.name, rateLimit: req.body.rate_limit }, clock());
        await app.audit.record(actorOf(req), `${path === 'keys' ? 'key' : 'tenant_token'}.create`, `tenant:${t.id}`, { after: view(made.credential) }, clock());
        return reply.code(201).send({ ...view(made.credential), ...reveal(made.secret) });
      },
    );

    app.delete(
      `/v1/admin/tenants/:tenant/${path}/:id`,
      {
        schema: {
          operationId: `revoke${name}`, tags: ['admin'], summary: `Revoke ${noun} created through the API`, security: SECURITY.staff,
          params: tenantParams.extend({ id: z.string() }), response: { 204: noContent('Revoked: refused from now on'), ...errors, ...errorResponses(409) },
        },
      },
      async (req, reply) => {
        const t = tenantOf(req.params.tenant);
        const before = set.list(t.id).find((k) => k.id === req.params.id);
        try {
          await set.revoke(t.id, req.params.id, clock());
        } catch (err) {
          if (err instanceof KeyError) throw err.kind === 'not_found' ? notFound(err.message) : conflict(err.message);
          throw err;
        }
        await app.audit.record(actorOf(req), `${path === 'keys' ? 'key' : 'tenant_token'}.revoke`, `tenant:${t.id}`, { before: before && view(before) }, clock());
        return reply.code(204).send();
      },
    );
  }

  app.put(
    '/v1/admin/tenants/:tenant',
    {
      schema: {
        operationId: 'putTenant',
        tags: ['admin'],
        security: SECURITY.staff,
        summary: 'Create or replace a tenant (tier, timezone, business_hours, contacts, customer_channel, sla, reports, budgets — as in the config file); tenants of the config file are 409',
        params: tenantParams,
        querystring: z.strictObject({ by: z.string().min(1).max(200).optional().describe('who (recorded; default "admin")') }),
        // Validated by the config file's tenant schema (errors name the field); kept as given, so it reloads the same.
        body: z.record(z.string(), z.unknown()).describe('a tenant as in the config file, without ingest_keys'),
        response: { 200: jsonResponse(tenantView, 'Replaced'), 201: jsonResponse(tenantView, 'Created'), ...errorResponses(400, 401, 403, 409) },
      },
    },
    async (req, reply) => {
      if (req.body.id !== undefined && req.body.id !== req.params.tenant) throw badRequest('id: must match the tenant in the path');
      const actor = actorOf(req, req.query.by);
      const previous = app.tenants.get(req.params.tenant);
      const before = previous && tenantOut(previous);
      const { tenant, created } = await app.tenants.save({ ...req.body, id: req.params.tenant }, actor, clock());
      await app.audit.record(actor, created ? 'tenant.create' : 'tenant.update', `tenant:${tenant.id}`, { before, after: tenantOut(tenant) }, clock());
      await app.reports.reschedule();
      return reply.code(created ? 201 : 200).send(tenantOut(tenant));
    },
  );
};

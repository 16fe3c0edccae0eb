import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf } from '../accounts/access.js';
import { forbidden, notFound, unauthorized, unavailable } from '../shared/http-errors.js';
import { allows } from '../shared/roles.js';
import type { Tenant } from '../shared/tenant.js';
import { SECURITY, errorResponses, jsonResponse, noContent } from '../shared/openapi.js';
import { bearer } from '../tenants/auth.js';
import { toIso } from '../util/units.js';
import type { CustomerIncident } from './customer-view.js';
import { type ShareLink, type StatusPage, StatusPages } from './status.js';

const iso = z.string().describe('RFC 3339 time');
const incidentView = z.object({
  id: z.string().describe('a public id: the ticket\'s, or a random-looking one'),
  title: z.string().describe('what viewers notice, and where'),
  region: z.string().optional(),
  impact: z.enum(['degraded', 'outage']),
  phase: z.enum(['investigating', 'identified', 'monitoring', 'resolved']),
  started_at: iso, restored_at: iso.optional(), resolved_at: iso.optional(),
  restore_target: iso.optional().describe('when service is to be restored (the SLA target), while it is not'),
  updates: z.array(z.object({ at: iso, text: z.string() })),
});
const requestView = z.object({
  id: z.string(), title: z.string(), status: z.string().describe('received, in progress, fixed, being watched, waiting for you, resolved, closed'),
  opened_at: iso, updates: z.array(z.object({ at: iso, text: z.string() })),
});
const regionView = z.object({ region: z.string(), status: z.enum(['operational', 'degraded', 'outage']) });
const pageView = z
  .object({ tenant: z.object({ id: z.string(), name: z.string() }), regions: z.array(regionView), current: z.array(incidentView).optional(), history: z.array(incidentView).optional(), requests: z.array(requestView).optional(), generated_at: iso })
  .meta({ id: 'StatusPage' });
const linkView = z.object({ id: z.string(), name: z.string().optional(), summary_only: z.boolean(), created_by: z.string(), created_at: iso });

const incidentOut = (i: CustomerIncident) => ({
  ...i, started_at: toIso(i.started_at)!, restored_at: toIso(i.restored_at), resolved_at: toIso(i.resolved_at), restore_target: toIso(i.restore_target),
  updates: i.updates.map((u) => ({ at: toIso(u.at)!, text: u.text })),
});
const pageOut = (p: StatusPage, summaryOnly: boolean) => ({
  tenant: p.tenant, regions: p.regions, generated_at: toIso(p.generated_at)!,
  ...(summaryOnly
    ? {}
    : {
        current: p.current.map(incidentOut), history: p.history.map(incidentOut),
        requests: p.requests.map((r) => ({ ...r, opened_at: toIso(r.opened_at)!, updates: r.updates.map((u) => ({ at: toIso(u.at)!, text: u.text })) })),
      }),
});
const linkOut = (l: ShareLink) => ({ ...l, created_at: toIso(l.created_at)! });

/** Share link secrets start so, which tells them apart from other bearer tokens. */
const SHARE_PREFIX = 'qws_';

/**
 * Customer status pages: a customer account reads its tenant's (`/v1/status`), staff any tenant's (`?tenant=`), and
 * anyone holding a share link the tenant made (`/v1/status/shared`, the secret as a bearer token: the page keeps it
 * in the URL's fragment, which never reaches a server or a log). Customer accounts and admins manage the links.
 */
export const statusRoutes: FastifyPluginAsyncZod<{ clock: () => number }> = async (app, { clock }) => {
  const pages = new StatusPages({ incidents: app.incidents, tickets: app.tickets, state: app.state });
  const errors = errorResponses(400, 401, 403, 404);
  const tenantQuery = z.strictObject({ tenant: z.string().max(100).optional().describe('staff: the tenant to show (default: the default tenant); customers: their own') });

  /** The tenant a caller may see: a customer its own; staff (viewer and up) the one asked for. */
  const tenantFor = (req: FastifyRequest, asked: string | undefined, write: boolean): Tenant => {
    const p = req.principal!;
    let id: string;
    if (p.role === 'customer') {
      if (asked !== undefined && asked !== p.tenant) throw forbidden(`your account follows tenant ${p.tenant} only`);
      id = p.tenant!;
    } else {
      if (!allows(p.role, write ? 'admin' : 'viewer')) throw forbidden(`this needs the ${write ? 'admin' : 'viewer'} role`);
      id = asked ?? app.tenants.defaultId;
    }
    const t = app.tenants.get(id);
    if (!t) throw notFound(`no tenant ${id}`);
    return t;
  };

  app.get(
    '/v1/status/shared',
    {
      schema: {
        operationId: 'getSharedStatusPage', security: SECURITY.shareLink,
        tags: ['status'], summary: 'The status page a share link opens (Authorization: Bearer <share link secret>); summary-only links show the regions only',
        response: { 200: jsonResponse(pageView, 'The page (regions only for a summary-only link)'), ...errorResponses(401, 503) },
      },
    },
    async (req) => {
      const busy = app.loopBusy();
      if (busy) throw unavailable(`qoswatch is busy (${busy}); retry after the Retry-After delay`);
      const secret = bearer(req.headers.authorization);
      if (!secret?.startsWith(SHARE_PREFIX)) throw unauthorized('send the share link\'s secret as "Authorization: Bearer qws_…"');
      const link = await pages.resolveLink(secret);
      const tenant = link && app.tenants.get(link.tenant);
      if (!link || !tenant) throw unauthorized('this share link is unknown or was revoked');
      return pageOut(await pages.page(tenant, clock()), link.summaryOnly);
    },
  );

  await app.register(async (scope) => {
    const signed = scope.withTypeProvider<import('fastify-type-provider-zod').ZodTypeProvider>();
    signed.addHook('onRequest', async (req) => void (await app.access.signedIn(req)));

    signed.get(
      '/v1/status',
      {
        schema: {
          operationId: 'getStatusPage', tags: ['status'], summary: "A tenant's status page: regions, current incidents with updates, 30 days of history", security: SECURITY.staff,
          querystring: tenantQuery, response: { 200: jsonResponse(pageView, 'The page'), ...errors },
        },
      },
      async (req) => pageOut(await pages.page(tenantFor(req, req.query.tenant, false), clock()), false),
    );

    signed.get(
      '/v1/status/links',
      {
        schema: {
          operationId: 'listShareLinks', tags: ['status'], summary: "The tenant's share links (no secrets)", security: SECURITY.staff,
          querystring: tenantQuery, response: { 200: jsonResponse(z.array(linkView), 'The links'), ...errors },
        },
      },
      async (req) => (await pages.links(tenantFor(req, req.query.tenant, true).id)).map(linkOut),
    );

    signed.post(
      '/v1/status/links',
      {
        schema: {
          operationId: 'createShareLink', security: SECURITY.staff,
          tags: ['status'], summary: 'Create a share link: its secret is shown only now; open it as /status/#s=<secret>', querystring: tenantQuery,
          body: z.strictObject({ name: z.string().min(1).max(200).optional(), summary_only: z.boolean().default(false).describe('show only the per-region summary (a public page)') }).default({ summary_only: false }),
          response: { 201: jsonResponse(linkView.extend({ secret: z.string(), path: z.string() }), 'Created: the secret is shown only in this response'), ...errors },
        },
      },
      async (req, reply) => {
        const tenant = tenantFor(req, req.query.tenant, true);
        const actor = actorOf(req);
        const made = await pages.createLink(tenant.id, { name: req.body.name, summaryOnly: req.body.summary_only }, actor, clock());
        const { secret, ...link } = made;
        await app.audit.record(actor, 'share_link.create', `tenant:${tenant.id}`, { after: linkOut(link) }, clock());
        return reply.code(201).send({ ...linkOut(link), secret, path: `/status/#s=${secret}` });
      },
    );

    signed.delete(
      '/v1/status/links/:id',
      {
        schema: {
          operationId: 'revokeShareLink', tags: ['status'], summary: 'Revoke a share link: it stops working at once', security: SECURITY.staff,
          params: z.object({ id: z.string().max(100) }), querystring: tenantQuery, response: { 204: noContent('Revoked'), ...errors },
        },
      },
      async (req, reply) => {
        const tenant = tenantFor(req, req.query.tenant, true);
        const before = (await pages.links(tenant.id)).find((l) => l.id === req.params.id);
        if (!before) throw notFound(`no share link ${req.params.id}`);
        await pages.revokeLink(tenant.id, req.params.id, clock());
        await app.audit.record(actorOf(req), 'share_link.revoke', `tenant:${tenant.id}`, { before: linkOut(before) }, clock());
        return reply.code(204).send();
      },
    );
  });
};

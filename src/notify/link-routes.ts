import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { type LinkClaim, verifyLink } from './links.js';
import { escapeHtml } from './render.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified claim of a signed link (link routes only). */
    linkClaim?: LinkClaim;
  }
}

const esc = escapeHtml;
const page = (title: string, body: string) =>
  `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${esc(title)}</title></head>` +
  `<body style="font-family:sans-serif;max-width:40em;margin:3em auto"><h1>${esc(title)}</h1>${body}</body></html>`;

const REFUSED = {
  malformed: 'This link is not a valid qoswatch link.',
  tampered: 'This link has been altered, so it cannot be used. Use the link from the page you received, or the API.',
  expired: 'This link has expired. Acknowledge or resolve the incident through the API or a newer page.',
};

/**
 * The signed links in pages: GET shows a confirmation page (mail scanners that follow links must not acknowledge),
 * POST acts. The token is the credential: one incident, one action, its recipient, an expiry.
 */
export const linkRoutes: FastifyPluginAsyncZod<{ clock: () => number }> = async (app, { clock }) => {
  const params = z.object({ token: z.string().min(1).max(2000) });
  // Both routes: the token is verified first; an altered or expired one gets the 403 page.
  app.addHook('preHandler', async (req, reply) => {
    reply.type('text/html; charset=utf-8');
    const v = verifyLink(app.linkSecret, (req.params as { token: string }).token, clock());
    if (!v.ok) return reply.code(403).send(page('Link refused', `<p>${REFUSED[v.reason]}</p>`));
    req.linkClaim = v.claim;
  });

  app.get('/v1/links/:token', { schema: { tags: ['paging'], summary: 'Confirmation page of a signed ack/resolve link', params } }, async (req, reply) => {
    const claim = req.linkClaim!;
    const inc = app.incidents.get(claim.incident);
    if (!inc) return reply.code(404).send(page('Incident not found', `<p>Incident #${claim.incident} does not exist.</p>`));
    const verb = claim.action === 'ack' ? 'Acknowledge' : 'Resolve';
    return page(
      `${verb} incident #${inc.id}?`,
      `<p><strong>${esc(inc.priority)} ${esc(inc.region ?? inc.tenant)}</strong>: ${esc(inc.title)}</p><p>State: ${esc(inc.state)}</p>` +
        `<form method="post"><button type="submit" style="font-size:1.2em;padding:.5em 1.5em">${verb} as ${esc(claim.recipient)}</button></form>`,
    );
  });

  app.post('/v1/links/:token', { schema: { tags: ['paging'], summary: 'Acknowledge or resolve through a signed link', params } }, async (req, reply) => {
    const claim = req.linkClaim!;
    try {
      const e = app.incidents.act(claim.incident, claim.action, claim.recipient, 'via signed link', clock());
      app.incidentBus.emit(e);
      return page(`Incident #${claim.incident} ${e.incident.state}`, `<p>Done, ${esc(claim.recipient)}: escalation has stopped.</p>`);
    } catch (err) {
      if (err instanceof AppError && (err.status === 409 || err.status === 404)) return reply.code(err.status).send(page('Nothing to do', `<p>${esc(err.message)}.</p>`));
      throw err;
    }
  });
};

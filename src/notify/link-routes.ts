import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { canAct } from '../incidents/incidents.js';
import type { Incident } from '../incidents/model.js';
import { AppError } from '../shared/http-errors.js';
import { LOCATION, SECURITY, textResponse } from '../shared/openapi.js';
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
 * Every answer of a link route: never cached (the back button shows the incident as it is now, not a stale button),
 * never framed (no clickjacking of the button), and the token in the URL is not sent on as a referrer.
 */
const HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
};

const VERB = { ack: 'Acknowledge', resolve: 'Resolve' } as const;

/** A link made before its incident reopened names the incident as it was then: it no longer acts (410). */
const stale = (inc: Incident) =>
  page(
    'Link from before a reopen',
    `<p>Incident #${inc.id} came back (it was reopened) after this link was sent, so the link no longer acts on it. ` +
      'The reopened incident was paged again: use the link in that newer page, or the API.</p>',
  );

const when = (ms: number | undefined) => (ms === undefined ? '' : ` at ${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`);

/** What has happened to an incident the link can no longer act on: who moved it, when, and what that means. */
function outcome(inc: Incident, recipient: string): string {
  const done = {
    open: undefined,
    acknowledged: ['Acknowledged', inc.acknowledged_by, inc.acknowledged_at],
    mitigated: ['Mitigated', inc.mitigated_by, inc.mitigated_at],
    resolved: ['Resolved', inc.resolved_by, inc.resolved_at],
  }[inc.state] as [string, string | undefined, number | undefined] | undefined;
  if (!done) return '';
  const [verb, by, at] = done;
  const who = by === recipient ? `${by} (you)` : (by ?? 'someone');
  return `<p>${verb} by ${esc(who)}${when(at)}. Escalation has stopped; everyone who was paged is told.</p><p>Nothing more to do with this link.</p>`;
}

/**
 * The signed links in pages: GET shows a confirmation page (mail scanners that follow links must not acknowledge),
 * POST acts and redirects (303) back to it, so the browser's back button and reload show the result and never post
 * again. The token is the credential: one incident, one action, its recipient, an expiry.
 */
export const linkRoutes: FastifyPluginAsyncZod<{ clock: () => number }> = async (app, { clock }) => {
  const params = z.object({ token: z.string().min(1).max(2000) });
  // A browser posts the button's form as application/x-www-form-urlencoded with an empty body; other clients send
  // multipart or no type at all. The path carries everything, so any (small) body is accepted here and ignored.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 4096 }, (_req, _body, done) => done(null, undefined));
  // Both routes: the token is verified first; an altered or expired one gets the 403 page.
  app.addHook('preHandler', async (req, reply) => {
    reply.headers(HEADERS);
    const v = verifyLink(app.linkSecret, (req.params as { token: string }).token, clock());
    if (!v.ok) return reply.code(403).send(page('Link refused', `<p>${REFUSED[v.reason]}</p>`));
    req.linkClaim = v.claim;
  });

  // Every answer is an HTML page for the person who followed the link.
  const html = (description: string, headers?: Record<string, object>) => textResponse('text/html', description, headers);
  const refusals = {
    403: html('The link was altered or has expired'),
    404: html('The incident does not exist'),
    410: html('The incident was reopened since the page: the link is for an older episode'),
  };
  app.get(
    '/v1/links/:token',
    {
      schema: {
        operationId: 'showSignedLink', tags: ['paging'], summary: 'Confirmation page of a signed ack/resolve link', security: SECURITY.none, params,
        response: { 200: html('The confirmation page (a button to act), or who did it and when'), ...refusals },
      },
    },
    async (req, reply) => {
      const claim = req.linkClaim!;
      if (claim.storm !== undefined) return stormPage(claim.storm, claim.recipient, reply);
      const inc = await app.incidents.get(claim.incident);
      if (!inc) return reply.code(404).send(page('Incident not found', `<p>Incident #${claim.incident} does not exist.</p>`));
      if (inc.reopened !== claim.reopened) return reply.code(410).send(stale(inc));
      const summary = `<p><strong>${esc(inc.priority)} ${esc(inc.region ?? inc.tenant)}</strong>: ${esc(inc.title)}</p>`;
      if (!canAct(claim.action, inc.state)) return page(`Incident #${inc.id} ${inc.state}`, summary + outcome(inc, claim.recipient));
      const verb = VERB[claim.action];
      return page(
        `${verb} incident #${inc.id}?`,
        `${summary}<p>State: ${esc(inc.state)}</p>` +
          `<form method="post"><button type="submit" style="font-size:1.2em;padding:.5em 1.5em">${verb} as ${esc(claim.recipient)}</button></form>`,
      );
    },
  );

  app.post(
    '/v1/links/:token',
    {
      schema: {
        operationId: 'actOnSignedLink', tags: ['paging'], summary: 'Acknowledge or resolve through a signed link (303 to the link page)', security: SECURITY.none, params,
        response: { 303: html('Done (or nothing left to do): back to the link page', LOCATION), ...refusals },
      },
    },
    async (req, reply) => {
      const claim = req.linkClaim!;
      const token = (req.params as { token: string }).token;
      if (claim.storm !== undefined) {
        const events = await app.pager.ackStorm(claim.storm, claim.recipient, 'via storm link', clock());
        for (const e of events) app.incidentBus.emit(e);
        return back(reply, token, events.length ? `${events.length} incident${events.length === 1 ? '' : 's'} acknowledged` : `Nothing to do: no incident of storm #${claim.storm} is open`);
      }
      let result: string;
      try {
        const e = await app.incidents.act(claim.incident, claim.action, claim.recipient, 'via signed link', clock(), claim.reopened);
        app.incidentBus.emit(e);
        result = `Incident #${claim.incident} ${e.incident.state}`;
      } catch (err) {
        if (err instanceof AppError && err.status === 404) return reply.code(404).send(page('Incident not found', `<p>Incident #${claim.incident} does not exist.</p>`));
        if (err instanceof AppError && err.status === 410) return reply.code(410).send(stale(await app.incidents.require(claim.incident)));
        // Already acknowledged or resolved (by this link a moment ago, or by someone else): the page says by whom.
        if (!(err instanceof AppError && err.status === 409)) throw err;
        result = `Nothing to do: ${err.message}`;
      }
      return back(reply, token, result);
    },
  );

  /** 303 to the link's own page, relative to /v1/links/: the same link, whatever prefix a proxy serves it under. */
  function back(reply: FastifyReply, token: string, result: string) {
    return reply.code(303).header('location', token).send(page(result, `<p><a href="${esc(token)}">Continue</a></p>`));
  }

  /** A storm link's page: every incident of the storm, and one button acknowledging the open ones. */
  async function stormPage(id: number, recipient: string, reply: FastifyReply) {
    const found = await app.pager.storm(id);
    if (!found) return reply.code(404).send(page('Storm not found', `<p>Storm #${id} does not exist.</p>`));
    const open = found.incidents.filter((i) => i.state === 'open').length;
    const rows = found.incidents
      .map((i) => `<tr><td>#${i.id}</td><td>${esc(i.priority)}</td><td>${esc(i.state)}${i.acknowledged_by ? ` (${esc(i.acknowledged_by)})` : ''}</td><td>${esc(i.region ?? i.tenant)}</td><td>${esc(i.title)}</td></tr>`)
      .join('');
    const list = `<p>${found.incidents.length} incidents of tenant <strong>${esc(found.storm.tenant)}</strong>, ${open} open.</p><table>${rows}</table>`;
    if (!open) return page(`Storm #${id}: none open`, `${list}<p>Nothing left to acknowledge with this link.</p>`);
    return page(
      `Acknowledge storm #${id}?`,
      `${list}<form method="post"><button type="submit" style="font-size:1.2em;padding:.5em 1.5em">Acknowledge all ${open} open as ${esc(recipient)}</button></form>`,
    );
  }
};

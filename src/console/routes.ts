import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { unavailable } from '../shared/http-errors.js';

/** Where `npm run build` puts the console's files (console/build.mjs); the same from src/ (tests) and dist/. */
const PUBLIC = fileURLToPath(new URL('../../dist/public/console/', import.meta.url));

const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'status.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'status.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
  'app.js.map': 'application/json; charset=utf-8',
  'status.js.map': 'application/json; charset=utf-8',
};

/**
 * The console's own pages may load only what the service serves: no inline script, nothing from elsewhere, never
 * framed (clickjacking of the Acknowledge button).
 */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/**
 * The responder console and the customers' status page (console/, built into dist/public/console): a few static
 * files held in memory, each with an ETag; the pages talk to the JSON API. Before `npm run build` they answer 503
 * saying so.
 */
export const consoleRoutes: FastifyPluginAsync = async (app) => {
  const files = new Map<string, { body: Buffer; type: string; etag: string }>();
  for (const [name, type] of Object.entries(FILES)) {
    const path = `${PUBLIC}${name}`;
    if (!existsSync(path)) continue;
    const body = readFileSync(path);
    files.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }

  const serve = (name: string, req: FastifyRequest, reply: FastifyReply) => {
    const f = files.get(name);
    if (!f) {
      if (files.size === 0) throw unavailable('the console is not built: run npm run build', 60);
      return reply.code(404).send({ error: 'not_found', message: `no console file ${name}` });
    }
    reply.headers(SECURITY_HEADERS).header('etag', f.etag).header('cache-control', 'no-cache');
    if (req.headers['if-none-match'] === f.etag) return reply.code(304).send();
    return reply.type(f.type).send(f.body);
  };

  app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/console/'));
  // The console (index.html, with or without the trailing slash) and its files; customers' status page at /status/.
  app.get<{ Params: { file?: string } }>('/console/:file?', { schema: { hide: true } }, async (req, reply) => serve(req.params.file || 'index.html', req, reply));
  app.get('/status/', { schema: { hide: true } }, async (req, reply) => serve('status.html', req, reply));
  app.get('/status', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/status/'));
};

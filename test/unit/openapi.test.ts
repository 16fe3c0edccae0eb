import swagger from '@fastify/swagger';
import Fastify from 'fastify';
import { type ZodTypeProvider, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { badRequest, registerErrorHandler, tooManyRequests } from '../../src/shared/http-errors.js';
import { SECURITY, SECURITY_SCHEMES, errorResponses, jsonResponse, openApiTransform, openApiTransformObject } from '../../src/shared/openapi.js';

type Doc = { components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> }; paths: Record<string, Record<string, { security?: unknown; requestBody?: any; responses: Record<string, { description: string; headers?: Record<string, unknown>; content?: Record<string, unknown> }> }>> };

// A request body with a component id (defined once, as modules define theirs: ids are global), and a field taking a
// number or a string turned into one.
const when = z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]);
const order = z.object({ at: when }).meta({ id: 'TestOrder' });

/** A small app wired as app.ts wires the real one, with one route using the shared vocabulary. */
async function tiny() {
  const app = Fastify().withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandler(app);
  await app.register(swagger, { openapi: { openapi: '3.1.0', info: { title: 't', version: '1' }, components: { securitySchemes: SECURITY_SCHEMES } }, transform: openApiTransform, transformObject: openApiTransformObject });
  app.get(
    '/thing',
    {
      schema: {
        operationId: 'getThing',
        summary: 'A thing',
        security: SECURITY.staff,
        querystring: z.object({ fail: z.enum(['400', '429']).optional() }),
        response: { 200: jsonResponse(z.object({ ok: z.boolean() }), 'The thing'), ...errorResponses(400, 429) },
      },
    },
    async (req) => {
      if (req.query.fail === '429') throw tooManyRequests('slow down', 7);
      if (req.query.fail === '400') throw badRequest('fail: no');
      return { ok: true, extra: 'not in the schema' };
    },
  );
  app.post('/orders/:id/cancel', { schema: { operationId: 'cancelOrder', summary: 'Cancel', security: SECURITY.staff, params: z.object({ id: z.string() }), body: z.object({ why: z.string() }).nullish(), response: { 200: jsonResponse(z.object({ ok: z.boolean() }), 'Cancelled'), ...errorResponses(400) } } }, async () => ({ ok: true }));
  app.post('/orders/raw', { schema: { operationId: 'importOrders', summary: 'Import', security: SECURITY.staff, body: z.unknown(), response: { 202: jsonResponse(z.object({ ok: z.boolean() }), 'Taken'), ...errorResponses(400) } } }, async (_req, reply) =>
    reply.code(202).send({ ok: true }),
  );
  app.post('/orders', { schema: { operationId: 'createOrder', summary: 'An order', security: SECURITY.ingest, body: order, response: { 202: jsonResponse(z.object({ ok: z.boolean() }), 'Taken'), ...errorResponses(400) } } }, async (_req, reply) =>
    reply.code(202).send({ ok: true }),
  );
  await app.ready();
  return app;
}

describe('shared OpenAPI vocabulary', () => {
  let app: Awaited<ReturnType<typeof tiny>> | undefined;
  afterEach(async () => app?.close());

  it('documents described error responses with their body and Retry-After on 429', async () => {
    app = await tiny();
    const op = (app.swagger() as unknown as Doc).paths['/thing']!.get!;
    expect(op.security).toEqual([{ adminToken: [] }, { session: [] }]);
    expect(op.responses['200']!.description).toBe('The thing');
    expect(op.responses['400']!.description).toMatch(/malformed/);
    expect(op.responses['400']!.headers).toBeUndefined();
    expect(op.responses['400']!.content).toEqual({ 'application/json': { schema: { $ref: '#/components/schemas/Error' } } });
    expect(op.responses['429']!.headers).toEqual({ 'Retry-After': { schema: { type: 'integer', minimum: 0 }, description: 'seconds to wait before trying again' } });
  });

  it('still serializes success and error bodies through the described schemas at run time', async () => {
    app = await tiny();
    const ok = await app.inject({ url: '/thing' });
    expect(ok.statusCode).toBe(200);
    // The response schema serializes: fields it does not name are left out.
    expect(ok.json()).toEqual({ ok: true });
    const limited = await app.inject({ url: '/thing?fail=429' });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('7');
    expect(limited.json()).toEqual({ error: 'too_many_requests', message: 'slow down' });
    const bad = await app.inject({ url: '/thing?fail=400' });
    expect(bad.json()).toEqual({ error: 'bad_request', message: 'fail: no' });
  });

  it('keeps every branch of a union, names request-only components plainly, lists only what is used, requires only required bodies', async () => {
    app = await tiny();
    const doc = app.swagger() as unknown as Doc;
    expect(doc.paths['/orders']!.post!.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/TestOrder' });
    // The zod type provider's own transform dropped the transformed branch; its output variant (unused) is gone.
    expect(doc.components.schemas.TestOrder).toMatchObject({ properties: { at: { anyOf: [{ type: 'integer' }, { type: 'string', pattern: '^\\d+$' }] } } });
    expect(Object.keys(doc.components.schemas).sort()).toEqual(['Error', 'TestOrder']);
    // A body that may be left out (nullish, or with a default) is not required; others are.
    expect(doc.paths['/orders']!.post!.requestBody.required).toBe(true);
    expect(doc.paths['/orders/{id}/cancel']!.post!.requestBody.required).toBe(false);
    // A body of any shape (read by the handler) says nothing either way: required.
    expect(doc.paths['/orders/raw']!.post!.requestBody.required).toBe(true);
    expect(JSON.stringify(doc)).not.toContain('x-optional-body');
    expect((await app.inject({ method: 'POST', url: '/orders/7/cancel' })).statusCode).toBe(200);
    // Schemes no operation accepts are left out (unused components are a lint warning).
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['adminToken', 'ingestKey', 'ingestKeyQuery', 'session']);
  });

  it('names an audience for every way in, and none as an explicit empty requirement', () => {
    for (const alternatives of Object.values(SECURITY)) {
      for (const requirement of alternatives) for (const scheme of Object.keys(requirement)) expect(SECURITY_SCHEMES).toHaveProperty(scheme);
    }
    expect(SECURITY.none).toEqual([]);
  });
});

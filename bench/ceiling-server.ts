import Fastify from 'fastify';

/**
 * The stack's ceiling: a bare fastify app (qoswatch's fastify version) whose only route parses the same JSON with
 * fastify's default parser and answers 202 {accepted: n}, as qoswatch does; no validation, journal or aggregation.
 * Run as its own process (bench/ceiling.ts starts it) so its CPU is measured like the service's.
 */
const app = Fastify({ bodyLimit: 5 * 1024 ** 2 });
app.post('/v1/telemetry', async (req, reply) => reply.code(202).send({ accepted: (req.body as { samples: unknown[] }).samples.length }));
app.get('/healthz', async () => ({ ok: true }));
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });

import type { FastifyRequest } from 'fastify';
import pino, { type DestinationStream, type Logger } from 'pino';
import { redactUrl } from './tenants/auth.js';

/**
 * The service logger. Secrets never reach it: request URLs are logged with `?key=` masked, headers are not logged,
 * and error messages are written not to contain keys or tokens (tests check both).
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      serializers: {
        req: (req: FastifyRequest) => ({ method: req.method, url: redactUrl(req.url), remoteAddress: req.ip }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
        err: pino.stdSerializers.err,
      },
      redact: { paths: ['*.authorization', '*.headers.authorization', 'key', 'token'], censor: '[redacted]' },
    },
    destination,
  );
}

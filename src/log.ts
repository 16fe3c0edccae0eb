import type { FastifyRequest } from 'fastify';
import pino, { type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { redactUrl } from './util/redact-url.js';

/** `auto`: human-readable on a terminal, JSON (one object per line, for collectors) otherwise. */
export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * Where the lines go: the given stream, else stdout — through pino-pretty when a person reads it. The pretty
 * stream writes synchronously, so the last lines before an exit are not lost and nothing is left to flush.
 */
function output(format: LogFormat, destination: DestinationStream | undefined): DestinationStream | undefined {
  if (destination || !(format === 'pretty' || (format === 'auto' && process.stdout.isTTY))) return destination;
  return pretty({
    sync: true,
    colorize: process.stdout.isTTY === true,
    translateTime: 'SYS:HH:MM:ss.l',
    // A request on one line: "GET /v1/rules 200 4.2 ms"; the fields it came from are not repeated below it.
    ignore: 'hostname,reqId,req,res,responseTime',
    messageFormat: (log, key) => {
      const req = log.req as { method?: string; url?: string } | undefined;
      const res = log.res as { statusCode?: number } | undefined;
      const request = req ? ` ${req.method} ${req.url}${res ? ` ${res.statusCode} ${String(log.responseTime)} ms` : ''}` : '';
      return `${String(log[key])}${request}`;
    },
  });
}

/**
 * The service logger. Secrets never reach it: request URLs are logged with credentials masked (util/redact-url.ts:
 * query parameters after decoding, signed-link tokens in the path), headers are not logged,
 * and error messages are written not to contain keys or tokens (tests check both).
 */
export function createLogger(level: string, destination?: DestinationStream, format: LogFormat = 'json'): Logger {
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
    output(format, destination),
  );
}

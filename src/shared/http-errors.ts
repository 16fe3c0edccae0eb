import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ZodError } from 'zod';
import { formatPath } from './field-path.js';

/** An error with an HTTP status and a stable machine-readable code; its message is shown to the client. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string) => new AppError(400, 'bad_request', message);
export const unauthorized = (message: string) => new AppError(401, 'unauthorized', message, { 'www-authenticate': 'Bearer' });
export const forbidden = (message: string) => new AppError(403, 'forbidden', message);
export const notFound = (message: string) => new AppError(404, 'not_found', message);
export const conflict = (message: string) => new AppError(409, 'conflict', message);
export const payloadTooLarge = (message: string) => new AppError(413, 'payload_too_large', message);
export const unsupportedMediaType = (message: string) => new AppError(415, 'unsupported_media_type', message);
export const tooManyRequests = (message: string, retryAfterSeconds: number) =>
  new AppError(429, 'too_many_requests', message, { 'retry-after': String(retryAfterSeconds) });
export const unavailable = (message: string, retryAfterSeconds = 1) =>
  new AppError(503, 'unavailable', message, { 'retry-after': String(retryAfterSeconds) });

export interface ErrorBody {
  error: string;
  message: string;
}

/** Turns a zod error into one line naming each field: "samples: must hold at least one sample". */
export function describeZodError(err: ZodError, prefix = ''): string {
  return err.issues
    .map((i) => {
      const path = formatPath([...(prefix ? [prefix] : []), ...i.path]);
      if (i.code === 'unrecognized_keys') return i.keys.map((k) => `${path ? `${path}.` : ''}${k}: unknown field`).join('; ');
      return `${path || '(body)'}: ${i.message}`;
    })
    .join('; ');
}

/** Maps fastify's own errors (codes FST_ERR_*) to statuses and codes. */
const FASTIFY_ERRORS: Record<string, { status: number; code: string; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'payload_too_large', message: 'request body is larger than the limit' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'bad_request', message: 'body is empty' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'bad_request' },
  FST_ERR_CTP_EMPTY_TYPE: { status: 415, code: 'unsupported_media_type', message: 'Content-Type header is missing' },
};

/** The one error handler: typed errors to their status, everything unexpected to a 500 without internals. */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) => {
    const send = (status: number, body: ErrorBody, headers: Record<string, string> = {}) => reply.code(status).headers(headers).send(body);
    if (err instanceof AppError) return send(err.status, { error: err.code, message: err.message }, err.headers);
    if (err instanceof ZodError) return send(400, { error: 'bad_request', message: describeZodError(err) });
    if (hasZodFastifySchemaValidationErrors(err)) {
      const where = err.validationContext ?? 'request';
      const message = err.validation.map((v) => `${where}${v.instancePath.replaceAll('/', '.').replace(/\.$/, '')}: ${v.message ?? 'invalid'}`).join('; ');
      return send(400, { error: 'bad_request', message });
    }
    const fe = err as FastifyError;
    if (err instanceof SyntaxError || fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      return send(400, { error: 'bad_request', message: 'body is not valid JSON' });
    }
    const known = fe.code ? FASTIFY_ERRORS[fe.code] : undefined;
    if (known) return send(known.status, { error: known.code, message: known.message ?? fe.message });
    if (fe.statusCode === 429) return send(429, { error: 'too_many_requests', message: fe.message });
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      return send(fe.statusCode, { error: 'bad_request', message: fe.message });
    }
    req.log.error({ err }, 'request failed');
    return send(500, { error: 'internal', message: 'internal error; see the server log' });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` });
  });
}

/** The `error` of each answer clientErrorHandler gives (and the reason it counts). */
export const CLIENT_ERRORS = ['request_timeout', 'headers_too_large', 'bad_request'] as const;

/**
 * Answers what Node's HTTP parser refuses before fastify sees a request — a request not received in full within
 * the request timeout (slow clients), oversized headers, malformed HTTP — in the API's `{error, message}` shape, then
 * closes the connection. `refused` counts each by reason.
 */
export function clientErrorHandler(requestTimeoutMs: number, refused: (reason: (typeof CLIENT_ERRORS)[number]) => void) {
  return (err: NodeJS.ErrnoException, socket: import('node:net').Socket): void => {
    // A reset connection has nobody left to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const [status, text, body]: [number, string, ErrorBody & { error: (typeof CLIENT_ERRORS)[number] }] =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', { error: 'request_timeout', message: `the request was not received in full within ${requestTimeoutMs / 1000} s` }]
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'Request Header Fields Too Large', { error: 'headers_too_large', message: 'request headers are larger than the limit' }]
          : [400, 'Bad Request', { error: 'bad_request', message: 'malformed HTTP request' }];
    refused(body.error);
    const json = JSON.stringify(body);
    if (socket.writable) {
      socket.write(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`);
    }
    socket.destroy();
  };
}

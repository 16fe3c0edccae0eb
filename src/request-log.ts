import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';

const isUpgrade = (req: FastifyRequest) => req.headers.upgrade?.toLowerCase() === 'websocket';

/** Health probes and metrics scrapes: an orchestrator and a scraper call them every few seconds. */
const ROUTINE = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * One log line per request, when it is answered: fastify's own controller writes two (incoming, completed) and a
 * third for a 404. A WebSocket upgrade is logged when it arrives (it gets no HTTP answer). Telemetry — every beacon
 * and CMCD report of every viewer — is logged at debug only, unless `telemetryAtInfo`: /metrics counts its outcomes and times.
 * Health probes and scrapes that succeed are logged at debug too; a failing one (a 503 readyz, a refused scrape) is not
 * routine.
 */
export class RequestLog extends LogController {
  constructor(private readonly telemetryAtInfo: boolean) {
    super();
  }

  private level(req: FastifyRequest, status?: number): 'info' | 'debug' {
    const route = req.routeOptions.url ?? '';
    if (!this.telemetryAtInfo && (route.startsWith('/v1/telemetry') || route === '/v1/cmcd')) return 'debug';
    return ROUTINE.has(route) && status !== undefined && status < 300 ? 'debug' : 'info';
  }

  override incomingRequest(req: FastifyRequest): void {
    if (isUpgrade(req)) req.log[this.level(req)]({ req }, 'websocket upgrade');
  }

  override requestCompleted(error: Error | null | undefined, req: FastifyRequest, reply: FastifyReply): void {
    if (isUpgrade(req)) return;
    const line = { req, res: reply, responseTime: Math.round(reply.elapsedTime * 10) / 10 };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else req.log[this.level(req, reply.statusCode)](line, 'request completed');
  }

  /** The completed line says 404. */
  override routeNotFound(): void {}
}

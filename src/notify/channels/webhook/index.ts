import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { type ChatProvider, type Verdict, statusVerdict, endpointUrl } from '../../channel.js';

/**
 * Generic JSON webhook: qoswatch's own format, for receivers we do not have a provider for.
 *
 * Request: `POST <url>` with `content-type: application/json` and the body described by `WebhookBody`, whose
 * fields always appear in that order (absent values are `null`, never missing).
 *
 * Signing (HMAC-SHA256 with the endpoint's shared `secret`):
 *   X-Timestamp:     <unix time in seconds when the request was built>
 *   X-Signature:     sha256=<lowercase hex of HMAC-SHA256(secret, "<X-Timestamp>.<raw body>")>
 *   Idempotency-Key: <the page's key, also in the body as `key`>
 * A receiver verifies by recomputing the HMAC over the timestamp, a dot and the raw body bytes exactly as
 * received (before any JSON parsing), comparing in constant time, and rejecting timestamps more than a few
 * minutes from its clock (replay). Delivery is at-least-once: a retry carries the same Idempotency-Key (and a
 * fresh timestamp and signature), so receivers drop keys they have already processed.
 *
 * Success is any 2xx; 408, 429 and 5xx are retried, other answers are not.
 */
export interface WebhookConfig {
  readonly url: string;
  /** Shared HMAC key, at least 16 characters. */
  readonly secret: string;
  /** Extra request headers (typically credentials for the receiver, e.g. Authorization). */
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

/** Headers qoswatch sets itself (compared lower-case); config may not override them. */
const RESERVED = ['content-type', 'content-length', 'host', 'x-timestamp', 'x-signature', 'idempotency-key'];

const configSchema = z.strictObject({
  url: endpointUrl('the webhook endpoint'),
  secret: z
    .string({ error: (i) => (i.input === undefined ? 'secret is required (the HMAC-SHA256 signing key)' : 'secret must be a string') })
    .min(16, 'secret must be at least 16 characters'),
  headers: z
    .record(
      z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/),
      z.string({ error: 'header values in headers must be strings' }).regex(/^[^\r\n\0]*$/, 'header values in headers may not contain line breaks'),
      { error: (i) => (i.code === 'invalid_key' ? "a header name in headers may only contain letters, digits and !#$%&'*+.^_`|~-" : i.code === 'invalid_type' ? 'headers must map header names to values' : undefined) },
    )
    .refine((h) => !Object.keys(h).some((k) => RESERVED.includes(k.toLowerCase())), { error: (i) => `the ${reservedIn(i.input as Record<string, string>)} header is set by qoswatch and cannot be configured in headers` })
    .optional(),
});

const reservedIn = (h: Record<string, string>) => Object.keys(h).find((k) => RESERVED.includes(k.toLowerCase()));

/**
 * The JSON document a webhook receives (stable: fields keep this order, absent values are null). Strings are the
 * values as they are — region, title, text and timeline carry telemetry posted with a public ingest key, and
 * people's names and notes — so a receiver that renders them must escape them for its own markup.
 */
export interface WebhookBody {
  kind: string;
  /** Idempotency key: the same page retried or re-sent after a restart has the same key. */
  key: string;
  incident: {
    id: number;
    priority: string;
    state: string;
    tenant: string;
    region: string | null;
    title: string;
    text: string;
    runbook: string | null;
    /** Latest entries, oldest first. */
    timeline: string[];
  };
  links: { ack: string | null; resolve: string | null; incident: string | null };
  /** The recipient's handle for this endpoint, if the person has one. */
  mention: string | null;
  /** A storm page (many incidents of one tenant paged as one; `incident.id` is 0): the incidents it covers. */
  storm: { id: number; incidents: { id: number; priority: string; state: string; title: string; regions: string[] }[] } | null;
  /** A customer update (`incident.id` is 0): the ticket's public id, as the tenant's ticket view shows it. */
  ticket: string | null;
}

/** Hex HMAC-SHA256 of "<timestamp>.<body>": the X-Signature value without its "sha256=" prefix. */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

export const webhook: ChatProvider<WebhookConfig> = {
  id: 'webhook',
  configSchema,
  /** The URL may embed a token, the secret signs, and configured headers exist to carry credentials. */
  secrets: (config) => [config.url, config.secret, ...Object.values(config.headers ?? {})],

  request(config, page, now) {
    const doc: WebhookBody = {
      kind: page.kind,
      key: page.key,
      incident: {
        id: page.incidentId,
        priority: page.priority,
        state: page.state,
        tenant: page.tenant,
        region: page.region ?? null,
        title: page.title,
        text: page.text,
        runbook: page.runbook ?? null,
        timeline: [...page.timeline],
      },
      links: { ack: page.ackUrl ?? null, resolve: page.resolveUrl ?? null, incident: page.incidentUrl ?? null },
      mention: page.mention ?? null,
      storm: page.storm ? { id: page.storm.id, incidents: page.storm.incidents.map((i) => ({ id: i.id, priority: i.priority, state: i.state, title: i.title, regions: [...i.regions] })) } : null,
      ticket: page.ticket ?? null,
    };
    const body = JSON.stringify(doc);
    const timestamp = Math.floor(now / 1000);
    return {
      url: config.url,
      headers: {
        ...config.headers,
        'content-type': 'application/json',
        'X-Timestamp': String(timestamp),
        'X-Signature': `sha256=${webhookSignature(config.secret, timestamp, body)}`,
        'Idempotency-Key': page.key,
      },
      body,
    };
  },

  check(status, body): Verdict {
    return statusVerdict(status, body) ?? { ok: true };
  },
};

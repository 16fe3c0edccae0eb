import { z } from 'zod';
import type { PageKind } from '../shared/paging.js';
import type { Priority } from '../shared/priority.js';


/**
 * Everything a channel needs to render one page; providers turn it into their documented payload. Its strings are
 * raw text, partly from telemetry (a public ingest key: region and dimension values) and from people (names,
 * notes): each channel shows them as text with the functions of markup.ts, and links only the URLs fields hold.
 */
export interface PageMessage {
  readonly kind: PageKind;
  readonly incidentId: number;
  readonly priority: Priority;
  readonly tenant: string;
  readonly region: string | undefined;
  readonly state: string;
  /** One line: "P1 eu-west: stall_ratio 7.5% (> 0.05)". */
  readonly title: string;
  /** A few lines: what fired, the values, what changed. */
  readonly text: string;
  readonly runbook: string | undefined;
  /** Latest timeline entries, oldest first: "14:03 qoswatch opened …". */
  readonly timeline: readonly string[];
  /** Signed links (absent when no public URL is configured). */
  readonly ackUrl: string | undefined;
  readonly resolveUrl: string | undefined;
  readonly incidentUrl: string | undefined;
  /** The recipient's handle on this provider (a team channel has none). */
  readonly mention: string | undefined;
  /** Idempotency key of the outbox row; providers that accept one send it. */
  readonly key: string;
  /**
   * A storm page: many incidents of one tenant at once, paged as one (`incidentId` is 0, `text` lists them, the ack
   * link acknowledges every open one). Providers that carry structured data pass the list on.
   */
  readonly storm?: { readonly id: number; readonly incidents: readonly StormIncident[] } | undefined;
  /**
   * A customer update of a ticket: its public id. Customers see no number of the service's global sequences, so
   * `incidentId` is 0 and `key` is opaque.
   */
  readonly ticket?: string | undefined;
}

/** One incident of a storm page. */
export interface StormIncident {
  readonly id: number;
  readonly priority: Priority;
  readonly state: string;
  readonly title: string;
  /** Its region; for an incident collecting alert groups over the tenant's open-incident budget, theirs. */
  readonly regions: readonly string[];
}

export interface HttpRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** A provider's verdict on its response: chat providers report failures in the body of an HTTP 200. */
export type Verdict = { readonly ok: true } | { readonly ok: false; readonly retryable: boolean; readonly reason: string };

/**
 * One chat provider: its config schema, the request for a page (payload and signature as its documentation
 * says), and the success check on its response. Adding a provider is one folder under channels/ and one line in
 * the registry, which does not compile until the provider is complete.
 */
export interface ChatProvider<C> {
  readonly id: string;
  /** Config of one endpoint (a group robot, a webhook URL…), as written in the on-call file. */
  readonly configSchema: z.ZodType<C>;
  /** Values that must never appear in logs or errors (webhook URLs carry tokens, secrets sign requests). */
  secrets(config: C): string[];
  /** The HTTP request for a page; `now` (epoch ms) is used for signed timestamps. */
  request(config: C, page: PageMessage, now: number): HttpRequest;
  check(status: number, body: string): Verdict;
}

/** Status-based fallback shared by providers: 429 and 5xx are worth retrying, other 4xx are not. */
export function statusVerdict(status: number, body: string): Verdict | undefined {
  if (status >= 200 && status < 300) return undefined;
  return { ok: false, retryable: status === 429 || status >= 500 || status === 408, reason: `HTTP ${status}${body ? `: ${body.slice(0, 200)}` : ''}` };
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/**
 * A provider endpoint URL: https, or plain http to a loopback address (a local relay, tests). The provider's host
 * is not enforced (self-hosted Lark, egress proxies) but its documented path/query shape is, to catch pasting the
 * wrong URL. `hint` says what the URL is, e.g. "the robot webhook, https://oapi.dingtalk.com/robot/send?access_token=…".
 */
export function endpointUrl(hint: string, shape?: (u: URL) => boolean) {
  return z
    .url({ protocol: /^https?$/, abort: true, error: (i) => (i.input === undefined ? `url is required (${hint})` : `url must be an https URL (${hint})`) })
    .refine((u) => new URL(u).protocol === 'https:' || LOOPBACK.test(new URL(u).hostname), { error: 'url must use https (plain http only to a loopback address such as 127.0.0.1)', abort: true })
    .refine((u) => !shape || shape(new URL(u)), `url must be ${hint}`);
}

/** A chat robot's reply: a result code (0 = success) and its message. */
export interface CodeReply {
  readonly code: number;
  readonly msg: string | undefined;
}

/** Reads `{errcode, errmsg}` (DingTalk, WeCom). */
export function errcodeReply(r: Record<string, unknown>): CodeReply | undefined {
  return typeof r.errcode === 'number' ? { code: r.errcode, msg: typeof r.errmsg === 'string' ? r.errmsg : undefined } : undefined;
}

/**
 * The response check of robots that answer HTTP 200 with a result code in the body: code 0 is a delivery, any
 * other a failure (retryable for the provider's rate-limit codes, 429 and 5xx), with the provider's message and
 * what the code means; a body that is not the provider's reply falls back to the status.
 */
export function codeCheck(
  provider: string,
  read: (json: Record<string, unknown>) => CodeReply | undefined,
  retryable: ReadonlySet<number>,
  meaning: Readonly<Record<number, string>>,
): (status: number, body: string) => Verdict {
  return (status, body) => {
    let reply: CodeReply | undefined;
    try {
      const json: unknown = JSON.parse(body);
      if (typeof json === 'object' && json !== null) reply = read(json as Record<string, unknown>);
    } catch {
      reply = undefined;
    }
    if (status >= 200 && status < 300 && reply?.code === 0) return { ok: true };
    if (reply !== undefined && reply.code !== 0) {
      const why = [reply.msg?.slice(0, 200), meaning[reply.code]].filter((x) => x !== undefined).join(' — ') || 'no message';
      return { ok: false, retryable: retryable.has(reply.code) || status === 429 || status >= 500, reason: `HTTP ${status}, ${provider} ${reply.code}: ${why}` };
    }
    return statusVerdict(status, body) ?? { ok: false, retryable: false, reason: `HTTP ${status} without a ${provider.split(' ')[0]} reply: ${JSON.stringify(body.slice(0, 200))}` };
  };
}

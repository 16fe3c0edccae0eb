import { z } from 'zod';
import { type ChatProvider, type Verdict, statusVerdict, endpointUrl } from '../../channel.js';
import { inert } from '../../markup.js';
import { facts, links, runbookUrl, timelineTail } from '../../render.js';

/**
 * Microsoft Teams through a Workflows (Power Automate) "post to a channel when a webhook request is received"
 * flow: a JSON POST of a message with one Adaptive Card attachment. The flow answers 202 Accepted (some tenants
 * 200) with an empty body; a flow that fails answers a JSON `{"error": {"code", "message"}}`, sometimes with a 2xx.
 * A mention is `<at>handle</at>` in the card's text plus a matching `msteams.entities` mention (handle: the
 * person's UPN or Entra object id).
 */
export interface TeamsConfig {
  /** https://…logic.azure.com/workflows/…?…&sig=…, or an api.powerautomate.com URL: the signature is the credential. */
  readonly url: string;
}

const configSchema = z.strictObject({
  url: endpointUrl('the Teams Workflows webhook URL'),
});

/** TextBlock text is Markdown (links, emphasis, lists): only for what qoswatch writes itself (mention, headings). */
const textBlock = (text: string, more: Record<string, unknown> = {}) => ({ type: 'TextBlock', text, wrap: true, ...more });
/**
 * A RichTextBlock of TextRuns, which Teams shows as written (the schema: TextRun does not support Markdown): the
 * place for text qoswatch did not write. inert() keeps clients from linking bare URLs in it.
 */
const richText = (runs: readonly Record<string, unknown>[], more: Record<string, unknown> = {}) => ({ type: 'RichTextBlock', inlines: runs.map((r) => ({ type: 'TextRun', ...r })), ...more });

/** Errors worth another try: throttling and transient server trouble. */
const TRANSIENT = /throttl|toomanyrequests|timeout|temporar|unavailable|\b429\b|\b5\d\d\b/i;

export const teams: ChatProvider<TeamsConfig> = {
  id: 'teams',
  configSchema,
  secrets: (config) => [config.url],

  request(config, page) {
    const at = page.mention === undefined ? undefined : `<at>${page.mention}</at>`;
    const timeline = timelineTail(page);
    const runbook = runbookUrl(page);
    const content = {
      $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
      type: 'AdaptiveCard',
      version: '1.4',
      body: [
        richText([{ text: inert(page.title), size: 'Medium', weight: 'Bolder', ...(page.kind !== 'resolved' && (page.priority === 'P0' || page.priority === 'P1') && { color: 'Attention' }) }]),
        ...(at === undefined ? [] : [textBlock(at)]),
        ...(page.text === '' ? [] : page.text.split('\n').map((line, i) => richText([{ text: inert(line) }], i === 0 ? {} : { spacing: 'None' }))),
        // Fact values are Markdown in Teams: the facts are TextRuns instead of a FactSet.
        ...facts(page).map(([label, value], i) => richText([{ text: `${label}: `, weight: 'Bolder' }, { text: inert(value) }], { spacing: i === 0 ? 'Medium' : 'None' })),
        ...(page.runbook === undefined ? [] : [richText([{ text: 'Runbook: ', weight: 'Bolder' }, { text: page.runbook, ...(runbook !== undefined && { underline: true, selectAction: { type: 'Action.OpenUrl', url: runbook } }) }], { spacing: 'Medium' })]),
        ...(timeline.length === 0 ? [] : [textBlock('**Timeline**', { spacing: 'Medium' }), ...timeline.map((line) => richText([{ text: inert(line), isSubtle: true }], { spacing: 'None' }))]),
      ],
      actions: links(page).map((l) => ({ type: 'Action.OpenUrl', title: l.label, url: l.url })),
      ...(at !== undefined && { msteams: { entities: [{ type: 'mention', text: at, mentioned: { id: page.mention, name: page.mention } }] } }),
    };
    return {
      url: config.url,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content }] }),
    };
  },

  check(status, body): Verdict {
    const byStatus = statusVerdict(status, body);
    if (byStatus) return byStatus;
    if (status !== 200 && status !== 202) return { ok: false, retryable: false, reason: `HTTP ${status}: expected 200 or 202` };
    const error = errorIn(body);
    if (error === undefined) return { ok: true };
    return { ok: false, retryable: TRANSIENT.test(error), reason: `HTTP ${status} with an error: ${error.slice(0, 200)}` };
  },
};

/**
 * The error a 2xx answer reports, if any: a JSON `error` object (Power Automate), or the legacy connector's
 * "Webhook message delivery failed with error: …" text.
 */
function errorIn(body: string): string | undefined {
  const text = body.trim();
  if (/^webhook message delivery failed/i.test(text)) return text;
  if (!text.startsWith('{')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const error = (parsed as { error?: unknown }).error;
  if (error === undefined || error === null || error === false) return undefined;
  if (typeof error !== 'object') return String(error);
  const { code, message } = error as { code?: unknown; message?: unknown };
  return [code, message].filter((x) => typeof x === 'string' && x !== '').join(': ') || JSON.stringify(error);
}

import { z } from 'zod';
import { type ChatProvider, type Verdict, statusVerdict, endpointUrl } from '../../channel.js';
import { escapeMrkdwn, inert } from '../../markup.js';
import { facts, links, runbookUrl, timelineTail, truncate } from '../../render.js';

/**
 * Slack incoming webhook (https://api.slack.com/messaging/webhooks): a JSON POST with `text` (the notification
 * fallback) and Block Kit `blocks`. Slack answers HTTP 200 with the body `ok`; anything else is an error code,
 * usually with a 4xx status (see "Handling errors" on that page).
 */
export interface SlackConfig {
  /** https://hooks.slack.com/services/T…/B…/<token>: the path is the credential. */
  readonly url: string;
}

const configSchema = z.strictObject({
  url: endpointUrl('the Slack incoming-webhook URL'),
});

/** Error bodies documented for incoming webhooks, with what the operator has to do about them. */
const ERRORS: Readonly<Record<string, string>> = {
  invalid_payload: 'Slack could not parse the payload',
  no_text: 'the message has no text',
  missing_text_or_fallback_or_attachments: 'the message has no text',
  too_many_attachments: 'too many attachments',
  invalid_blocks: 'Slack rejected the blocks',
  user_not_found: 'the webhook’s user no longer exists',
  channel_not_found: 'the webhook’s channel no longer exists',
  channel_is_archived: 'the webhook’s channel is archived',
  action_prohibited: 'an admin has restricted posting to the channel',
  posting_to_general_channel_denied: 'only admins may post to the channel',
  invalid_token: 'the webhook URL’s token is invalid or revoked',
  no_service: 'the webhook is disabled, removed or invalid',
  no_service_id: 'the webhook URL is incomplete',
  no_team: 'the webhook URL’s workspace is missing or invalid',
  team_disabled: 'the Slack workspace is disabled',
  rollup_error: 'Slack failed to post the message',
};

/** Text qoswatch did not write (telemetry, people): escaped, and nothing in it linked or mentioned. */
const text = (s: string) => escapeMrkdwn(inert(s));
/** mrkdwn that Slack shows as written: no URL linked, no name or @channel parsed beyond the explicit `<…>` tokens. */
const mrkdwn = (t: string) => ({ type: 'mrkdwn', text: t, verbatim: true });
/** A link to a URL qoswatch was configured with (`|` would start the label). */
const link = (url: string) => `<${escapeMrkdwn(url).replace(/\|/g, '%7C')}>`;

export const slack: ChatProvider<SlackConfig> = {
  id: 'slack',
  configSchema,
  secrets: (config) => [config.url],

  request(config, page) {
    const mention = page.mention === undefined ? '' : `<@${escapeMrkdwn(page.mention)}> `;
    const summary = mention + text(page.text);
    const runbook = runbookUrl(page);
    const timeline = timelineTail(page);
    const buttons = links(page).map((l) => ({
      type: 'button',
      action_id: `qoswatch_${l.id}`,
      text: { type: 'plain_text', text: l.label },
      url: l.url,
      ...(l.id === 'ack' && { style: 'primary' }),
    }));
    const blocks = [
      { type: 'header', text: { type: 'plain_text', text: truncate(inert(page.title), 150), emoji: true } },
      ...(summary.trim() === '' ? [] : [{ type: 'section', text: mrkdwn(truncate(summary, 3000)) }]),
      { type: 'context', elements: facts(page).map(([label, value]) => mrkdwn(`*${label}:* ${text(value)}`)) },
      ...(page.runbook === undefined ? [] : [{ type: 'section', text: mrkdwn(runbook ? `*Runbook:* ${link(runbook)}` : truncate(`*Runbook:* ${escapeMrkdwn(page.runbook)}`, 3000)) }]),
      ...(timeline.length === 0 ? [] : [{ type: 'section', text: mrkdwn(truncate(`*Timeline*\n${timeline.map(text).join('\n')}`, 3000)) }]),
      ...(buttons.length === 0 ? [] : [{ type: 'actions', elements: buttons }]),
    ];
    return {
      url: config.url,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ text: mention + text(page.title), blocks }),
    };
  },

  check(status, body): Verdict {
    if (status === 200 && body === 'ok') return { ok: true };
    const code = body.trim();
    const meaning = ERRORS[code];
    const byStatus = statusVerdict(status, body);
    if (byStatus && !byStatus.ok) return meaning ? { ...byStatus, reason: `HTTP ${status} ${code}: ${meaning}` } : byStatus;
    return { ok: false, retryable: false, reason: meaning ? `HTTP ${status} ${code}: ${meaning}` : `HTTP ${status} without "ok": ${JSON.stringify(body.slice(0, 200))}` };
  },
};

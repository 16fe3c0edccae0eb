import { createHmac } from 'node:crypto';
import { z } from 'zod';
import type { Priority } from '../../../shared/priority.js';
import { type ChatProvider, type CodeReply, codeCheck, endpointUrl } from '../../channel.js';
import { inert } from '../../markup.js';
import { facts, links, runbookUrl, timelineTail, truncate } from '../../render.js';

/**
 * Feishu / Lark custom bot (open.feishu.cn/document/client-docs/bot-v3/add-custom-bot): a JSON POST of an
 * interactive card. With signature verification on, the body also carries `timestamp` (unix seconds, a string)
 * and `sign` = base64(HMAC-SHA256 keyed with "<timestamp>\n<secret>" over an empty message). Feishu answers
 * HTTP 200 with `{"code":0,"msg":"success"}` (older deployments: `StatusCode: 0`); any other code is a failure.
 */
export interface FeishuConfig {
  /** https://open.feishu.cn/open-apis/bot/v2/hook/<token> (or open.larksuite.com): the token is the credential. */
  readonly url: string;
  /** Set when the bot has "signature verification" enabled. */
  readonly secret?: string | undefined;
}

const HOOK_PATH = '/open-apis/bot/v2/hook/';
const URL_HINT = 'the bot webhook, https://open.feishu.cn/open-apis/bot/v2/hook/… or https://open.larksuite.com/open-apis/bot/v2/hook/…';

const configSchema = z.strictObject({
  url: endpointUrl(URL_HINT, ({ pathname }) => pathname.startsWith(HOOK_PATH) && pathname.length > HOOK_PATH.length),
  secret: z.string({ error: 'secret must be a string (the bot’s signature-verification secret)' }).min(1, 'secret must not be empty (omit it when signature verification is off)').optional(),
});

/** Card header templates by priority. */
const TEMPLATE: Record<Priority, string> = { P0: 'red', P1: 'orange', P2: 'yellow', P3: 'blue' };

/** Codes worth retrying: 11232 is Feishu's rate limit ("frequency limited"). */
const RETRYABLE = new Set([11232]);
/** Documented codes, with what they mean for the operator. */
const MEANING: Readonly<Record<number, string>> = {
  9499: 'bad request (the payload was rejected)',
  11232: 'frequency limited',
  19021: 'signature check failed (wrong secret, or the clock is more than an hour off)',
  19022: 'the caller’s IP address is not allowed',
  19024: 'the message lacks the bot’s required keywords',
};

/** Card markdown (lark_md) parses `<…>` as tags: the handle (from the on-call file) must not close or open one. */
const esc = (s: string) => s.replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** `<at id=…>` for open_id/user_id handles, `<at email=…>` for addresses (both documented for card markdown). */
const at = (handle: string) => (handle.includes('@') ? `<at email=${esc(handle)}></at>` : `<at id=${esc(handle)}></at>`);

/** Markdown, only for what qoswatch writes itself: the mention and headings. */
const md = (content: string) => ({ tag: 'div', text: { tag: 'lark_md', content } });
/**
 * Text qoswatch did not write (telemetry, people's notes) goes into plain_text, which Feishu shows as written: no
 * link, image, `<at>` or `<at id=all>` in it is rendered; inert() keeps clients from linking bare URLs in it.
 */
const plain = (content: string) => ({ tag: 'div', text: { tag: 'plain_text', content } });

function feishuSign(timestampSeconds: string, secret: string): string {
  return createHmac('sha256', `${timestampSeconds}\n${secret}`).update('').digest('base64');
}

export const feishu: ChatProvider<FeishuConfig> = {
  id: 'feishu',
  configSchema,
  secrets: (config) => [config.url, ...(config.secret === undefined ? [] : [config.secret])],

  request(config, page, now) {
    const timeline = timelineTail(page);
    const runbook = runbookUrl(page);
    const buttons = [...links(page), ...(runbook === undefined ? [] : [{ id: 'runbook', label: 'Runbook', url: runbook }])].map((l) => ({
      tag: 'button',
      text: { tag: 'plain_text', content: l.label },
      type: l.id === 'ack' ? 'primary' : 'default',
      url: l.url,
    }));
    const elements = [
      ...(page.mention === undefined ? [] : [md(at(page.mention))]),
      ...(page.text === '' ? [] : [plain(truncate(inert(page.text), 4000))]),
      { tag: 'div', fields: facts(page).map(([label, value]) => ({ is_short: true, text: { tag: 'plain_text', content: `${label}: ${inert(value)}` } })) },
      ...(page.runbook === undefined || runbook !== undefined ? [] : [plain(truncate(`Runbook: ${page.runbook}`, 2000))]),
      ...(timeline.length === 0 ? [] : [md('**Timeline**'), plain(truncate(timeline.map(inert).join('\n'), 4000))]),
      ...(buttons.length === 0 ? [] : [{ tag: 'action', actions: buttons }]),
    ];
    const card = {
      config: { wide_screen_mode: true },
      header: { title: { tag: 'plain_text', content: truncate(inert(page.title), 200) }, template: TEMPLATE[page.priority] },
      elements,
    };
    const timestamp = String(Math.floor(now / 1000));
    const signature = config.secret === undefined ? {} : { timestamp, sign: feishuSign(timestamp, config.secret) };
    return {
      url: config.url,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ ...signature, msg_type: 'interactive', card }),
    };
  },

  check: codeCheck('Feishu code', feishuReply, RETRYABLE, MEANING),
};

/** `{code, msg}`, or the legacy `{StatusCode, StatusMessage}`. */
function feishuReply(r: Record<string, unknown>): CodeReply | undefined {
  const code = typeof r.code === 'number' ? r.code : typeof r.StatusCode === 'number' ? r.StatusCode : undefined;
  if (code === undefined) return undefined;
  return { code, msg: typeof r.msg === 'string' ? r.msg : typeof r.StatusMessage === 'string' ? r.StatusMessage : undefined };
}

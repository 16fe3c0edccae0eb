import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { type ChatProvider, type PageMessage, codeCheck, endpointUrl, errcodeReply } from '../../channel.js';
import { escapeChatMarkdown, inert, markdownLinkTarget } from '../../markup.js';
import { facts, links, runbookUrl, timelineTail, truncate } from '../../render.js';

/**
 * DingTalk custom robot (open.dingtalk.com/document/robots/custom-robot-access): a JSON POST to
 * https://oapi.dingtalk.com/robot/send?access_token=…. With "加签" (signing) on, the URL also carries
 * `&timestamp=<epoch ms>&sign=<urlencode(base64(HMAC-SHA256 keyed with the secret over "<timestamp>\n<secret>"))>`.
 * A page with links is an actionCard with one button per link, unless it mentions someone (DingTalk only notifies
 * mentions in text/markdown messages): then, and without links, it is markdown. DingTalk answers
 * HTTP 200 with `{"errcode":0,"errmsg":"ok"}`; any other errcode is a failure.
 */
export interface DingtalkConfig {
  /** https://oapi.dingtalk.com/robot/send?access_token=<token>: the token is the credential. */
  readonly url: string;
  /** The signing secret ("SEC…") when the robot's security setting is 加签. */
  readonly secret?: string | undefined;
}

const URL_HINT = 'the robot webhook, https://oapi.dingtalk.com/robot/send?access_token=…';

const configSchema = z.strictObject({
  url: endpointUrl(URL_HINT, (url) => url.pathname === '/robot/send' && (url.searchParams.get('access_token') ?? '') !== '')
    .refine((u) => !/[?&](timestamp|sign)=/.test(u), 'url must not carry timestamp or sign: they are added to each request from secret'),
  secret: z
    .string({ error: 'secret must be a string (the robot’s signing secret, "SEC…")' })
    .regex(/^SEC\w+$/, 'secret must be the robot’s signing secret, which starts with "SEC" (not the access token)')
    .optional(),
});

/** Codes worth retrying: -1 is "system busy", 130101 and 410100 are DingTalk's send-rate limits. */
const RETRYABLE = new Set([-1, 130101, 410100]);
const MEANING: Readonly<Record<number, string>> = {
  [-1]: 'DingTalk is busy',
  130101: 'sending too fast (a robot may send 20 messages a minute)',
  300001: 'the access token is invalid',
  310000: 'rejected by the robot’s security settings (keywords, signature or IP allow-list)',
  410100: 'sending too fast',
};

/** A mobile number ("13800000000", "+86-13800000000") goes to atMobiles; anything else is a DingTalk user id. */
const isMobile = (handle: string) => /^(\+\d{1,4}-)?\d{5,15}$/.test(handle);

function mentionOf(page: PageMessage) {
  if (page.mention === undefined) return undefined;
  return { text: `@${page.mention}`, at: isMobile(page.mention) ? { atMobiles: [page.mention] } : { atUserIds: [page.mention] } };
}

/** Text qoswatch did not write (telemetry, people's notes): shown as text, nothing in it linked or mentioned. */
const text = (s: string) => escapeChatMarkdown(inert(s));
const link = (label: string, url: string) => `[${escapeChatMarkdown(label)}](${markdownLinkTarget(url)})`;

/** The markdown body: title, mention, text, facts, runbook and the latest timeline lines. */
function markdown(page: PageMessage, mention: string | undefined): string {
  const timeline = timelineTail(page);
  const runbook = runbookUrl(page);
  const blocks = [
    `### ${text(page.title)}`,
    ...(mention === undefined ? [] : [mention]),
    truncate(page.text, 4000).split('\n').map(text).join('\n\n'),
    facts(page).map(([label, value]) => `- **${label}:** ${text(value)}`).join('\n'),
    ...(page.runbook === undefined ? [] : [`**Runbook:** ${runbook === undefined ? escapeChatMarkdown(truncate(page.runbook, 2000)) : link(runbook, runbook)}`]),
    ...(timeline.length === 0 ? [] : [`**Timeline**\n\n${timeline.map((l) => `- ${text(truncate(l, 500))}`).join('\n')}`]),
  ];
  return blocks.join('\n\n');
}

export const dingtalk: ChatProvider<DingtalkConfig> = {
  id: 'dingtalk',
  configSchema,
  secrets: (config) => [config.url, ...(config.secret === undefined ? [] : [config.secret])],

  request(config, page, now) {
    const mention = mentionOf(page);
    const title = truncate(inert(page.title), 200);
    const body = markdown(page, mention?.text);
    const btns = links(page).map((l) => ({ title: l.label, actionURL: l.url }));
    // DingTalk notifies @-mentioned people only for text and markdown messages: a page for a person is markdown
    // with the links inline; a team page without a mention gets the buttons of an actionCard.
    const message =
      btns.length === 0 || mention
        ? { msgtype: 'markdown', markdown: { title, text: mention ? `${body}\n\n${links(page).map((l) => link(l.label, l.url)).join(' · ')}`.trimEnd() : body } }
        : { msgtype: 'actionCard', actionCard: { title, text: body, btnOrientation: '1', btns } };
    let url = config.url;
    if (config.secret !== undefined) {
      const timestamp = String(Math.trunc(now));
      const sign = createHmac('sha256', config.secret).update(`${timestamp}\n${config.secret}`).digest('base64');
      url += `&timestamp=${timestamp}&sign=${encodeURIComponent(sign)}`;
    }
    return {
      url,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ ...message, ...(mention && { at: mention.at }) }),
    };
  },

  check: codeCheck('DingTalk errcode', errcodeReply, RETRYABLE, MEANING),
};


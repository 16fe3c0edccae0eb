import { z } from 'zod';
import type { Priority } from '../../../shared/priority.js';
import { type ChatProvider, type PageMessage, codeCheck, endpointUrl, errcodeReply } from '../../channel.js';
import { escapeChatMarkdown, inert, markdownLinkTarget } from '../../markup.js';
import { facts, links, runbookUrl, timelineTail, truncate } from '../../render.js';

/**
 * WeCom (企业微信) group robot (developer.work.weixin.qq.com/document/path/91770): a JSON POST of
 * `{"msgtype":"markdown","markdown":{"content":…}}` to https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=….
 * The content is at most 4096 bytes of UTF-8; its markdown has `<font color="info|comment|warning">`, links and
 * `<@userid>` mentions, but no buttons, so the ack/resolve links are markdown links. WeCom answers HTTP 200 with
 * `{"errcode":0,"errmsg":"ok"}`; any other errcode is a failure.
 */
export interface WecomConfig {
  /** https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=<key>: the key is the credential. */
  readonly url: string;
}

const URL_HINT = 'the group robot webhook, https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…';

const configSchema = z.strictObject({
  url: endpointUrl(URL_HINT, (url) => url.pathname === '/cgi-bin/webhook/send' && (url.searchParams.get('key') ?? '') !== ''),
});

/** The documented limit of markdown.content, in bytes of UTF-8. */
const WECOM_MAX_BYTES = 4096;

/** WeCom markdown has three colours: warning (orange-red) for pages that wake people, grey for the rest. */
const COLOUR: Record<Priority, 'warning' | 'comment'> = { P0: 'warning', P1: 'warning', P2: 'comment', P3: 'comment' };

/** Codes worth retrying: -1 is "system busy", 45009 the robot's rate limit (20 messages a minute). */
const RETRYABLE = new Set([-1, 45009]);
const MEANING: Readonly<Record<number, string>> = {
  [-1]: 'WeCom is busy',
  45009: 'rate limited (a robot may send 20 messages a minute)',
  93000: 'invalid webhook URL (wrong key, or the robot was removed from the group)',
};

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** Cuts `s` to at most `max` bytes of UTF-8 on a code-point boundary, marking a cut with an ellipsis. */
function cutBytes(s: string, max: number): string {
  if (bytes(s) <= max) return s;
  let room = max - bytes('…');
  if (room < 0) return '';
  let out = '';
  for (const ch of s) {
    if (bytes(ch) > room) break;
    room -= bytes(ch);
    out += ch;
  }
  return `${out}…`;
}

/**
 * Joins lines within `max` bytes. Whole lines are kept in order; the first that does not fit is cut if it is plain
 * text (cutting a line with markup could leave a tag or link open) or dropped with an ellipsis line otherwise.
 */
function fitLines(lines: readonly { line: string; plain: boolean }[], max: number): string {
  const out: string[] = [];
  let used = 0;
  for (const { line, plain } of lines) {
    const sep = out.length === 0 ? 0 : 1;
    if (used + sep + bytes(line) <= max) {
      out.push(line);
      used += sep + bytes(line);
      continue;
    }
    const room = max - used - sep;
    if (room >= bytes('…')) out.push(plain ? cutBytes(line, room) : '…');
    break;
  }
  return out.join('\n');
}

/** Text qoswatch did not write (telemetry, people's notes): shown as text, nothing in it linked or mentioned. */
const text = (s: string) => escapeChatMarkdown(inert(s));
const link = (label: string, url: string) => `[${escapeChatMarkdown(label)}](${markdownLinkTarget(url)})`;

/** The message: a coloured title and the mention first, the links last, and what lies between cut to fit. */
function wecomContent(page: PageMessage): string {
  const head = `## <font color="${COLOUR[page.priority]}">${text(truncate(page.title, 200))}</font>${page.mention === undefined ? '' : `\n<@${truncate(page.mention, 200)}>`}`;
  const linkLine = links(page).map((l) => link(l.label, l.url)).join(' · ');
  const runbook = runbookUrl(page);
  const body = [
    // Escaped text may be cut anywhere (plain): every prefix of it is escaped text.
    ...page.text.split('\n').map((line) => ({ line: text(line), plain: true })),
    ...facts(page).map(([label, value]) => ({ line: `> ${label}: <font color="comment">${text(value)}</font>`, plain: false })),
    ...(page.runbook === undefined ? [] : [runbook === undefined ? { line: `Runbook: ${escapeChatMarkdown(page.runbook)}`, plain: true } : { line: `Runbook: ${link(runbook, runbook)}`, plain: false }]),
    ...timelineTail(page).map((l) => ({ line: `> <font color="comment">${text(l)}</font>`, plain: false })),
  ];
  const fixed = bytes(head) + 1 + (linkLine === '' ? 0 : 1 + bytes(linkLine));
  const content = [head, fitLines(body, WECOM_MAX_BYTES - fixed), ...(linkLine === '' ? [] : [linkLine])].join('\n');
  // Only absurdly long links could still overflow: never send more than WeCom accepts.
  return cutBytes(content, WECOM_MAX_BYTES);
}

export const wecom: ChatProvider<WecomConfig> = {
  id: 'wecom',
  configSchema,
  secrets: (config) => [config.url],

  request(config, page) {
    return {
      url: config.url,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ msgtype: 'markdown', markdown: { content: wecomContent(page) } }),
    };
  },

  check: codeCheck('WeCom errcode', errcodeReply, RETRYABLE, MEANING),
};


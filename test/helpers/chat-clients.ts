import { Parser } from 'htmlparser2';
import LinkifyIt from 'linkify-it';
import type { ParsedMail } from 'mailparser';

/**
 * How people see a page: each chat client's reading of the request body its provider received, a mail client's
 * reading of an email, and a Markdown renderer's reading of a document (a postmortem), written from the providers'
 * documented markup and independently of the code under test.
 * A reading lists everything live in a message — links and buttons, images a client loads, people notified,
 * mentions of everyone, scripts — and the text people see.
 *
 * The readers are deliberately credulous: they honour no escape character that a provider does not document as
 * one (a backslash is text to them), they find links, images and tags wherever the syntax appears whole, and they
 * link bare URLs, host names, e-mail and IPv4 addresses in any text people see (linkify-it, the linkifier of
 * markdown-it and mailparser, with IPv4 on as mailparser has it) — as chat and mail clients do.
 */
export interface Reading {
  /** The text people see, zero-width characters left out (they are invisible). */
  text: string;
  /** Targets of links and buttons. */
  links: string[];
  /** Images a client loads. */
  images: string[];
  /** People the message notifies, as the provider names them. */
  mentions: string[];
  /** Mentions of everyone: all, channel, here, everyone. */
  broadcasts: string[];
  /** HTML that runs: script-like elements and event-handler attributes. */
  active: string[];
}

const LINKIFY = new LinkifyIt().set({ fuzzyLink: true, fuzzyEmail: true, fuzzyIP: true });
const BROADCAST = new Set(['all', 'channel', 'here', 'everyone']);

type Json = any;

class Reader {
  private readonly shown: string[] = [];
  readonly links: string[] = [];
  readonly images: string[] = [];
  readonly mentions: string[] = [];
  readonly broadcasts: string[] = [];
  readonly active: string[] = [];

  /** Text people see, with the links a client finds in it. */
  see(text: string): void {
    this.shown.push(text);
    for (const m of LINKIFY.match(text) ?? []) this.links.push(m.url);
  }

  mention(id: string): void {
    if (BROADCAST.has(id.replace(/^@/, '').toLowerCase())) this.broadcasts.push(id);
    else this.mentions.push(id);
  }

  done(): Reading {
    return { text: this.shown.join('\n').replace(/\u200B/g, ''), links: this.links, images: this.images, mentions: this.mentions, broadcasts: this.broadcasts, active: this.active };
  }
}

/** `&lt;`, `&#60;`, `&#x3c;` and the like, as Markdown and HTML renderers decode them. */
function decodeEntities(s: string): string {
  const named: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'", nbsp: '\u00a0' };
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, e: string) => {
    if (e[0] !== '#') return named[e.toLowerCase()] ?? whole;
    const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return Number.isFinite(code) ? String.fromCodePoint(code) : whole;
  });
}

/** A Markdown link destination without angle brackets or title. */
const destination = (d: string) => d.trim().replace(/^<([^>]*)>.*$/, '$1').split(/\s+/)[0]!;

/** Inline links, images and autolinks wherever they appear whole; returns what is shown instead of them. */
function markdownLinks(r: Reader, s: string): string {
  return s
    .replace(/!\[([^\]]*)\]\(([^)]*)\)/g, (_, alt: string, dest: string) => {
      r.images.push(destination(dest));
      return alt;
    })
    .replace(/\[([^\]]*)\]\(([^)]*)\)/g, (_, label: string, dest: string) => {
      r.links.push(destination(dest));
      return label;
    })
    .replace(/^ {0,3}\[([^\]]+)\]:\s*(\S+).*$/gm, (_, _label: string, dest: string) => {
      r.links.push(destination(dest));
      return '';
    })
    .replace(/<([a-z][a-z0-9+.-]{1,31}:[^<>\s]*)>/gi, (_, url: string) => {
      r.links.push(url);
      return url;
    });
}

/** HTML tags inside Markdown: `<a href>` links, `<img src>` images, handlers run; other tags only style. */
function inlineHtml(r: Reader, s: string): string {
  return s.replace(/<(\/?)([a-z][a-z0-9-]*)((?:\s[^<>]*)?)\/?>/gi, (_, _close: string, name: string, attrs: string) => {
    const attr = (n: string) => new RegExp(`\\b${n}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(attrs)?.slice(1).find((v) => v !== undefined);
    const tag = name.toLowerCase();
    if (tag === 'a' && attr('href') !== undefined) r.links.push(attr('href')!);
    if (tag === 'img' && attr('src') !== undefined) r.images.push(attr('src')!);
    if (/^(script|iframe|object|embed)$/.test(tag) || /\bon[a-z]+\s*=/i.test(attrs)) r.active.push(`<${name}${attrs}>`);
    return '';
  });
}

/** The Markdown of DingTalk and WeCom robots and of Teams TextBlocks (and Feishu's lark_md, plus its tags). */
function chatMarkdown(r: Reader, s: string): void {
  r.see(decodeEntities(inlineHtml(r, markdownLinks(r, s))));
}

/** Text as DingTalk or WeCom Markdown (a WeCom client also reads `<@userid>`), for tests of one escaping function. */
export function readChatMarkdown(s: string): Reading {
  return readWecom(JSON.stringify({ msgtype: 'markdown', markdown: { content: s } }));
}

/** Text as a Slack mrkdwn text object, verbatim or not. */
export function readMrkdwn(s: string, verbatim: boolean): Reading {
  return readSlack(JSON.stringify({ blocks: [{ type: 'section', text: { type: 'mrkdwn', text: s, verbatim } }] }));
}

// --- Slack (Block Kit, mrkdwn) ------------------------------------------------------------------------------

/**
 * Slack mrkdwn: `<url|text>`, `<@U…>` user, `<!subteam^…>` group, `<#C…>` channel and `<!channel>`, `<!here>`,
 * `<!everyone>` tokens; `&amp;`, `&lt;`, `&gt;` are text. Unless the text object is `verbatim`, Slack also links
 * bare URLs and parses @channel, @here and @everyone.
 */
function mrkdwn(r: Reader, s: string, verbatim: boolean): void {
  const unescape = (t: string) => t.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  const shown = s.replace(/<([^<>]*)>/g, (_, inner: string) => {
    const bar = inner.indexOf('|');
    const target = bar < 0 ? inner : inner.slice(0, bar);
    const label = bar < 0 ? undefined : inner.slice(bar + 1);
    if (target.startsWith('@')) {
      r.mention(target.slice(1));
      return `@${label ?? target.slice(1)}`;
    }
    if (target.startsWith('!')) {
      const command = target.slice(1).split('^')[0]!;
      if (command === 'subteam') r.mention(target);
      else if (BROADCAST.has(command)) r.broadcasts.push(command);
      return label ?? `@${command}`;
    }
    if (target.startsWith('#')) {
      r.links.push(`slack-channel:${target.slice(1)}`);
      return `#${label ?? target.slice(1)}`;
    }
    r.links.push(unescape(target));
    return label ?? target;
  });
  const text = unescape(shown);
  if (!verbatim) for (const m of text.matchAll(/@(channel|here|everyone)\b/g)) r.broadcasts.push(m[1]!);
  r.see(text);
}

function slackText(r: Reader, t: Json): void {
  if (t.type === 'plain_text') r.see(t.text);
  else if (t.type === 'mrkdwn') mrkdwn(r, t.text, t.verbatim === true);
  else throw new Error(`not a Slack text object: ${JSON.stringify(t)}`);
}

function slackElement(r: Reader, e: Json): void {
  if (e.type === 'image') r.images.push(e.image_url);
  else if (e.type === 'button') {
    slackText(r, e.text);
    if (e.url !== undefined) r.links.push(e.url);
  } else slackText(r, e);
}

export function readSlack(body: string): Reading {
  const msg = JSON.parse(body);
  const r = new Reader();
  // The top-level text is the notification (and the fallback without blocks): parsed, never verbatim.
  if (typeof msg.text === 'string') mrkdwn(r, msg.text, false);
  for (const b of msg.blocks ?? []) {
    if (b.type === 'header' || b.type === 'section') {
      if (b.text) slackText(r, b.text);
      for (const f of b.fields ?? []) slackText(r, f);
      if (b.accessory) slackElement(r, b.accessory);
    } else if (b.type === 'context' || b.type === 'actions') {
      for (const e of b.elements) slackElement(r, e);
    } else if (b.type === 'image') r.images.push(b.image_url);
    else if (b.type !== 'divider') throw new Error(`a block Slack would reject or this reader does not know: ${b.type}`);
  }
  return r.done();
}

// --- Feishu / Lark (interactive card) -----------------------------------------------------------------------

/** lark_md: Markdown links, `<a href>`, `<at id=…>` (id "all": everyone) and `<at email=…>`, `<font>`; entities. */
function larkMd(r: Reader, s: string): void {
  const shown = s.replace(/<at\s+([^>]*)>([^<]*)<\/at>/gi, (_, attrs: string) => {
    const id = /\b(?:id|user_id|open_id|email)\s*=\s*["']?([^"'\s>]+)/i.exec(attrs)?.[1] ?? '';
    r.mention(id);
    return `@${id}`;
  });
  chatMarkdown(r, shown);
}

function larkText(r: Reader, t: Json): void {
  if (t.tag === 'plain_text') r.see(t.content);
  else if (t.tag === 'lark_md') larkMd(r, t.content);
  else throw new Error(`not a Feishu text object: ${JSON.stringify(t)}`);
}

function larkElement(r: Reader, e: Json): void {
  switch (e.tag) {
    case 'div':
      if (e.text) larkText(r, e.text);
      for (const f of e.fields ?? []) larkText(r, f.text);
      if (e.extra) larkElement(r, e.extra);
      break;
    case 'markdown':
      larkMd(r, e.content);
      break;
    case 'plain_text':
    case 'lark_md':
      larkText(r, e);
      break;
    case 'img':
      r.images.push(e.img_key);
      break;
    case 'note':
      for (const x of e.elements) larkElement(r, x);
      break;
    case 'action':
      for (const x of e.actions) larkElement(r, x);
      break;
    case 'button':
      larkText(r, e.text);
      if (e.url !== undefined) r.links.push(e.url);
      for (const u of Object.values(e.multi_url ?? {})) if (typeof u === 'string' && u !== '') r.links.push(u);
      break;
    case 'hr':
      break;
    default:
      throw new Error(`a card element Feishu would reject or this reader does not know: ${e.tag}`);
  }
}

export function readFeishu(body: string): Reading {
  const msg = JSON.parse(body);
  const r = new Reader();
  if (msg.msg_type !== 'interactive') throw new Error(`this reader knows interactive cards, not ${msg.msg_type}`);
  if (msg.card.header) larkText(r, msg.card.header.title);
  for (const e of msg.card.elements) larkElement(r, e);
  return r.done();
}

// --- DingTalk -----------------------------------------------------------------------------------------------

/** Markdown and actionCard text is DingTalk Markdown; only the `at` lists (and isAtAll) notify anyone. */
export function readDingtalk(body: string): Reading {
  const msg = JSON.parse(body);
  const r = new Reader();
  switch (msg.msgtype) {
    case 'text':
      r.see(msg.text.content);
      break;
    case 'markdown':
      r.see(msg.markdown.title); // the conversation list and notification show the title as it is
      chatMarkdown(r, msg.markdown.text);
      break;
    case 'actionCard':
      r.see(msg.actionCard.title);
      chatMarkdown(r, msg.actionCard.text);
      for (const b of msg.actionCard.btns ?? []) {
        r.see(b.title);
        r.links.push(b.actionURL);
      }
      if (msg.actionCard.singleURL) r.links.push(msg.actionCard.singleURL);
      break;
    default:
      throw new Error(`this reader does not know the DingTalk msgtype ${msg.msgtype}`);
  }
  for (const m of [...(msg.at?.atMobiles ?? []), ...(msg.at?.atUserIds ?? [])]) r.mention(m);
  if (msg.at?.isAtAll === true) r.broadcasts.push('all');
  return r.done();
}

// --- WeCom --------------------------------------------------------------------------------------------------

/** WeCom markdown: Markdown links, `<font>`, and `<@userid>` mentions. */
export function readWecom(body: string): Reading {
  const msg = JSON.parse(body);
  const r = new Reader();
  if (msg.msgtype === 'markdown') {
    const shown = (msg.markdown.content as string).replace(/<@([^<>]+)>/g, (_, id: string) => {
      r.mention(id);
      return `@${id}`;
    });
    chatMarkdown(r, shown);
  } else if (msg.msgtype === 'text') {
    r.see(msg.text.content);
    for (const m of [...(msg.text.mentioned_list ?? []), ...(msg.text.mentioned_mobile_list ?? [])]) r.mention(m);
  } else throw new Error(`this reader does not know the WeCom msgtype ${msg.msgtype}`);
  return r.done();
}

// --- Microsoft Teams (Adaptive Card) ------------------------------------------------------------------------

/**
 * Adaptive Cards: TextBlock text and fact titles and values are Markdown (links, emphasis), with `<at>name</at>`
 * notifying whoever the card's msteams mention entity with that exact text names; TextRuns are plain text, linked
 * only by their selectAction; images load.
 */
export function readTeams(body: string): Reading {
  const msg = JSON.parse(body);
  const r = new Reader();
  for (const a of msg.attachments) {
    const card = a.content;
    const entities: Json[] = card.msteams?.entities ?? [];
    const markdown = (s: string) =>
      chatMarkdown(
        r,
        s.replace(/<at>([^<]*)<\/at>/g, (whole, name: string) => {
          const e = entities.find((x) => x.type === 'mention' && x.text === whole);
          if (e) r.mention(e.mentioned.id);
          return name;
        }),
      );
    const action = (x: Json) => {
      if (x.title !== undefined) r.see(x.title);
      if (x.type === 'Action.OpenUrl') r.links.push(x.url);
      else if (x.type === 'Action.ShowCard') element({ type: 'Container', items: x.card.body });
    };
    const element = (e: Json): void => {
      if (e.selectAction) action(e.selectAction);
      switch (e.type) {
        case 'TextBlock':
          markdown(e.text);
          break;
        case 'RichTextBlock':
          for (const i of e.inlines) {
            if (typeof i === 'string') r.see(i);
            else {
              r.see(i.text);
              if (i.selectAction) action(i.selectAction);
            }
          }
          break;
        case 'FactSet':
          for (const f of e.facts) {
            markdown(f.title);
            markdown(f.value);
          }
          break;
        case 'Image':
          r.images.push(e.url);
          break;
        case 'ImageSet':
          for (const i of e.images) element(i);
          break;
        case 'Container':
          for (const i of e.items) element(i);
          break;
        case 'ColumnSet':
          for (const c of e.columns ?? []) for (const i of c.items ?? []) element(i);
          break;
        case 'ActionSet':
          for (const x of e.actions) action(x);
          break;
        default:
          throw new Error(`an element Teams would reject or this reader does not know: ${e.type}`);
      }
    };
    for (const e of card.body) element(e);
    for (const x of card.actions ?? []) action(x);
  }
  return r.done();
}

// --- Email --------------------------------------------------------------------------------------------------

/** HTML as a mail client shows it: anchors, images, anything that runs, and the text, which it links too. */
export function readHtml(html: string): Reading {
  const r = new Reader();
  // The parser may hand one run of text over in pieces (around entities): a run ends at a tag.
  let run = '';
  const flush = () => {
    if (run !== '') r.see(run);
    run = '';
  };
  const parser = new Parser(
    {
      onopentag(name, attribs) {
        flush();
        if (name === 'a' && attribs.href !== undefined) r.links.push(attribs.href);
        if (name === 'img' && attribs.src !== undefined) r.images.push(attribs.src);
        if (/^(script|iframe|object|embed|form)$/.test(name)) r.active.push(name);
        for (const [k, v] of Object.entries(attribs)) {
          if (/^on/i.test(k)) r.active.push(`${name} ${k}`);
          if (k === 'style' && /url\(/i.test(v)) r.images.push(v);
        }
      },
      onclosetag() {
        flush();
      },
      ontext(text) {
        run += text;
      },
    },
    { decodeEntities: true },
  );
  parser.write(html);
  parser.end();
  flush();
  return r.done();
}

/** Plain text (a text/plain mail part) as a mail client shows it: links found in it. */
export function readText(text: string): Reading {
  const r = new Reader();
  r.see(text);
  return r.done();
}

/** Both parts of a mail: the HTML, and the text part as mailparser renders it (linkified, like mail clients). */
export function readMail(m: ParsedMail): { html: Reading; text: Reading } {
  if (typeof m.html !== 'string' || typeof m.textAsHtml !== 'string') throw new Error('the mail lacks an HTML or a text part');
  return { html: readHtml(m.html), text: readHtml(m.textAsHtml) };
}

// --- Markdown documents (postmortems) -----------------------------------------------------------------------

/** A Markdown document's reading: a Reading plus its headings and the raw HTML a renderer that allows it would keep. */
export interface DocumentReading extends Reading {
  /** Heading texts, in order (ATX `#` and setext `===`/`---` headings). */
  headings: string[];
  /** Raw HTML tags. */
  html: string[];
}

/**
 * Markdown as a CommonMark/GFM renderer that also allows raw HTML reads it (GitHub, GitLab, most wikis): backslash
 * escapes and entities make text; otherwise ATX and setext headings, link reference definitions, inline links,
 * images, autolinks, raw HTML tags, and (GFM) bare URLs, www. hosts and e-mail addresses are live.
 */
export function readMarkdown(md: string): DocumentReading {
  const r = new Reader();
  const headings: string[] = [];
  const html: string[] = [];
  // An escaped punctuation character is text: hide it from the syntax below, restore it for the reading.
  const escaped = (s: string) => s.replace(/\\([!-/:-@[-`{-~])/g, (_, c: string) => String.fromCharCode(0xe000 + c.charCodeAt(0)));
  const restore = (s: string) => s.replace(/[\ue000-\ue07f]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xe000));
  const inline = (s: string): string => {
    let t = markdownLinks(r, s);
    t = t.replace(/<[a-z][a-z0-9.+-]*@[^<>\s]+>/gi, (m) => {
      r.links.push(`mailto:${m.slice(1, -1)}`);
      return m.slice(1, -1);
    });
    t = t.replace(/<\/?[a-z][a-z0-9-]*(?:\s[^<>]*)?\/?>/gi, (tag) => {
      html.push(tag);
      inlineHtml(r, tag);
      return '';
    });
    return decodeEntities(restore(t));
  };
  const lines = escaped(md).split('\n');
  lines.forEach((line, i) => {
    const atx = /^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/.exec(line);
    const next = lines[i + 1];
    const setext = next !== undefined && /^ {0,3}(?:=+|-+)[ \t]*$/.test(next) && line.trim() !== '' && !/^ {0,3}([-*+]|\d+[.)]|>|#)/.test(line);
    const shown = inline(atx ? (atx[1] ?? '') : line);
    if (atx || setext) headings.push(shown.replace(/\u200B/g, '').trim());
    r.see(shown);
  });
  return { ...r.done(), headings, html };
}

/** A chat provider's reading of a request body it received. */
export function readChat(provider: string, body: string): Reading {
  switch (provider) {
    case 'slack':
      return readSlack(body);
    case 'feishu':
      return readFeishu(body);
    case 'dingtalk':
      return readDingtalk(body);
    case 'wecom':
      return readWecom(body);
    case 'teams':
      return readTeams(body);
    default:
      throw new Error(`no client reader for ${provider}`);
  }
}

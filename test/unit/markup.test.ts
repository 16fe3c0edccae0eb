import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeChatMarkdown, escapeMarkdown, escapeMrkdwn, inert, markdownLinkTarget } from '../../src/notify/markup.js';
import { readChatMarkdown, readMarkdown, readMrkdwn, readText } from '../helpers/chat-clients.js';

/** The escaping functions of src/notify/markup.ts, each checked against a client's reading (test/helpers/chat-clients.ts). */

const ZWSP = /\u200B/g;
const visible = (s: string) => s.replace(ZWSP, '');

/** Strings of syntax pieces a hostile region name is made of. */
const PIECES = [
  'https', 'http', 'mailto', 'www', 'evil', 'com', 'co', 'рф', 'a', '1', '10', '255', ':', '//', '/', '.', '@', '-', '_', '?', '=',
  '&', '#', '%', ' ', '[', ']', '(', ')', '<', '>', '!', '|', '*', '~', '`', '+', '\n', 'all', 'channel', 'here', 'at', 'id=', 'img', 'src=', 'a href=', '"',
];
const hostile = fc.array(fc.constantFrom(...PIECES), { maxLength: 20 }).map((a) => a.join(''));
const noLive = (r: { links: string[]; images: string[]; mentions: string[]; broadcasts: string[]; active: string[] }) =>
  r.links.length + r.images.length + r.mentions.length + r.broadcasts.length + r.active.length === 0;

describe('inert', () => {
  it.each([
    'https://evil.com/ack',
    'mailto:a@evil.com',
    '//evil.com/x',
    'evil.com',
    'www.evil.com',
    'sub.evil.co.uk/path?q=1',
    'a@evil.com',
    '10.0.0.1/ack',
    'evil.рф',
    'ftp://1.2.3.4',
  ])('leaves nothing for a linkifier in %s, and shows it unchanged', (s) => {
    expect(readText(s).links, 'before').not.toEqual([]);
    const out = inert(s);
    expect(readText(out).links).toEqual([]);
    expect(visible(out)).toBe(s);
  });

  it('leaves no link in any string of URL pieces, and changes nothing people see', () => {
    fc.assert(
      fc.property(hostile, (s) => {
        const out = inert(s);
        return readText(out).links.length === 0 && visible(out) === s;
      }),
      { numRuns: 20_000 },
    );
  });

  it('breaks @all, @channel and e-mail addresses', () => {
    expect(inert('@all @channel a@b')).toBe('@\u200Ball @\u200Bchannel a@\u200Bb');
  });

  it.each(['stall_ratio 0.3 (> 0.2, window 60000 ms)', '12:00:00 qoswatch opened', 'ratio: 7.5%', 'eu-west', 'P1 eu-west: stall_ratio 30%', 'v1.2.3'])(
    'leaves %j alone (numbers, times and prose)',
    (s) => {
      expect(inert(s)).toBe(s);
    },
  );
});

describe('escapeMrkdwn (Slack)', () => {
  it('escapes &, < and > as Slack documents', () => {
    expect(escapeMrkdwn('a & b < c > d &amp;')).toBe('a &amp; b &lt; c &gt; d &amp;amp;');
  });

  it('leaves no link, mention or broadcast token, and Slack shows the text as it was', () => {
    fc.assert(
      fc.property(hostile, (s) => {
        const r = readMrkdwn(escapeMrkdwn(inert(s)), true);
        return noLive(r) && r.text === s;
      }),
      { numRuns: 20_000 },
    );
  });

  it('is needed: unescaped, the same text mentions, broadcasts and links', () => {
    const r = readMrkdwn('<@U0BOSS> <!channel> <https://evil.com|Ack>', true);
    expect([r.mentions, r.broadcasts, r.links]).toEqual([['U0BOSS'], ['channel'], ['https://evil.com']]);
  });
});

describe('escapeChatMarkdown (DingTalk, WeCom)', () => {
  it.each([
    ['[Ack](https://evil.com/ack)', 'links'],
    ['![t](https://evil.com/t.png)', 'images'],
    ['<https://evil.com/ack>', 'links'],
    ['<a href="https://evil.com">Ack</a>', 'links'],
    ['<img src=https://evil.com/t.png onerror=alert(1)>', 'images'],
    ['<@U0BOSS>', 'mentions'],
    ['<@all>', 'broadcasts'],
    ['[ref]: https://evil.com/ref', 'links'],
  ] as const)('disarms %s (with inert for the URL text, which clients link by itself)', (s, what) => {
    expect(readChatMarkdown(s)[what], 'before').not.toEqual([]);
    const r = readChatMarkdown(escapeChatMarkdown(inert(s)));
    expect(r[what]).toEqual([]);
    expect(r.text).toBe(s);
  });

  it('leaves nothing live in any string of syntax pieces (with inert), and shows the text', () => {
    fc.assert(
      fc.property(hostile, (s) => {
        const r = readChatMarkdown(escapeChatMarkdown(inert(s)));
        return noLive(r) && (s.includes('&') || visible(escapeChatMarkdown(inert(s))) === s);
      }),
      { numRuns: 20_000 },
    );
  });

  it.each(['# heading', '## h', '> quote', '- item', '* item', '+ item', '1. item', '2) item', '---', '***', '___', '===', '-', '    code', '\tcode', '```js', '~~~', '| a | b |', ':--|--:'])(
    'keeps %j a line of text wherever it starts a line',
    (line) => {
      expect(escapeChatMarkdown(line)).toBe(`\u200B${line}`);
      expect(escapeChatMarkdown(`text\n${line}`)).toBe(`text\n\u200B${line}`);
    },
  );

  it.each(['#12', '1.5%', 'x - y', 'a*b*c', '12:00:00 opened', 'eu-west'])('leaves %j alone', (s) => {
    expect(escapeChatMarkdown(s)).toBe(s);
  });
});

describe('escapeMarkdown (CommonMark/GFM with raw HTML: postmortems)', () => {
  it('escapes &, < and > as entities and the inline control characters with a backslash', () => {
    expect(escapeMarkdown('a & <b> `c` *d* _e_ [f] |g| ~h~ \\i')).toBe('a &amp; &lt;b&gt; \\`c\\` \\*d\\* \\_e\\_ \\[f\\] \\|g\\| \\~h\\~ \\\\i');
  });

  it.each(['# heading', '  ## h', '+ item', '- item', '= underline', '1. item', '12) item'])('escapes the block marker of %j where a line starts', (l) => {
    expect(readMarkdown(`text\n${escapeMarkdown(l)}`).headings).toEqual([]);
    expect(escapeMarkdown(l)).toMatch(/^[ \t]*(\\[#+\-=]|\d+\\[.)])/);
  });

  it('leaves no HTML, link, image or heading in any string of syntax pieces (with inert), and shows the text', () => {
    fc.assert(
      fc.property(hostile, (s) => {
        const doc = readMarkdown(escapeMarkdown(inert(s)));
        return noLive(doc) && doc.html.length === 0 && doc.headings.length === 0 && doc.text === s;
      }),
      { numRuns: 20_000 },
    );
  });

  it('is needed: the reader finds the HTML, links and headings of the unescaped text', () => {
    const doc = readMarkdown('<img src=x onerror=alert(1)> [a](https://evil.com/a)\n# H\nT\n===');
    expect([doc.html, doc.links, doc.headings, doc.active.length]).toEqual([['<img src=x onerror=alert(1)>'], ['https://evil.com/a'], ['H', 'T'], 1]);
  });
});

describe('markdownLinkTarget', () => {
  it('percent-encodes what would end a Markdown link target, and nothing else', () => {
    expect(markdownLinkTarget('https://wiki.example.com/a (b)/[c]<d> e')).toBe('https://wiki.example.com/a%20%28b%29/%5Bc%5D%3Cd%3E%20e');
    expect(markdownLinkTarget('https://qos.example.com/v1/links/eyJpIjo.abc-_')).toBe('https://qos.example.com/v1/links/eyJpIjo.abc-_');
    const r = readChatMarkdown(`[Runbook](${markdownLinkTarget('https://wiki.example.com/x) [y](https://evil.com')})`);
    expect(r.links).toEqual(['https://wiki.example.com/x%29%20%5By%5D%28https://evil.com']);
  });
});

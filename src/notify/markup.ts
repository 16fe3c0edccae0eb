/**
 * Escaping of text that qoswatch did not write — region names, dimension values, error codes and stream ids come
 * from telemetry posted with a public ingest key; rule descriptions, runbooks, notes and comments from people — for
 * each markup a page or a document is read in. Links qoswatch makes itself (signed ack/resolve links, runbooks) are
 * put in link syntax or buttons by the caller and never pass through here.
 *
 * The one mark these functions add is U+200B ZERO WIDTH SPACE: people do not see it, and no link, tag or mention
 * parser reads through it, so it disarms syntax in dialects that have no escape of their own.
 */

const ZWSP = '\u200B';

/**
 * Plain text that no linkifier or mention parser turns into something live, shown unchanged to people: chat clients
 * and mail clients link bare URLs ("https://…", "mailto:…"), host names ("evil.example.com", "www.…"), e-mail and
 * IPv4 addresses, and some turn "@all" or "@channel" into a notification. A zero-width space after a colon that
 * follows a letter (a URL scheme), between the slashes of "//", after a dot that precedes a letter (every top-level
 * domain starts with one), inside dotted IPv4 quads and after "@" leaves none of them whole. Numbers ("0.25",
 * "14:03") and prose ("ratio: 7%") are untouched.
 */
export function inert(s: string): string {
  return s
    .replace(/(?<=\p{L}):(?=\S)/gu, `:${ZWSP}`)
    .replace(/\/(?=\/)/g, `/${ZWSP}`)
    .replace(/\.(?=\p{L})/gu, `.${ZWSP}`)
    .replace(/\d{1,3}(?:\.\d{1,3}){3}/g, (ip) => ip.replace(/\./g, `.${ZWSP}`))
    .replace(/@/g, `@${ZWSP}`);
}

/** Slack mrkdwn: &, < and > are its only control characters, escaped as Slack documents (`&amp;`, `&lt;`, `&gt;`). */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * A line that starts a block: up to three spaces, then a heading, quote, list item, setext underline, thematic
 * break, fence, table row or table delimiter; or indented code.
 */
const BLOCK_START = /^(?=[ \t]{0,3}(?:#{1,6}(?:[ \t]|$)|>|[*+-](?:[ \t]|$)|\d{1,9}[.)](?:[ \t]|$)|[=-]+[ \t]*$|([-*_])(?:[ \t]*\1){2}|`{3}|~{3}|\||:-)| {4}|\t)/gm;

/**
 * The Markdown of DingTalk robots and WeCom group robots: links `[t](u)`, images `![a](u)`, HTML-like tags
 * (`<font>`, `<a>`, `<img>`, WeCom's `<@userid>`), headings, quotes and lists, and no documented escape character
 * (a backslash may be shown as it is). A zero-width space after every `[`, `]` and `<` leaves no link, image, tag,
 * autolink or mention whole, and one before a line that would start a block keeps it a line of text (the text may
 * be placed at the start of a line). Emphasis characters pass: they can only restyle the text of one line.
 */
export function escapeChatMarkdown(s: string): string {
  return s.replace(/[[\]<]/g, (c) => c + ZWSP).replace(BLOCK_START, ZWSP);
}

/**
 * CommonMark / GitHub-flavoured Markdown, as a renderer that also allows raw HTML reads it (postmortems): `&`, `<`
 * and `>` become entities (no tag, no entity of the author's), the inline control characters are escaped with a
 * backslash everywhere, and the characters that start a block (`#`, `+`, `-`, `=`, `1.`) where a line starts.
 */
export function escapeMarkdown(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[\\`*_[\]|~]/g, '\\$&')
    .replace(/^([ \t]*)(?:([#+\-=])|(\d+)([.)]))/gm, (_, indent: string, marker: string | undefined, digits: string, dot: string) =>
      marker !== undefined ? `${indent}\\${marker}` : `${indent}${digits}\\${dot}`,
    );
}

/**
 * A URL qoswatch links to (a signed link, a runbook) as the target of Markdown link syntax `[text](target)`: the
 * characters that would end the target or open another construct are percent-encoded (signed links have none).
 */
export function markdownLinkTarget(url: string): string {
  return url.replace(/[\s()<>[\]]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

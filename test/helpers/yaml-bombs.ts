/**
 * "Billion laughs": nine levels of ten aliases each expand to 10^9 strings; `tail` is the document's real content
 * (so a loader gets as far as its own fields).
 */
export function billionLaughs(tail: string): string {
  return [
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    ...'bcdefghi'.split('').map((l, i) => `${l}: &${l} [${Array(10).fill(`*${'abcdefghi'[i]}`).join(',')}]`),
    tail,
  ].join('\n');
}

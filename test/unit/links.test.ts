import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type LinkClaim, signLink, verifyLink } from '../../src/notify/links.js';

const SECRET = 'link-secret-0123456789abcdef';
const NOW = Date.UTC(2026, 10, 23, 12);
const claim: LinkClaim = { incident: 42, action: 'ack', recipient: 'anna', expires: NOW + 3_600_000 };

describe('signed ack/resolve links', () => {
  it('verifies its own token and returns the claim', () => {
    expect(verifyLink(SECRET, signLink(SECRET, claim), NOW)).toEqual({ ok: true, claim });
  });

  it('expires exactly at the expiry instant', () => {
    const token = signLink(SECRET, claim);
    expect(verifyLink(SECRET, token, claim.expires - 1).ok).toBe(true);
    expect(verifyLink(SECRET, token, claim.expires)).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuses a token signed with another secret, or with a claim edited to another incident or action', () => {
    expect(verifyLink(SECRET, signLink('another-secret-0123456789', claim), NOW)).toEqual({ ok: false, reason: 'tampered' });
    const [, sig] = signLink(SECRET, claim).split('.');
    for (const forged of [{ i: 43, a: 'ack', r: 'anna', e: claim.expires }, { i: 42, a: 'resolve', r: 'anna', e: claim.expires }, { i: 42, a: 'ack', r: 'anna', e: claim.expires + 1 }, { i: 42, a: 'ack', r: 'mallory', e: claim.expires }]) {
      const payload = Buffer.from(JSON.stringify(forged)).toString('base64url');
      expect(verifyLink(SECRET, `${payload}.${sig}`, NOW)).toEqual({ ok: false, reason: 'tampered' });
    }
  });

  it('calls garbage malformed, never throws', () => {
    for (const t of ['', 'abc', 'a.b.c', '.', 'x.', '.y']) expect(verifyLink(SECRET, t, NOW).ok).toBe(false);
    fc.assert(fc.property(fc.string(), (t) => verifyLink(SECRET, t, NOW).ok === false));
  });

  it('flipping any character of a valid token invalidates it, unless the bytes it encodes stay the same', () => {
    const token = signLink(SECRET, claim);
    // base64url has spare bits in its last character: a change there may decode to the same bytes.
    const bytes = (t: string) => t.split('.').map((part) => Buffer.from(part, 'base64url').toString('hex')).join('.');
    fc.assert(
      fc.property(fc.nat({ max: token.length - 1 }), fc.constantFrom(...'ABCxyz019-_.'), (at, ch) => {
        const t = token.slice(0, at) + ch + token.slice(at + 1);
        return verifyLink(SECRET, t, NOW).ok === (bytes(t) === bytes(token) && t.split('.').length === 2);
      }),
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type LinkClaim, signLink, verifyLink } from '../../src/notify/links.js';

const SECRET = 'link-secret-0123456789abcdef';
const NOW = Date.UTC(2026, 10, 23, 12);
const claim: LinkClaim = { incident: 42, reopened: 0, action: 'ack', recipient: 'anna', expires: NOW + 3_600_000 };

describe('signed ack/resolve links', () => {
  it('verifies its own token and returns the claim', () => {
    expect(verifyLink(SECRET, signLink(SECRET, claim), NOW)).toEqual({ ok: true, claim });
  });

  it('carries a storm, which an edit cannot add or change', () => {
    const storm: LinkClaim = { ...claim, incident: 0, storm: 3 };
    const token = signLink(SECRET, storm);
    expect(verifyLink(SECRET, token, NOW)).toEqual({ ok: true, claim: storm });
    const [, sig] = token.split('.');
    for (const forged of [{ i: 0, a: 'ack', r: 'anna', e: claim.expires, s: 4 }, { i: 42, a: 'ack', r: 'anna', e: claim.expires, s: 3 }]) {
      expect(verifyLink(SECRET, `${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${sig}`, NOW)).toEqual({ ok: false, reason: 'tampered' });
    }
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

  it('accepts the signature only in its exact encoding: nothing after it, no padding, no other spelling of its bits', () => {
    const token = signLink(SECRET, claim);
    for (const tail of ['=', '==', '!', '%', ' ', '~', '\u0000', '=garbage', '/']) {
      expect(verifyLink(SECRET, `${token}${tail}`, NOW), JSON.stringify(tail)).toEqual({ ok: false, reason: 'tampered' });
    }
    // 32 bytes are 43 base64url characters, with 2 spare bits in the last one: three other letters there decode the same.
    const sig = token.slice(token.indexOf('.') + 1);
    const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const twins = [...B64URL].filter((c) => c !== sig.at(-1) && Buffer.from(sig.slice(0, -1) + c, 'base64url').equals(Buffer.from(sig, 'base64url')));
    expect(twins).toHaveLength(3);
    for (const c of twins) expect(verifyLink(SECRET, token.slice(0, -1) + c, NOW), c).toEqual({ ok: false, reason: 'tampered' });
  });

  it('binds the link to the incident as it was when paged (its reopen count): the claim carries it', () => {
    const again = { ...claim, reopened: 2 };
    expect(verifyLink(SECRET, signLink(SECRET, again), NOW)).toEqual({ ok: true, claim: again });
    const [, sig] = signLink(SECRET, claim).split('.');
    const forged = Buffer.from(JSON.stringify({ i: 42, g: 2, a: 'ack', r: 'anna', e: claim.expires })).toString('base64url');
    expect(verifyLink(SECRET, `${forged}.${sig}`, NOW)).toEqual({ ok: false, reason: 'tampered' });
  });

  it('calls garbage malformed, never throws', () => {
    for (const t of ['', 'abc', 'a.b.c', '.', 'x.', '.y']) expect(verifyLink(SECRET, t, NOW).ok).toBe(false);
    fc.assert(fc.property(fc.string(), (t) => verifyLink(SECRET, t, NOW).ok === false));
  });

  it('changing, adding or removing any character anywhere in a valid token invalidates it', () => {
    const token = signLink(SECRET, claim);
    const accepted: string[] = [];
    for (let at = 0; at <= token.length; at++) {
      for (const ch of 'ABCQwxyz019-_.=!') {
        for (const t of [token.slice(0, at) + ch + token.slice(at + 1), token.slice(0, at) + ch + token.slice(at), token.slice(0, at) + token.slice(at + 1)]) {
          if (t !== token && verifyLink(SECRET, t, NOW).ok) accepted.push(t);
        }
      }
    }
    expect(accepted).toEqual([]);
  });
});

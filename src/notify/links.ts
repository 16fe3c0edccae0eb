import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a signed link lets its holder do, to one incident, until it expires. */
export type LinkAction = 'ack' | 'resolve';

export interface LinkClaim {
  readonly incident: number;
  /** The incident's reopen count when the link was made: a link acts only on the incident as it was paged. */
  readonly reopened: number;
  readonly action: LinkAction;
  /** Who the link was sent to (recorded as the actor). */
  readonly recipient: string;
  /** Expiry, epoch ms. */
  readonly expires: number;
  /** A storm's link (`incident` 0): acknowledges every open incident of the storm. */
  readonly storm?: number | undefined;
}

export type LinkCheck = { readonly ok: true; readonly claim: LinkClaim } | { readonly ok: false; readonly reason: 'malformed' | 'tampered' | 'expired' };

const b64 = (buf: Buffer | string) => Buffer.from(buf).toString('base64url');
const mac = (secret: string, payload: string) => createHmac('sha256', secret).update(payload).digest();

/**
 * A link token: base64url(JSON claim) "." base64url(HMAC-SHA256(server secret, that payload)). It names one incident
 * (as it was: its reopen count) and one action, so a forwarded ack link cannot resolve, nor touch another incident,
 * nor the same one after it came back; it names its recipient (the actor on the timeline) and expires.
 */
export function signLink(secret: string, claim: LinkClaim): string {
  const payload = b64(JSON.stringify({ i: claim.incident, g: claim.reopened, a: claim.action, r: claim.recipient, e: claim.expires, ...(claim.storm !== undefined && { s: claim.storm }) }));
  return `${payload}.${b64(mac(secret, payload))}`;
}

export function verifyLink(secret: string, token: string, now: number): LinkCheck {
  const [payload, sig, ...rest] = token.split('.');
  if (!payload || !sig || rest.length) return { ok: false, reason: 'malformed' };
  // The signature's exact text is compared, not the bytes it decodes to: a decoder skips padding, stray characters
  // and the spare bits of the last character, so those would let many spellings of one token through.
  const expected = Buffer.from(b64(mac(secret, payload)));
  const given = Buffer.from(sig);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'tampered' };
  let raw: { i?: unknown; g?: unknown; a?: unknown; r?: unknown; e?: unknown; s?: unknown };
  try {
    raw = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  // Links signed before the reopen count was part of them name an incident that had not reopened yet.
  const reopened = raw.g ?? 0;
  if (!Number.isSafeInteger(raw.i) || !Number.isSafeInteger(reopened) || (raw.a !== 'ack' && raw.a !== 'resolve') || typeof raw.r !== 'string' || !Number.isSafeInteger(raw.e)) return { ok: false, reason: 'malformed' };
  if (raw.s !== undefined && !Number.isSafeInteger(raw.s)) return { ok: false, reason: 'malformed' };
  const claim: LinkClaim = { incident: raw.i as number, reopened: reopened as number, action: raw.a, recipient: raw.r, expires: raw.e as number, ...(raw.s !== undefined && { storm: raw.s as number }) };
  return now >= claim.expires ? { ok: false, reason: 'expired' } : { ok: true, claim };
}

import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a signed link lets its holder do, to one incident, until it expires. */
export type LinkAction = 'ack' | 'resolve';

export interface LinkClaim {
  readonly incident: number;
  readonly action: LinkAction;
  /** Who the link was sent to (recorded as the actor). */
  readonly recipient: string;
  /** Expiry, epoch ms. */
  readonly expires: number;
}

export type LinkCheck = { readonly ok: true; readonly claim: LinkClaim } | { readonly ok: false; readonly reason: 'malformed' | 'tampered' | 'expired' };

const b64 = (buf: Buffer | string) => Buffer.from(buf).toString('base64url');
const mac = (secret: string, payload: string) => createHmac('sha256', secret).update(payload).digest();

/**
 * A link token: base64url(JSON claim) "." base64url(HMAC-SHA256(server secret, that payload)). It names one incident
 * and one action, so a forwarded ack link cannot resolve, nor touch another incident; it names its recipient (the
 * actor on the timeline) and expires.
 */
export function signLink(secret: string, claim: LinkClaim): string {
  const payload = b64(JSON.stringify({ i: claim.incident, a: claim.action, r: claim.recipient, e: claim.expires }));
  return `${payload}.${b64(mac(secret, payload))}`;
}

export function verifyLink(secret: string, token: string, now: number): LinkCheck {
  const [payload, sig, ...rest] = token.split('.');
  if (!payload || !sig || rest.length) return { ok: false, reason: 'malformed' };
  const expected = mac(secret, payload);
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'tampered' };
  let raw: { i?: unknown; a?: unknown; r?: unknown; e?: unknown };
  try {
    raw = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (!Number.isSafeInteger(raw.i) || (raw.a !== 'ack' && raw.a !== 'resolve') || typeof raw.r !== 'string' || !Number.isSafeInteger(raw.e)) return { ok: false, reason: 'malformed' };
  const claim: LinkClaim = { incident: raw.i as number, action: raw.a, recipient: raw.r, expires: raw.e as number };
  return now >= claim.expires ? { ok: false, reason: 'expired' } : { ok: true, claim };
}

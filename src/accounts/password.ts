import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Password hashing with scrypt (memory-hard, in node:crypto: no native dependency to build). N = 2^15, r = 8 takes
 * 32 MiB and ~150 ms per hash on a 2-core VM (on libuv's pool, off the event loop), OWASP's minimum for scrypt at
 * the time of writing; the parameters are stored with each hash, so raising them later keeps old hashes verifiable.
 */
const N = 2 ** 15;
const R = 8;
const P = 1;
const KEY_LEN = 32;
const MAX_MEM = 64 * 1024 * 1024;

function derive(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, KEY_LEN, { N: n, r, p, maxmem: MAX_MEM }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** `scrypt$N$r$p$salt$hash` (base64url). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, N, R, P);
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** A hash of a random password: signing in as an unknown user costs what a wrong password costs. */
let decoy: Promise<string> | undefined;

/** Whether `password` matches `encoded`; with no hash (unknown user, or no password set) it spends the same time and fails. */
export async function verifyPassword(password: string, encoded: string | undefined): Promise<boolean> {
  const parts = (encoded ?? (await (decoy ??= hashPassword(randomBytes(16).toString('hex'))))).split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [n, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const expected = Buffer.from(parts[5]!, 'base64url');
  const key = await derive(password, Buffer.from(parts[4]!, 'base64url'), n, r, p);
  return encoded !== undefined && key.length === expected.length && timingSafeEqual(key, expected);
}

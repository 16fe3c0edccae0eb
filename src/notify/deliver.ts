import type { ChatProvider, PageMessage, Verdict } from './channel.js';

/** Replaces every occurrence of each secret (longest first, so a URL goes before the token inside it) with [redacted]. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of [...secrets].filter((x) => x.length >= 4).sort((a, b) => b.length - a.length)) out = out.split(s).join('[redacted]');
  return out;
}

/** A webhook URL's token may be echoed on its own (a query value or a long path segment): redact those too. */
function withUrlParts(secret: string): string[] {
  if (!/^https?:\/\//.test(secret)) return [secret];
  try {
    const u = new URL(secret);
    return [secret, ...[...u.searchParams.values()].filter((v) => v.length >= 8), ...u.pathname.split('/').filter((p) => p.length >= 16)];
  } catch {
    return [secret];
  }
}

/**
 * Sends one page through a chat provider and returns the provider's verdict. Network errors and timeouts are
 * retryable; every reason is scrubbed of the endpoint's secrets (webhook URLs carry tokens) before it is returned,
 * logged or put on a timeline.
 */
export async function deliver<C>(provider: ChatProvider<C>, config: C, page: PageMessage, now: number, timeoutMs: number): Promise<Verdict> {
  const secrets = provider.secrets(config).flatMap(withUrlParts);
  let verdict: Verdict;
  try {
    const req = provider.request(config, page, now);
    const res = await fetch(req.url, { method: 'POST', headers: req.headers, body: req.body, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
    verdict = provider.check(res.status, await res.text());
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    verdict = { ok: false, retryable: true, reason: `request failed: ${why}` };
  }
  return verdict.ok ? verdict : { ...verdict, reason: redact(verdict.reason, secrets) };
}

/** What a masked credential reads as in the log. */
export const REDACTED = '[redacted]';

/**
 * Query parameter names that carry credentials, compared once decoded and lower-cased: `key` (ingest keys),
 * `token`, `code` (an OpenID Connect authorization code), and the usual spellings of keys, tokens, secrets and
 * passwords (`api_key`, `access-token`, …).
 */
const SECRET_PARAM = /^(?:key|token|secret|password|passwd|pwd|signature|sig|auth|authorization|apikey|code|.*[-_ ](?:key|token|secret|password))$/;

/** Path segments followed by a credential: `/v1/links/<signed token>`. */
const SECRET_AFTER = new Set(['links']);

/** Percent-decoding byte by byte, as far as it goes: a malformed escape is kept as written rather than failing. */
const decode = (text: string) => text.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));

/**
 * A URL for the log with its credentials masked: the userinfo of an absolute URL, the value of every credential
 * query parameter (names decoded first — `?%6Bey=` is read as `key` by the router — in any case, `+` as a space,
 * each repetition), and path segments that are credentials. Every log line that shows a URL goes through this.
 */
export function redactUrl(url: string): string {
  const hash = url.indexOf('#');
  const fragment = hash < 0 ? '' : url.slice(hash);
  const rest = hash < 0 ? url : url.slice(0, hash);
  const q = rest.indexOf('?');
  const path = q < 0 ? rest : rest.slice(0, q);
  return redactPath(path) + (q < 0 ? '' : `?${redactQuery(rest.slice(q + 1))}`) + fragment;
}

function redactPath(path: string): string {
  const origin = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(path)?.[0] ?? '';
  const at = origin.lastIndexOf('@');
  const host = at < 0 ? origin : `${origin.slice(0, origin.indexOf('//') + 2)}${REDACTED}${origin.slice(at)}`;
  let after = false;
  const segments = path.slice(origin.length).split('/').map((segment) => {
    // A decoded segment may hold slashes (%2F): read its parts in order, as a router decoding it would.
    const parts = decode(segment).split(/[/\\]/).map((p) => p.toLowerCase());
    let secret = false;
    for (const part of parts) {
      if (after && part) secret = true;
      after = SECRET_AFTER.has(part) || (after && !part);
    }
    return secret ? REDACTED : segment;
  });
  return host + segments.join('/');
}

function redactQuery(query: string): string {
  return query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair;
      const name = decode(pair.slice(0, eq).replaceAll('+', ' ')).trim().toLowerCase().replace(/\[.*$/, '');
      return SECRET_PARAM.test(name) ? `${pair.slice(0, eq)}=${REDACTED}` : pair;
    })
    .join('&');
}

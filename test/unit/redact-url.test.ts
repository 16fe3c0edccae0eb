import { describe, expect, it } from 'vitest';
import { redactUrl } from '../../src/util/redact-url.js';

describe('redactUrl', () => {
  it.each([
    ['/v1/telemetry?key=qw_secret', '/v1/telemetry?key=[redacted]'],
    ['/v1/telemetry/ws?a=1&key=qw_secret&b=2', '/v1/telemetry/ws?a=1&key=[redacted]&b=2'],
    ['/v1/x?token=abc&api_key=def&Password=ghi#frag', '/v1/x?token=[redacted]&api_key=[redacted]&Password=[redacted]#frag'],
    ['/v1/x?monkey=banana&keyboard=1', '/v1/x?monkey=banana&keyboard=1'],
    ['/healthz', '/healthz'],
    // An OpenID Connect callback: the authorization code.
    ['/v1/auth/oidc/callback?code=abc123&state=s&iss=x', '/v1/auth/oidc/callback?code=[redacted]&state=s&iss=x'],
    // Names are decoded before they are compared, as the router decodes them.
    ['/v1/telemetry?%6Bey=s1&%6bEY=s2', '/v1/telemetry?%6Bey=[redacted]&%6bEY=[redacted]'],
    ['/v1/x?key=a&key=b&KEY=c', '/v1/x?key=[redacted]&key=[redacted]&KEY=[redacted]'],
    ['/v1/x?access%5Ftoken=s&refresh-token=s&x_api_key=s&api+key=s&key[]=s', '/v1/x?access%5Ftoken=[redacted]&refresh-token=[redacted]&x_api_key=[redacted]&api+key=[redacted]&key[]=[redacted]'],
    ['/v1/x?key%ZZ=s&key', '/v1/x?key%ZZ=s&key'],
    // Credentials in the path: signed links, however the path is spelled.
    ['/v1/links/eyJpIjoxfQ.c2ln', '/v1/links/[redacted]'],
    ['/v1/links/eyJpIjoxfQ.c2ln?x=1&key=k', '/v1/links/[redacted]?x=1&key=[redacted]'],
    ['/v1/%6Cinks/tok', '/v1/%6Cinks/[redacted]'],
    ['/v1/LINKS//tok/more', '/v1/LINKS//[redacted]/more'],
    ['/v1%2Flinks%2Ftok', '/[redacted]'],
    ['/v1/links', '/v1/links'],
    // Absolute URLs (configured endpoints): the userinfo.
    ['http://user:pw@influx:8086/write?db=q&p=x&password=pw', 'http://[redacted]@influx:8086/write?db=q&p=x&password=[redacted]'],
    ['https://influx.example.com:8086 org=o bucket=b', 'https://influx.example.com:8086 org=o bucket=b'],
  ])('%s → %s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });
});

import { describe, expect, it } from 'vitest';
import { redactUrl } from '../../src/tenants/auth.js';

describe('redactUrl', () => {
  it.each([
    ['/v1/telemetry?key=qw_secret', '/v1/telemetry?key=[redacted]'],
    ['/v1/telemetry/ws?a=1&key=qw_secret&b=2', '/v1/telemetry/ws?a=1&key=[redacted]&b=2'],
    ['/v1/x?token=abc&api_key=def&Password=ghi#frag', '/v1/x?token=[redacted]&api_key=[redacted]&Password=[redacted]#frag'],
    ['/v1/x?monkey=banana', '/v1/x?monkey=banana'],
    ['/healthz', '/healthz'],
  ])('%s → %s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });
});

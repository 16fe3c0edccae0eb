import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { Reader } from 'maxmind';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/config/env.js';
import { TrustedProxies, clientAddress, parseProxyNet } from '../../src/geoip/client-address.js';
import { GeoIp } from '../../src/geoip/geoip.js';
import { countryOf, decodeDerived, encodeDerived, fillDerived, ispOf, tagValue } from '../../src/geoip/records.js';
import { isValidSample } from '../../src/telemetry/sample-schema.js';
import { NET, asnEntries, countryEntries, writeDb } from '../helpers/geoip.js';
import { waitFor } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';

let opened: GeoIp[] = [];
afterEach(() => {
  for (const g of opened) g.close();
  opened = [];
});

/** Opens the databases with a logger whose lines are kept. */
async function open(asn: string[], country: string[], pollMs = 60_000) {
  const logs: { level: number; msg: string; [k: string]: unknown }[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void logs.push(JSON.parse(l)) }) as unknown as FastifyBaseLogger;
  const g = await GeoIp.open({ asn, country, log, pollMs });
  opened.push(g);
  return { g, logs, warnings: () => logs.filter((l) => l.level === 40) };
}

const proxies = (...nets: string[]) => new TrustedProxies(nets.map((n) => parseProxyNet(n)!));

describe('client address', () => {
  it('is the socket peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    expect(clientAddress('203.0.113.5', '192.0.2.10', proxies())).toBe('203.0.113.5');
    expect(clientAddress('::ffff:203.0.113.5', undefined, proxies())).toBe('203.0.113.5');
  });

  it('is the socket peer when the peer is not a trusted proxy', () => {
    expect(clientAddress('203.0.113.5', '192.0.2.10', proxies('10.0.0.0/8'))).toBe('203.0.113.5');
  });

  it('from a trusted proxy, is the rightmost address that is not a trusted proxy (hops a client wrote are ignored)', () => {
    const trust = proxies('10.0.0.0/8', '2001:db8:ffff::/48');
    // client forged "1.1.1.1"; the edge proxy appended the real peer; an inner proxy appended the edge.
    expect(clientAddress('10.0.0.2', '1.1.1.1, 192.0.2.10, 10.0.0.1', trust)).toBe('192.0.2.10');
    expect(clientAddress('::ffff:10.0.0.2', ['1.1.1.1', '2001:db8:a::10'], trust)).toBe('2001:db8:a::10');
    expect(clientAddress('2001:db8:ffff::1', '198.51.100.20', trust)).toBe('198.51.100.20');
    // only trusted proxies in the chain: the leftmost
    expect(clientAddress('10.0.0.2', '10.0.0.9', trust)).toBe('10.0.0.9');
    // a trusted proxy without the header: its own address
    expect(clientAddress('10.0.0.2', undefined, trust)).toBe('10.0.0.2');
  });

  it('is unknown when the hop a trusted proxy names is not an address', () => {
    expect(clientAddress('10.0.0.2', '192.0.2.10, not-an-ip', proxies('10.0.0.0/8'))).toBeUndefined();
    expect(clientAddress('10.0.0.2', '', proxies('10.0.0.0/8'))).toBeUndefined();
  });

  it('QOSWATCH_TRUSTED_PROXIES takes addresses and CIDRs and refuses anything else, naming the entry', () => {
    expect(loadEnv({ QOSWATCH_TRUSTED_PROXIES: '10.0.0.0/8, 192.0.2.7 ,2001:db8::/32' }).QOSWATCH_TRUSTED_PROXIES).toEqual([
      { address: '10.0.0.0', prefix: 8, family: 4 },
      { address: '192.0.2.7', prefix: 32, family: 4 },
      { address: '2001:db8::', prefix: 32, family: 6 },
    ]);
    expect(loadEnv({}).QOSWATCH_TRUSTED_PROXIES).toEqual([]);
    for (const bad of ['10.0.0.0/33', 'proxy.local', '10.0.0.0/8/1', '::/129', '10.0.0.0/-1']) {
      expect(() => loadEnv({ QOSWATCH_TRUSTED_PROXIES: `10.0.0.1,${bad}` }), bad).toThrow(/QOSWATCH_TRUSTED_PROXIES[^\n]*is not an IP address or CIDR/);
    }
  });
});

describe('records to dimensions', () => {
  it('reads the ISP of GeoLite2-ASN / ip-location-db ASN records and the country of GeoLite2 and ip-location-db country records', () => {
    expect(ispOf({ autonomous_system_number: 64501, autonomous_system_organization: 'Example Telecom GmbH' })).toBe('Example Telecom GmbH');
    expect(ispOf({ autonomous_system_number: 64501 })).toBe('AS64501');
    expect(ispOf(undefined)).toBeUndefined();
    expect(countryOf({ country: { iso_code: 'DE' }, registered_country: { iso_code: 'AT' } })).toBe('DE');
    expect(countryOf({ registered_country: { iso_code: 'AT' } })).toBe('AT');
    expect(countryOf({ country_code: 'JP' })).toBe('JP');
    expect(countryOf({ city: 'x' })).toBeUndefined();
  });

  it('sanitises database strings to the tag-text rules, so a derived value is one a sample could carry', () => {
    const hostile = `Evil\\Net\x00\n\tInc ${'x'.repeat(100)}\ud800`;
    const v = tagValue(hostile)!;
    expect(v.startsWith('Evil Net Inc xxx')).toBe(true);
    expect(Array.from(v)).toHaveLength(64);
    expect(isValidSample({ ts: 1, region: 'eu', latency_ms: 1, dims: { isp: v } })).toBe(true);
    expect(tagValue('🙂'.repeat(70))).toBe('🙂'.repeat(64));
    expect(tagValue(' \x01 ')).toBeUndefined();
    expect(tagValue(5)).toBeUndefined();
  });

  it('fills only the dimensions a sample lacks, and none of a node reporter', () => {
    const viewer = { sample: { dims: { country: 'FR' } as Record<string, string> } };
    const bare = { sample: {} as { dims?: Record<string, string> } };
    const node = { sample: { node: 'edge-1' } as { node: string; dims?: Record<string, string> } };
    fillDerived([viewer, bare, node], { isp: 'Example Telecom GmbH', country: 'DE' });
    expect(viewer.sample.dims).toEqual({ country: 'FR', isp: 'Example Telecom GmbH' });
    expect(bare.sample.dims).toEqual({ isp: 'Example Telecom GmbH', country: 'DE' });
    expect(node.sample.dims).toBeUndefined();
  });

  it('never changes a dims object in place (a collector building samples may share one between them)', () => {
    const shared = { platform: 'web', isp: undefined } as Record<string, string | undefined>;
    const a = { sample: { dims: shared } };
    const b = { sample: { dims: shared } };
    fillDerived([a, b], { isp: 'X', country: 'DE' });
    expect(shared).toEqual({ platform: 'web', isp: undefined });
    expect(a.sample.dims).toEqual({ isp: 'X', country: 'DE', platform: 'web' });
    expect(b.sample.dims).not.toBe(a.sample.dims);
  });

  it('journals derived dims as JSON and refuses to replay anything else', () => {
    expect(decodeDerived(encodeDerived({ isp: 'a', country: 'DE' }))).toEqual({ isp: 'a', country: 'DE' });
    expect(encodeDerived({})).toBeUndefined();
    expect(decodeDerived(null)).toBeUndefined();
    for (const bad of ['[', '5', '{"cdn":"x"}', '{"isp":7}', '{"isp":"a\\\\b"}']) expect(() => decodeDerived(bad), bad).toThrow();
  });
});

describe('GeoIp over MMDB files built by the test', () => {
  it.each([24, 28, 32] as const)('looks up IPv4 and IPv6 clients (record size %i; GeoLite2 and ip-location-db layouts)', async (recordSize) => {
    const asn = writeDb({ recordSize, entries: asnEntries(), databaseType: 'GeoLite2-ASN' });
    const geolite = writeDb({ recordSize, entries: countryEntries('geolite2'), databaseType: 'GeoLite2-Country' });
    const ipLocation = writeDb({ recordSize, entries: countryEntries('ip-location-db') });
    for (const country of [geolite, ipLocation]) {
      const { g, warnings } = await open([asn], [country]);
      expect(g.lookup(NET.a.ip4)).toEqual({ isp: NET.a.isp, country: 'DE' });
      expect(g.lookup(NET.b.ip6)).toEqual({ isp: NET.b.isp, country: 'JP' });
      expect(g.lookup('203.0.113.1')).toBeUndefined();
      expect(warnings()).toEqual([]);
    }
  });

  it('tries each listed file in turn (ip-location-db ships IPv4 and IPv6 files apart); an IPv4-only file never answers an IPv6 address', async () => {
    // 32.0.0.0/8 is where the first 32 bits of 2001:db8:… (32.1.13.184) fall.
    const v4 = writeDb({ ipVersion: 4, entries: [...countryEntries('ip-location-db').filter((e) => !e.network.includes(':')), { network: '32.0.0.0/8', data: { country_code: 'US' } }] });
    const v6 = writeDb({ entries: countryEntries('ip-location-db').filter((e) => e.network.includes(':')) });
    const { g } = await open([], [v4, v6]);
    expect(g.lookup(NET.a.ip4)).toEqual({ country: 'DE' });
    expect(g.lookup(NET.b.ip6)).toEqual({ country: 'JP' });
    // no answer rather than a wrong one
    const only4 = (await open([], [v4])).g;
    expect(only4.lookup(NET.b.ip6)).toBeUndefined();
  });

  it('a missing or unreadable database: no enrichment, one warning (without client addresses), and the rest works', async () => {
    const dir = tempDir('qoswatch-geoip-bad');
    const garbage = join(dir, 'garbage.mmdb');
    writeFileSync(garbage, 'not a database');
    const country = writeDb({ entries: countryEntries('geolite2') });
    const { g, warnings } = await open([join(dir, 'missing.mmdb'), garbage], [country]);
    for (let i = 0; i < 20; i++) expect(g.lookup(NET.a.ip4)).toEqual({ country: 'DE' });
    expect(warnings().map((w) => [w.db, w.path])).toEqual([['asn', join(dir, 'missing.mmdb')], ['asn', garbage]]);
    expect(JSON.stringify(warnings())).not.toContain(NET.a.ip4);
  });

  it('a database corrupt past its metadata: lookups that fail are misses, warned once, never errors', async () => {
    const path = writeDb({ ipVersion: 4, entries: asnEntries().filter((e) => !e.network.includes(':')) });
    const bytes = readFileSync(path);
    const nodes = new Reader(bytes).metadata.nodeCount;
    // the first data record (192.0.2.0/24's: the writer goes breadth first) becomes a pointer far outside the file
    bytes.set([0x3f, 0xff, 0xff, 0xff, 0xff], nodes * 6 + 16);
    writeFileSync(path, bytes);
    const { g, warnings } = await open([path], []);
    expect(g.lookup(NET.a.ip4)).toBeUndefined();
    expect(g.lookup(NET.a.ip4)).toBeUndefined();
    expect(g.lookup(NET.b.ip4)).toEqual({ isp: NET.b.isp });
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]!.msg).toContain('corrupt');
    expect(JSON.stringify(warnings())).not.toContain(NET.a.ip4);
  });

  it('reads a database again when its file is replaced; a broken update keeps the last good one (warned once)', async () => {
    const path = writeDb({ entries: asnEntries() });
    const { g, warnings } = await open([path], [], 100);
    expect(g.lookup(NET.a.ip4)).toEqual({ isp: NET.a.isp });
    writeDb({ entries: asnEntries((n) => `${n.isp} (renamed)`) }, path);
    await waitFor('the updated database', () => (g.lookup(NET.a.ip4)?.isp === `${NET.a.isp} (renamed)` ? true : undefined));
    writeFileSync(path, 'truncated');
    await waitFor('the warning', () => (warnings().length ? true : undefined));
    expect(g.lookup(NET.a.ip4)).toEqual({ isp: `${NET.a.isp} (renamed)` });
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]!.msg).toContain('the database loaded before stays in use');
  });

  it('a database that appears after the start is picked up', async () => {
    const path = join(tempDir('qoswatch-geoip-later'), 'asn.mmdb');
    const { g, warnings } = await open([path], [], 100);
    expect(g.lookup(NET.a.ip4)).toBeUndefined();
    expect(warnings()).toHaveLength(1);
    writeDb({ entries: asnEntries() }, path);
    await waitFor('the new database', () => g.lookup(NET.a.ip4));
  });
});

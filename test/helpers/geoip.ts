import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type MmdbEntry, type MmdbSpec, writeMmdb } from './mmdb-writer.js';
import { tempDir } from './tmp.js';

/** Networks of the test databases (documentation ranges: RFC 5737, RFC 3849). */
export const NET = {
  /** An ISP in Germany. */
  a: { v4: '192.0.2.0/24', v6: '2001:db8:a::/48', ip4: '192.0.2.10', ip6: '2001:db8:a::10', isp: 'Example Telecom GmbH', asn: 64501, country: 'DE' },
  /** An ISP in Japan. */
  b: { v4: '198.51.100.0/24', v6: '2001:db8:b::/48', ip4: '198.51.100.20', ip6: '2001:db8:b::20', isp: 'Beispiel Broadband KK', asn: 64502, country: 'JP' },
} as const;

type Layout = 'geolite2' | 'ip-location-db';

/** ASN records as GeoLite2-ASN and ip-location-db's ASN files hold them (the same two fields). */
export function asnEntries(isp = (n: typeof NET.a | typeof NET.b) => n.isp as string): MmdbEntry[] {
  return [NET.a, NET.b].flatMap((n) => [n.v4, n.v6].map((network) => ({ network, data: { autonomous_system_number: n.asn, autonomous_system_organization: isp(n) } })));
}

/** Country records: GeoLite2-Country's nested layout or ip-location-db's `country_code`. */
export function countryEntries(layout: Layout): MmdbEntry[] {
  const record = (country: string): MmdbEntry['data'] =>
    layout === 'geolite2' ? { continent: { code: 'EU' }, country: { iso_code: country, names: { en: country } }, registered_country: { iso_code: country } } : { country_code: country };
  return [NET.a, NET.b].flatMap((n) => [n.v4, n.v6].map((network) => ({ network, data: record(n.country) })));
}

/** Writes a database into a fresh temp dir (or `path`), atomically (rename), as an updater should. */
export function writeDb(spec: Partial<MmdbSpec> & Pick<MmdbSpec, 'entries'>, path = join(tempDir('qoswatch-geoip'), 'db.mmdb')): string {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, writeMmdb({ ipVersion: 6, recordSize: 24, databaseType: 'qoswatch-test', ...spec }));
  renameSync(tmp, path);
  return path;
}

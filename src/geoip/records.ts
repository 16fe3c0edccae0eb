/**
 * The dimensions derived from a client's address, and how they are read from the record shapes of the databases
 * we support. Pure.
 */
export const DERIVED_DIMS = ['isp', 'country'] as const;
export type DerivedDim = (typeof DERIVED_DIMS)[number];
export type DerivedDims = Partial<Record<DerivedDim, string>>;

/** The longest dimension value (sample-schema.ts, tagText(64)), in code points. */
const MAX_VALUE = 64;

/**
 * A database string as a dimension value under the sample's tag-text rules: control characters and backslashes
 * become spaces, lone surrogates U+FFFD, runs of spaces one, at most 64 code points. Undefined when nothing is left.
 */
export function tagValue(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const cleaned = v.toWellFormed().replace(/[\x00-\x1f\x7f\\\s]+/g, ' ').trim();
  // Counting code points costs an array: only a string longer than the limit in UTF-16 units can exceed it.
  const cut = cleaned.length <= MAX_VALUE ? cleaned : Array.from(cleaned).slice(0, MAX_VALUE).join('').trimEnd();
  return cut || undefined;
}

const field = (o: unknown, key: string): unknown => (typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[key] : undefined);

/**
 * The ISP of an ASN record: GeoLite2-ASN and ip-location-db's ASN files both hold `autonomous_system_organization`
 * and `autonomous_system_number`; a record with only the number is named "AS<number>".
 */
export function ispOf(record: unknown): string | undefined {
  const org = tagValue(field(record, 'autonomous_system_organization'));
  if (org) return org;
  const asn = field(record, 'autonomous_system_number');
  return typeof asn === 'number' && Number.isSafeInteger(asn) && asn > 0 ? `AS${asn}` : undefined;
}

/**
 * The country (ISO 3166-1 alpha-2) of a country record: GeoLite2-Country/City hold `country.iso_code` (else the
 * `registered_country` of the network); ip-location-db's country files hold `country_code`.
 */
export function countryOf(record: unknown): string | undefined {
  return tagValue(field(field(record, 'country'), 'iso_code')) ?? tagValue(field(field(record, 'registered_country'), 'iso_code')) ?? tagValue(field(record, 'country_code'));
}

/**
 * Gives each sample the derived dimensions it does not carry itself. A sample's own value wins (a reporter may set
 * it deliberately), and node reporters get none: their address is a server's, not a viewer's.
 */
export function fillDerived(samples: Iterable<{ sample: { node?: string; dims?: Partial<Record<string, string>> } }>, derived: DerivedDims | undefined): void {
  if (!derived) return;
  for (const { sample } of samples) {
    if (sample.node !== undefined) continue;
    // A new object: a collector that builds samples (CMCD) may share one dims object between them, or keep it.
    const dims: Partial<Record<string, string>> = { ...derived };
    for (const k in sample.dims) if (sample.dims[k] !== undefined) dims[k] = sample.dims[k];
    sample.dims = dims;
  }
}

/** Derived dims as journaled (JSON); undefined when there are none. */
export function encodeDerived(d: DerivedDims | undefined): string | undefined {
  return d && (d.isp !== undefined || d.country !== undefined) ? JSON.stringify(d) : undefined;
}

/** Journaled derived dims read back; throws on anything the journal could not have held (the row is quarantined). */
export function decodeDerived(text: string | null | undefined): DerivedDims | undefined {
  if (text == null) return undefined;
  const o = JSON.parse(text) as unknown;
  const out: DerivedDims = {};
  if (typeof o !== 'object' || o === null) throw new Error('journaled dims are not an object');
  for (const [k, v] of Object.entries(o)) {
    if (!(DERIVED_DIMS as readonly string[]).includes(k) || typeof v !== 'string' || tagValue(v) !== v) throw new Error(`journaled dim ${k.slice(0, 20)} is not a derived dimension value`);
    out[k as DerivedDim] = v;
  }
  return out;
}

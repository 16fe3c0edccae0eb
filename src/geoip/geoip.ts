import { type Stats, unwatchFile, watchFile } from 'node:fs';
import { isIPv6 } from 'node:net';
import type { FastifyBaseLogger as Logger } from 'fastify';
import maxmind, { type Reader, type Response } from 'maxmind';
import { type DerivedDims, countryOf, ispOf } from './records.js';

export type DbKind = 'asn' | 'country';

/** Addresses whose records stay decoded (maxmind's LRU): viewers of a stream come from few networks. */
const CACHE_ENTRIES = 10_000;

/**
 * One MMDB file, read with the maxmind reader and read again when it changes (polled with fs.watchFile: cheap,
 * and it sees a file replaced by rename). maxmind's own watchForUpdates is not used: it reloads in place, so a
 * half-written update would throw from a timer (ending the process) or leave a broken reader. Here a new file
 * replaces the reader only once it has opened whole; until then the last good one serves. A file missing or
 * unreadable is warned about once (again only after it has been good in between), and the service runs without it.
 */
class MmdbFile {
  private reader: Reader<Response> | undefined;
  private warned = false;
  private loading: Promise<void> | undefined;
  private again = false;
  private readonly listener = (curr: Stats, prev: Stats) => {
    if (curr.mtimeMs !== prev.mtimeMs || curr.size !== prev.size || curr.ino !== prev.ino) void this.load();
  };

  constructor(
    readonly kind: DbKind,
    readonly path: string,
    private readonly log: Logger,
  ) {}

  /** Reads the file; resolves once read (or failed: never rejects). A change during a read reads again after it. */
  load(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = (async () => {
      do {
        this.again = false;
        try {
          const reader = await maxmind.open<Response>(this.path, { cache: { max: CACHE_ENTRIES } });
          this.reader = reader;
          this.warned = false;
          this.log.info({ db: this.kind, path: this.path, type: reader.metadata.databaseType, built: new Date(Number(reader.metadata.buildEpoch) * 1000).toISOString() }, 'GeoIP database loaded');
        } catch (err) {
          if (!this.warned) {
            this.warned = true;
            const keeping = this.reader ? 'the database loaded before stays in use' : `no ${this.kind === 'asn' ? 'isp' : 'country'} enrichment until it can be read`;
            this.log.warn({ db: this.kind, path: this.path, err: (err as Error).message }, `cannot read the GeoIP database; ${keeping}`);
          }
        }
      } while (this.again);
      this.loading = undefined;
    })();
    return this.loading;
  }

  watch(intervalMs: number): void {
    // Not persistent: the watcher must not keep a stopping process alive.
    watchFile(this.path, { interval: intervalMs, persistent: false }, this.listener);
  }

  close(): void {
    unwatchFile(this.path, this.listener);
  }

  /**
   * The record for `ip`, if the database holds one. A file whose metadata reads well can still hold a corrupt tree
   * or data section, and its reader then throws on lookup: that is a miss (warned once per file loaded), never a
   * refused batch.
   */
  get(ip: string): Response | undefined {
    const r = this.reader;
    // An IPv4-only tree would match an IPv6 address by its first 32 bits: a wrong answer, not a miss.
    if (!r || (r.metadata.ipVersion === 4 && isIPv6(ip))) return undefined;
    try {
      return r.get(ip) ?? undefined;
    } catch (err) {
      if (!this.warned) {
        this.warned = true;
        this.log.warn({ db: this.kind, path: this.path, err: (err as Error).message }, 'a lookup in the GeoIP database failed: the file is corrupt; its failed lookups enrich nothing until it is replaced');
      }
      return undefined;
    }
  }
}

export interface GeoIpOptions {
  /** Files read for `isp` (GeoLite2-ASN or ip-location-db ASN layouts), tried in order. */
  asn: readonly string[];
  /** Files read for `country` (GeoLite2-Country/City or ip-location-db country layouts), tried in order. */
  country: readonly string[];
  log: Logger;
  /** How often the files are checked for updates. */
  pollMs: number;
}

/** `isp` and `country` of a client address, from the configured MMDB files. */
export class GeoIp {
  private readonly asn: MmdbFile[];
  private readonly country: MmdbFile[];

  private constructor(o: GeoIpOptions) {
    this.asn = o.asn.map((p) => new MmdbFile('asn', p, o.log));
    this.country = o.country.map((p) => new MmdbFile('country', p, o.log));
  }

  /** Opens every configured file (a missing one is warned about, not fatal) and watches them for updates. */
  static async open(o: GeoIpOptions): Promise<GeoIp> {
    const g = new GeoIp(o);
    const files = [...g.asn, ...g.country];
    // Watched before the first read: the watcher's first stat then comes first, so no change after the read is missed.
    for (const f of files) f.watch(o.pollMs);
    await Promise.all(files.map((f) => f.load()));
    return g;
  }

  get enabled(): boolean {
    return this.asn.length + this.country.length > 0;
  }

  /** The derived dimensions of a client address (already a valid IP address); undefined when nothing is known. */
  lookup(ip: string): DerivedDims | undefined {
    const isp = first(this.asn, ip, ispOf);
    const country = first(this.country, ip, countryOf);
    if (isp === undefined && country === undefined) return undefined;
    const out: DerivedDims = {};
    if (isp !== undefined) out.isp = isp;
    if (country !== undefined) out.country = country;
    return out;
  }

  close(): void {
    for (const f of [...this.asn, ...this.country]) f.close();
  }
}

function first(files: readonly MmdbFile[], ip: string, read: (record: unknown) => string | undefined): string | undefined {
  for (const f of files) {
    const v = read(f.get(ip));
    if (v !== undefined) return v;
  }
  return undefined;
}
